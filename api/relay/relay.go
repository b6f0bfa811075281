// Package relay carries one TCP connection over NATS core between the two
// parties that hold its ends: the node agent, connected to a pod's port, and
// gantry port-forward, connected to a local client. Both sides run the same
// Session: numbered messages (a gap ends the connection rather than corrupt
// it), data in chunks of at most api.PortForwardChunk, credits (a side sends
// only as many bytes as the other has granted, and grants them again once
// written out, so neither buffers more than its window), half-close, close
// and keep-alives. The setup (who subscribes where) is the callers'; see
// api.PortForwardRequest.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
)

// Session relays Local to the peer and the peer to Local.
type Session struct {
	NC *nats.Conn
	// In is a synchronous subscription to what the peer sends; Out is where
	// the peer reads.
	In  *nats.Subscription
	Out string
	// Local is this side's end of the connection.
	Local net.Conn
	// Credit is how many bytes the peer has let this side send; Window how
	// many this side has let the peer send (the most it queues for Local).
	Credit int64
	Window int64
	// KeepAlive is how often this side pings (default
	// api.PortForwardKeepAlive); hearing nothing from the peer for three
	// of those, while expecting something of it, ends the connection.
	KeepAlive time.Duration
}

// ErrPeerGone ends a connection whose other side stopped answering.
var ErrPeerGone = errors.New("the other side of the connection stopped answering")

// PeerError is an error the other side sent with its close.
type PeerError struct{ Msg string }

func (e PeerError) Error() string { return e.Msg }

var (
	errDone       = errors.New("both directions ended")
	errPeerClosed = errors.New("closed by the other side")
)

