package relay_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/api/relay"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// pipe is a loopback TCP connection: the session's end and the test's.
func pipe(t *testing.T) (session, test *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	return b.(*net.TCPConn), a.(*net.TCPConn)
}

// peer is the other side played by hand: it reads what the session sends
// on out and sends numbered messages on in.
type peer struct {
	t   *testing.T
	nc  *nats.Conn
	out *nats.Subscription // what the session sends
	in  string             // where the session reads
	seq uint64
}

func (p *peer) send(op string, data []byte, key, value string) {
	p.t.Helper()
	p.seq++
	m := nats.NewMsg(p.in)
	m.Header.Set(api.HeaderPFSeq, strconv.FormatUint(p.seq, 10))
	if op != "" {
		m.Header.Set(api.HeaderPFOp, op)
	}
	if key != "" {
		m.Header.Set(key, value)
	}
	m.Data = data
	if err := p.nc.PublishMsg(m); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) next() *nats.Msg {
	p.t.Helper()
	m, err := p.out.NextMsg(10 * time.Second)
	if err != nil {
		p.t.Fatalf("from the session: %v", err)
	}
	return m
}

// start runs a session with credit and window against a hand-played peer,
// pinging every 50 ms.
func start(t *testing.T, credit, window int64) (*peer, *net.TCPConn, <-chan error) {
	t.Helper()
	conn, _ := bustest.Start(t)
	nc := conn.NC
	out, err := nc.SubscribeSync(nc.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	in, err := nc.SubscribeSync(nc.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	local, test := pipe(t)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		done <- relay.Session{NC: nc, In: in, Out: out.Subject, Local: local, Credit: credit, Window: window,
			KeepAlive: 50 * time.Millisecond}.Run(ctx)
	}()
	t.Cleanup(cancel)
	return &peer{t: t, nc: nc, out: out, in: in.Subject}, test, done
}

func result(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("the session did not end within %s", within)
		return nil
	}
}

// The session sends no more than the credit granted, however much its
// local end has to say: two pings after the credit is spent, no more data.
func TestSessionSendsWithinCredit(t *testing.T) {
	p, test, _ := start(t, 100_000, 1<<20)
	go func() { _, _ = test.Write(make([]byte, 4<<20)) }()
	got, pings := 0, 0
	for pings < 2 {
		m := p.next()
		switch m.Header.Get(api.HeaderPFOp) {
		case "":
			got += len(m.Data)
			pings = 0
			if len(m.Data) > api.PortForwardChunk {
				t.Fatalf("a chunk of %d bytes", len(m.Data))
			}
		case api.PFPing:
			if got == 100_000 {
				pings++
			}
		}
		if got > 100_000 {
			t.Fatalf("sent %d bytes on a credit of 100000", got)
		}
	}
	p.send(api.PFCredit, nil, api.HeaderPFCredit, "5000")
	for got < 105_000 {
		if m := p.next(); m.Header.Get(api.HeaderPFOp) == "" {
			got += len(m.Data)
		}
	}
	if got != 105_000 {
		t.Errorf("sent %d bytes on a credit of 105000", got)
	}
}

// A peer that sends beyond the window it was granted, or whose messages
// come with a gap, has the connection closed with the reason.
func TestSessionRefusesBrokenPeers(t *testing.T) {
	cases := []struct {
		name string
		play func(p *peer)
		want string
	}{
		{"beyond the window", func(p *peer) {
			p.send("", make([]byte, 1200), "", "")
		}, "the other side sent 200 bytes beyond the window of 1000"},
		{"a lost message", func(p *peer) {
			p.send("", []byte("a"), "", "")
			p.seq++
			p.send("", []byte("c"), "", "")
		}, `message "3" from the other side where 2 was due: messages were lost`},
		{"an unknown operation", func(p *peer) { p.send("rewind", nil, "", "") }, `unknown operation "rewind" from the other side`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The test's end reads nothing: the data stays queued.
			p, _, done := start(t, 1000, 1000)
			tc.play(p)
			if err := result(t, done, 10*time.Second); err == nil || err.Error() != tc.want {
				t.Errorf("session ended with %v, want %q", err, tc.want)
			}
			for {
				m := p.next()
				if m.Header.Get(api.HeaderPFOp) == api.PFClose {
					if e := m.Header.Get(api.HeaderError); e != tc.want {
						t.Errorf("close says %q, want %q", e, tc.want)
					}
					return
				}
			}
		})
	}
}

// A peer that falls silent ends the session after three keep-alives; a
// peer's close ends it with the peer's error.
func TestSessionPeerGoneOrClosing(t *testing.T) {
	_, _, done := start(t, 1000, 1000)
	began := time.Now()
	if err := result(t, done, 5*time.Second); !errors.Is(err, relay.ErrPeerGone) {
		t.Errorf("silent peer: %v, want ErrPeerGone", err)
	}
	if took := time.Since(began); took < 150*time.Millisecond {
		t.Errorf("ended after %s, before three keep-alives", took)
	}

	p, test, done := start(t, 1000, 1000)
	p.send("", []byte("partial"), "", "")
	p.send(api.PFClose, nil, api.HeaderError, "read: connection reset by peer")
	var pe relay.PeerError
	if err := result(t, done, 5*time.Second); !errors.As(err, &pe) || pe.Msg != "read: connection reset by peer" {
		t.Errorf("closing peer: %v", err)
	}
	// The local end is closed: what it reads ends.
	_ = test.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	buf := make([]byte, 64)
	for {
		n, err := test.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the local end stayed open after the peer's close (read %q)", b.String())
			}
			break
		}
	}
}
