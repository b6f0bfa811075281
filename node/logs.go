package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
)

// logChunk is the most a message of a log stream carries.
const logChunk = 256 << 10

func (a *Agent) serveLogs(ctx context.Context) (*nats.Subscription, error) {
	sub, err := a.conn.NC.Subscribe(events.NodeRPCSubject(a.cfg.Name, "logs"), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		go a.logs(ctx, m)
	})
	if err != nil {
		return nil, fmt.Errorf("node %s serve logs: %w", a.cfg.Name, err)
	}
	return sub, nil
}

func (a *Agent) logs(ctx context.Context, m *nats.Msg) {
	reply := m.Reply
	var req api.LogsRequest
	err := json.Unmarshal(m.Data, &req)
	if err == nil {
		err = a.resolveContainer(&req)
	}
	if err != nil {
		a.endLogs(reply, err)
		return
	}
	if req.Previous {
		req.Follow = false // a previous log is whole: it ends at once
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if req.Follow {
		var mu sync.Mutex
		last := time.Now()
		alive, err := a.conn.NC.Subscribe(reply+".alive", func(*nats.Msg) {
			mu.Lock()
			last = time.Now()
			mu.Unlock()
		})
		if err != nil {
			a.endLogs(reply, err)
			return
		}
		defer alive.Unsubscribe()
		go func() {
			t := time.NewTicker(api.LogsKeepAlive)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					mu.Lock()
					quiet := time.Since(last)
					mu.Unlock()
					if quiet > 3*api.LogsKeepAlive {
						cancel()
						return
					}
				}
			}
		}()
	}
	w := &chunkWriter{nc: a.conn.NC, subject: reply}
	err = a.rt.Logs(ctx, req.Namespace, req.Pod, req.Container, LogOptions{Follow: req.Follow, Previous: req.Previous}, w)
	switch {
	case ctx.Err() != nil && req.Follow:
		err = nil
	case errors.Is(err, ErrNoPreviousLog):
		// kubectl's words, so scripts and habits carry over.
		err = fmt.Errorf("previous terminated container %q in pod %q not found", req.Container, req.Pod)
	}
	a.endLogs(reply, err)
}

// resolveContainer defaults the container to the pod's first, like kubectl,
// and checks the pod is bound here.
func (a *Agent) resolveContainer(req *api.LogsRequest) error {
	b := a.desiredCopy(key(req.Namespace, req.Pod))
	if b == nil {
		return fmt.Errorf("pod %s/%s is not on node %s", req.Namespace, req.Pod, a.cfg.Name)
	}
	cs := b.Pod.Spec.Containers
	if req.Container == "" {
		if len(cs) == 0 {
			return fmt.Errorf("pod %s/%s has no containers", req.Namespace, req.Pod)
		}
		req.Container = cs[0].Name
		return nil
	}
	all := slices.Concat(cs, b.Pod.Spec.InitContainers) // an init container's log too
	for _, c := range all {
		if c.Name == req.Container {
			return nil
		}
	}
	names := make([]string, len(all))
	for i, c := range all {
		names[i] = c.Name
	}
	return fmt.Errorf("container %q is not in pod %s/%s (containers: %v)", req.Container, req.Namespace, req.Pod, names)
}

func (a *Agent) endLogs(reply string, err error) {
	m := nats.NewMsg(reply)
	m.Header.Set(api.HeaderEOF, "1")
	if err != nil {
		m.Header.Set(api.HeaderError, err.Error())
	}
	_ = a.conn.NC.PublishMsg(m)
	_ = a.conn.NC.Flush()
}

type chunkWriter struct {
	nc      *nats.Conn
	subject string
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	for off := 0; off < len(p); off += logChunk {
		end := min(off+logChunk, len(p))
		buf := make([]byte, end-off)
		copy(buf, p[off:end])
		if err := w.nc.Publish(w.subject, buf); err != nil {
			return off, err
		}
	}
	return len(p), nil
}