// Run relays until both directions have ended (nil), the peer closes (nil,
// or a PeerError), ctx ends (ctx's error; the peer is told) or this side
// fails (the error; the peer is told). It closes Local and unsubscribes In
// before it returns, and leaves no goroutine behind.
func (s Session) Run(ctx context.Context) error {
	if s.KeepAlive <= 0 {
		s.KeepAlive = api.PortForwardKeepAlive
	}
	r := &run{Session: s, granted: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	r.ctx, r.cancel = context.WithCancelCause(ctx)
	defer r.cancel(nil)
	r.credit.Store(s.Credit)
	r.allowed.Store(s.Window)
	r.heard.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	for _, f := range []func(){r.readLocal, r.writeLocal, r.receive, r.keepAlive} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	<-r.ctx.Done()
	cause := context.Cause(r.ctx)
	_ = s.Local.Close()
	_ = s.In.Unsubscribe()
	wg.Wait()
	var perr PeerError
	switch {
	case errors.Is(cause, errDone), errors.Is(cause, errPeerClosed):
		return nil
	case errors.As(cause, &perr):
		return perr
	case ctx.Err() != nil:
		_ = r.send(api.PFClose, nil, "", "")
		return ctx.Err()
	}
	_ = r.send(api.PFClose, nil, api.HeaderError, cause.Error())
	return cause
}

// run is one Session running.
type run struct {
	Session
	ctx    context.Context
	cancel context.CancelCauseFunc

	smu sync.Mutex // one message at a time, in sequence order
	seq uint64

	credit  atomic.Int64  // bytes this side may still send
	granted chan struct{} // the peer granted more

	qmu      sync.Mutex // the peer's data not yet written to Local
	queue    [][]byte
	received int64 // bytes the peer sent, in all
	peerEOF  bool
	wake     chan struct{} // the queue grew or the peer's EOF came
	// allowed is how many bytes the peer may have sent in all: the window
	// and every credit granted since. Within it, the queue never holds
	// more than the window.
	allowed atomic.Int64

	heard   atomic.Int64 // when the peer was last heard (unix ns)
	outDone atomic.Bool  // this side sent its EOF
	inDone  atomic.Bool  // the peer's EOF is written (Local half-closed)
}

// send publishes one message of the sequence: data when op is "", else an
// operation, with one header of its own when key is set (its credit, its
// error).
func (r *run) send(op string, data []byte, key, value string) error {
	r.smu.Lock()
	defer r.smu.Unlock()
	r.seq++
	m := nats.NewMsg(r.Out)
	m.Header.Set(api.HeaderPFSeq, strconv.FormatUint(r.seq, 10))
	if op != "" {
		m.Header.Set(api.HeaderPFOp, op)
	}
	if key != "" {
		m.Header.Set(key, value)
	}
	m.Data = data
	return r.NC.PublishMsg(m)
}

// fail ends the session with err, unless it has ended already (the first
// cause wins).
func (r *run) fail(err error) { r.cancel(err) }

func (r *run) finishedOne() {
	if r.outDone.Load() && r.inDone.Load() {
		r.cancel(errDone)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// readLocal sends what Local says, as far as the peer's credit goes, then
// the EOF.
func (r *run) readLocal() {
	buf := make([]byte, api.PortForwardChunk)
	for {
		n := r.waitCredit()
		if n == 0 {
			return
		}
		k, err := r.Local.Read(buf[:n])
		if k > 0 {
			r.credit.Add(-int64(k))
			// PublishMsg copies the data: buf is free again.
			if err := r.send("", buf[:k], "", ""); err != nil {
				r.fail(fmt.Errorf("send: %w", err))
				return
			}
		}
		if errors.Is(err, io.EOF) {
			if err := r.send(api.PFEOF, nil, "", ""); err != nil {
				r.fail(fmt.Errorf("send: %w", err))
				return
			}
			r.outDone.Store(true)
			r.finishedOne()
			return
		}
		if err != nil {
			r.fail(fmt.Errorf("read: %w", err))
			return
		}
	}
}

// waitCredit is how much readLocal may read: at most a chunk and the credit
// left; 0 when the session has ended.
func (r *run) waitCredit() int {
	for {
		if c := r.credit.Load(); c > 0 {
			return int(min(c, api.PortForwardChunk))
		}
		select {
		case <-r.granted:
		case <-r.ctx.Done():
			return 0
		}
	}
}

// writeLocal writes the peer's data to Local, granting the peer credit again
// for every quarter window written, and half-closes Local after the peer's
// EOF.
func (r *run) writeLocal() {
	var written int64
	for {
		chunk, eof, ok := r.next()
		if !ok {
			return
		}
		if eof {
			if cw, ok := r.Local.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			r.inDone.Store(true)
			r.finishedOne()
			return
		}
		if _, err := r.Local.Write(chunk); err != nil {
			r.fail(fmt.Errorf("write: %w", err))
			return
		}
		written += int64(len(chunk))
		if written >= r.Window/4 {
			// Allowed before the peer can use it.
			r.allowed.Add(written)
			if err := r.send(api.PFCredit, nil, api.HeaderPFCredit, strconv.FormatInt(written, 10)); err != nil {
				r.fail(fmt.Errorf("send: %w", err))
				return
			}
			written = 0
		}
	}
}

// next waits for the peer's next chunk or its EOF; ok is false when the
// session has ended.
func (r *run) next() (chunk []byte, eof, ok bool) {
	for {
		r.qmu.Lock()
		if len(r.queue) > 0 {
			chunk = r.queue[0]
			r.queue[0] = nil
			r.queue = r.queue[1:]
			r.qmu.Unlock()
			return chunk, false, true
		}
		eof = r.peerEOF
		r.qmu.Unlock()
		if eof {
			return nil, true, true
		}
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			return nil, false, false
		}
	}
}

// receive takes the peer's messages in order and never blocks on Local:
// data is queued for writeLocal, within the window granted.
func (r *run) receive() {
	want := uint64(1)
	for {
		m, err := r.In.NextMsgWithContext(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.fail(fmt.Errorf("receive: %w", err))
			}
			return
		}
		r.heard.Store(time.Now().UnixNano())
		if got := m.Header.Get(api.HeaderPFSeq); got != strconv.FormatUint(want, 10) {
			r.fail(fmt.Errorf("message %q from the other side where %d was due: messages were lost", got, want))
			return
		}
		want++
		switch op := m.Header.Get(api.HeaderPFOp); op {
		case "":
			if err := r.push(m.Data); err != nil {
				r.fail(err)
				return
			}
		case api.PFCredit:
			n, err := strconv.ParseInt(m.Header.Get(api.HeaderPFCredit), 10, 64)
			if err != nil || n <= 0 {
				r.fail(fmt.Errorf("credit %q from the other side: want a positive number", m.Header.Get(api.HeaderPFCredit)))
				return
			}
			r.credit.Add(n)
			signal(r.granted)
		case api.PFEOF:
			r.qmu.Lock()
			r.peerEOF = true
			r.qmu.Unlock()
			signal(r.wake)
		case api.PFClose:
			if e := m.Header.Get(api.HeaderError); e != "" {
				r.fail(PeerError{Msg: e})
			} else {
				r.fail(errPeerClosed)
			}
			return
		case api.PFPing:
		default:
			r.fail(fmt.Errorf("unknown operation %q from the other side", op))
			return
		}
	}
}

// push queues the peer's data for Local, refusing what goes beyond the
// window this side granted.
func (r *run) push(data []byte) error {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	switch {
	case r.peerEOF:
		return errors.New("data from the other side after its end")
	case r.received+int64(len(data)) > r.allowed.Load():
		return fmt.Errorf("the other side sent %d bytes beyond the window of %d", r.received+int64(len(data))-r.allowed.Load(), r.Window)
	}
	r.queue = append(r.queue, data)
	r.received += int64(len(data))
	signal(r.wake)
	return nil
}

// keepAlive pings the peer and ends the session when the peer has been
// silent for three pings while this side still expects data or credit of it.
func (r *run) keepAlive() {
	t := time.NewTicker(r.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.qmu.Lock()
		expecting := !r.peerEOF || !r.outDone.Load()
		r.qmu.Unlock()
		if expecting && time.Since(time.Unix(0, r.heard.Load())) > 3*r.KeepAlive {
			r.fail(ErrPeerGone)
			return
		}
		if err := r.send(api.PFPing, nil, "", ""); err != nil {
			r.fail(fmt.Errorf("send: %w", err))
			return
		}
	}
}

// answerWait is how long Ask waits for the node's answer: its dial to the
// pod is bounded by 5 s.
const answerWait = 10 * time.Second

// Ask asks node to connect to req's pod port and returns the Session that
// relays it with local, or the node's error. req.Window is filled in when
// zero.
func Ask(ctx context.Context, nc *nats.Conn, node string, req api.PortForwardRequest, local net.Conn) (Session, error) {
	if req.Window == 0 {
		req.Window = api.PortForwardWindow
	}
	data, err := json.Marshal(req)
	if err != nil {
		return Session{}, fmt.Errorf("encode port-forward request: %w", err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return Session{}, fmt.Errorf("port-forward: %w", err)
	}
	s, err := ask(ctx, nc, sub, node, inbox, data, req.Window)
	if err != nil {
		_ = sub.Unsubscribe()
		return Session{}, err
	}
	s.Local = local
	return s, nil
}

func ask(ctx context.Context, nc *nats.Conn, sub *nats.Subscription, node, inbox string, data []byte, window int64) (Session, error) {
	// Data is bounded by the window; control messages by their pace.
	if err := sub.SetPendingLimits(-1, int(2*window)); err != nil {
		return Session{}, fmt.Errorf("port-forward: %w", err)
	}
	if err := nc.PublishRequest(events.NodeRPCSubject(node, "portforward"), inbox, data); err != nil {
		return Session{}, fmt.Errorf("port-forward: ask node %s: %w", node, err)
	}
	wctx, cancel := context.WithTimeout(ctx, answerWait)
	defer cancel()
	silent := fmt.Errorf("node %s did not answer (is its agent running?)", node)
	m, err := sub.NextMsgWithContext(wctx)
	switch {
	case errors.Is(err, nats.ErrNoResponders), err != nil && ctx.Err() == nil && wctx.Err() != nil:
		return Session{}, silent
	case err != nil:
		return Session{}, fmt.Errorf("port-forward: %w", err)
	case len(m.Data) == 0 && m.Header.Get("Status") == "503":
		return Session{}, silent
	case m.Header.Get(api.HeaderError) != "":
		return Session{}, errors.New(m.Header.Get(api.HeaderError))
	case m.Header.Get(api.HeaderPFOp) != api.PFOpen:
		return Session{}, fmt.Errorf("node %s answered the port-forward request with %q, not %q", node, m.Header.Get(api.HeaderPFOp), api.PFOpen)
	}
	credit, err := strconv.ParseInt(m.Header.Get(api.HeaderPFCredit), 10, 64)
	if err != nil || credit <= 0 || m.Header.Get(api.HeaderPFSubject) == "" {
		return Session{}, fmt.Errorf("node %s opened the connection without a subject and credit", node)
	}
	return Session{NC: nc, In: sub, Out: m.Header.Get(api.HeaderPFSubject), Credit: credit, Window: window}, nil
}
