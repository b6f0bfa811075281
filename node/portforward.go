package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/api/relay"
	"github.com/gantry-sh/gantry/events"
)

// portDialTimeout bounds the connection to a pod's port.
const portDialTimeout = 5 * time.Second

// PortDialer is what a Runtime may implement to connect to a pod's port
// itself; without it the agent dials the pod's IP. Tests stand a local server
// in for the pod through it.
type PortDialer interface {
	DialPort(ctx context.Context, pod PodState, port int32) (net.Conn, error)
}

// servePortForward answers port-forward requests (gantry port-forward), one
// relayed connection each, until stop (or ctx's end), which ends the
// connections and waits for them.
func (a *Agent) servePortForward(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex // a request being taken, or stopped
		stopped bool
	)
	sub, err := a.conn.NC.Subscribe(events.NodeRPCSubject(a.cfg.Name, "portforward"), func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if m.Reply == "" || stopped {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.portForward(ctx, m)
		}()
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node %s serve port-forward: %w", a.cfg.Name, err)
	}
	return func() {
		_ = sub.Unsubscribe()
		mu.Lock()
		stopped = true
		mu.Unlock()
		cancel()
		wg.Wait()
	}, nil
}

// portForward connects to the pod's port, tells the client where to send
// its side, and relays until the connection ends.
func (a *Agent) portForward(ctx context.Context, m *nats.Msg) {
	var req api.PortForwardRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		a.endLogs(m.Reply, fmt.Errorf("port-forward request: %w", err))
		return
	}
	conn, err := a.dialPod(ctx, req)
	if err != nil {
		a.endLogs(m.Reply, err)
		return
	}
	// A random id: a client of a previous run of the agent cannot reach
	// this connection by its subject.
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	in := events.NodeRPCSubject(a.cfg.Name, "pf."+hex.EncodeToString(id))
	sub, err := a.conn.NC.SubscribeSync(in)
	if err != nil {
		_ = conn.Close()
		a.endLogs(m.Reply, fmt.Errorf("port-forward: %w", err))
		return
	}
	// Data is bounded by the window; control messages by their pace.
	_ = sub.SetPendingLimits(-1, 2*api.PortForwardWindow)
	open := nats.NewMsg(m.Reply)
	open.Header.Set(api.HeaderPFOp, api.PFOpen)
	open.Header.Set(api.HeaderPFSubject, in)
	open.Header.Set(api.HeaderPFCredit, strconv.Itoa(api.PortForwardWindow))
	if err := a.conn.NC.PublishMsg(open); err != nil {
		_ = conn.Close()
		_ = sub.Unsubscribe()
		return
	}
	log := a.log.With().Str("pod", key(req.Namespace, req.Pod)).Int32("port", req.Port).Logger()
	log.Debug().Msg("port-forward: connection open")
	err = relay.Session{NC: a.conn.NC, In: sub, Out: m.Reply, Local: conn,
		Credit: req.Window, Window: api.PortForwardWindow}.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Debug().Err(err).Msg("port-forward: connection failed")
		return
	}
	log.Debug().Msg("port-forward: connection closed")
}

// dialPod checks the pod is bound here and running, and connects to its
// port. The errors are kubectl's where it has them.
func (a *Agent) dialPod(ctx context.Context, req api.PortForwardRequest) (net.Conn, error) {
	if req.Port < 1 || req.Port > 65535 {
		return nil, fmt.Errorf("port %d: want 1 to 65535", req.Port)
	}
	if req.Window <= 0 {
		return nil, fmt.Errorf("window %d: want a positive number of bytes", req.Window)
	}
	b := a.desiredCopy(key(req.Namespace, req.Pod))
	if b == nil || req.UID != "" && b.Pod.UID != req.UID {
		return nil, fmt.Errorf("pod %s/%s is not on node %s", req.Namespace, req.Pod, a.cfg.Name)
	}
	st, ok, err := a.rt.Pod(ctx, b.Pod.UID)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", req.Namespace, req.Pod, err)
	}
	running := false
	for _, c := range st.Containers {
		running = running || c.Running
	}
	if !ok || !running || st.IP == "" {
		return nil, errors.New("unable to forward port because pod is not running")
	}
	dctx, cancel := context.WithTimeout(ctx, portDialTimeout)
	defer cancel()
	var conn net.Conn
	if d, ok := a.rt.(PortDialer); ok {
		conn, err = d.DialPort(dctx, st, req.Port)
	} else {
		var dl net.Dialer
		conn, err = dl.DialContext(dctx, "tcp", net.JoinHostPort(st.IP, strconv.Itoa(int(req.Port))))
	}
	if err != nil {
		// kubelet's words, so scripts and habits carry over.
		return nil, fmt.Errorf("error forwarding port %d to pod %s/%s, uid %s: %w", req.Port, req.Namespace, req.Pod, b.Pod.UID, err)
	}
	return conn, nil
}
