package node_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/api/relay"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
)

// podServer stands in for a pod: a loopback listener whose connections
// serve serve, each reporting on closed when the relay closed it.
type podServer struct {
	ln     net.Listener
	closed chan error // the peer's end of each connection, as the server read it
}

func startPodServer(t *testing.T, serve func(c *net.TCPConn) error) *podServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &podServer{ln: ln, closed: make(chan error, 16)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s.closed <- serve(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return s
}

// echo copies what it reads back until the client's end, then ends its own.
func echo(c *net.TCPConn) error {
	if _, err := io.Copy(c, c); err != nil {
		return err
	}
	return c.CloseWrite()
}

// dialingRuntime is the simulated runtime whose pods' port 80 is a podServer
// (every other port refuses).
type dialingRuntime struct {
	*sim.Runtime
	addr string
}

func (r dialingRuntime) DialPort(ctx context.Context, _ node.PodState, port int32) (net.Conn, error) {
	if port != 80 {
		return nil, errors.New("connect: connection refused")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", r.addr)
}

// startForwardingAgent runs node n1 with pod default/web-00 (uid-00000000)
// running, its port 80 served by serve.
func startForwardingAgent(t *testing.T, serve func(c *net.TCPConn) error) (*bus.Conn, *podServer) {
	t.Helper()
	conn, url := bustest.Start(t)
	pod := startPodServer(t, serve)
	bind(t, conn.JS, "n1", 0)
	simRT, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := dialingRuntime{Runtime: simRT, addr: pod.ln.Addr().String()}
	nc, err := bus.Connect(url, "node-n1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := node.New(node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", ResyncEvery: 20 * time.Millisecond,
		HeartbeatEvery: 50 * time.Millisecond}, rt, nc, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})
	eventually(t, "web-00 running", func() bool {
		p, ok, err := simRT.Pod(context.Background(), "uid-00000000")
		return err == nil && ok && len(p.Containers) == 1 && p.Containers[0].Running
	})
	return conn, pod
}

// forward opens a relayed connection to port of web-00 and returns the test's
// end of it (a loopback TCP connection whose other end the relay holds) and
// the relay's result.
func forward(ctx context.Context, t *testing.T, nc *nats.Conn, port int32) (*net.TCPConn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	mine, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mine.Close() })
	theirs, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s, err := relay.Ask(ctx, nc, "n1", api.PortForwardRequest{Namespace: "default", Pod: "web-00", UID: "uid-00000000", Port: port}, theirs)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return mine.(*net.TCPConn), done
}

func within(t *testing.T, what string, d time.Duration, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(d):
		t.Fatalf("%s: not within %s", what, d)
		return nil
	}
}

// Bytes go both ways through the node, several MiB intact, and the client's
// half-close reaches the pod, whose own end comes back: both relays end.
func TestPortForwardRelaysBothWays(t *testing.T) {
	conn, pod := startForwardingAgent(t, echo)
	c, done := forward(context.Background(), t, conn.NC, 80)

	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello\n" {
		t.Fatalf("echo: %q, %v", buf, err)
	}

	// 8 MiB is 16 windows: credits must come back for it to pass.
	big := make([]byte, 8<<20)
	_, _ = rand.Read(big)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(big)
		if err == nil {
			err = c.CloseWrite()
		}
		wrote <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := within(t, "writing 8 MiB", 30*time.Second, wrote); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("echoed %d bytes, not the %d written (or not the same)", len(got), len(big))
	}
	if err := within(t, "the pod's end of the connection", 10*time.Second, pod.closed); err != nil {
		t.Errorf("pod side: %v", err)
	}
	if err := within(t, "the client's relay", 10*time.Second, done); err != nil {
		t.Errorf("relay: %v", err)
	}
}

// The pod's end reaches the client; a pod that resets the connection ends
// the client's relay with the node's error.
func TestPortForwardPodCloses(t *testing.T) {
	conn, _ := startForwardingAgent(t, func(c *net.TCPConn) error {
		if _, err := c.Write([]byte("bye\n")); err != nil {
			return err
		}
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			return err
		}
		if b[0] == 'r' { // reset rather than close
			_ = c.SetLinger(0)
			return c.Close()
		}
		return c.CloseWrite()
	})

	c, done := forward(context.Background(), t, conn.NC, 80)
	if _, err := c.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "bye\n" {
		t.Fatalf("read %q, %v; want the pod's bye and its end", got, err)
	}
	_ = c.CloseWrite()
	if err := within(t, "the client's relay after both ends", 10*time.Second, done); err != nil {
		t.Errorf("relay: %v", err)
	}

	c, done = forward(context.Background(), t, conn.NC, 80)
	if _, err := c.Write([]byte("r")); err != nil {
		t.Fatal(err)
	}
	err = within(t, "the client's relay after a reset", 10*time.Second, done)
	if pe := (relay.PeerError{}); !errors.As(err, &pe) || !strings.Contains(err.Error(), "reset") {
		t.Errorf("relay after the pod's reset: %v, want the node's error naming the reset", err)
	}
}

// A client that ends its connection (Ctrl-C) has the node close the pod's
// at once, without waiting for the keep-alives.
func TestPortForwardClientEnds(t *testing.T) {
	conn, pod := startForwardingAgent(t, echo)
	ctx, cancel := context.WithCancel(context.Background())
	c, done := forward(ctx, t, conn.NC, 80)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := within(t, "the client's relay", 5*time.Second, done); !errors.Is(err, context.Canceled) {
		t.Errorf("relay: %v, want context.Canceled", err)
	}
	if err := within(t, "the node closing the pod's connection", api.PortForwardKeepAlive, pod.closed); err != nil {
		t.Errorf("pod side: %v", err)
	}
}

// A client that asks and then vanishes (no data, no keep-alives) has its
// pod connection closed by the node within the keep-alive bound.
func TestPortForwardClientVanishes(t *testing.T) {
	conn, pod := startForwardingAgent(t, echo)
	nc := conn.NC
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(api.PortForwardRequest{Namespace: "default", Pod: "web-00", Port: 80, Window: 1 << 10})
	if err := nc.PublishRequest(events.NodeRPCSubject("n1", "portforward"), inbox, data); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil || m.Header.Get(api.HeaderPFOp) != api.PFOpen {
		t.Fatalf("answer: %v, %v", m, err)
	}
	start := time.Now()
	_ = sub.Unsubscribe()
	bound := 3*api.PortForwardKeepAlive + 2*time.Second
	if err := within(t, "the node closing the pod's connection", bound+time.Second, pod.closed); err != nil {
		t.Errorf("pod side: %v", err)
	}
	if took := time.Since(start); took < 2*api.PortForwardKeepAlive {
		t.Errorf("closed after %s: before the keep-alive bound", took)
	}
}

// What cannot be forwarded is refused with the reason.
func TestPortForwardRefused(t *testing.T) {
	conn, _ := startForwardingAgent(t, echo)
	cases := []struct {
		req  api.PortForwardRequest
		want string
	}{
		{api.PortForwardRequest{Namespace: "default", Pod: "nope", Port: 80}, "pod default/nope is not on node n1"},
		{api.PortForwardRequest{Namespace: "default", Pod: "web-00", UID: "other", Port: 80}, "pod default/web-00 is not on node n1"},
		{api.PortForwardRequest{Namespace: "default", Pod: "web-00", Port: 0}, "port 0: want 1 to 65535"},
		{api.PortForwardRequest{Namespace: "default", Pod: "web-00", Port: 81},
			"error forwarding port 81 to pod default/web-00, uid uid-00000000: connect: connection refused"},
	}
	for _, tc := range cases {
		_, err := relay.Ask(context.Background(), conn.NC, "n1", tc.req, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
	}
	_, err := relay.Ask(context.Background(), conn.NC, "n2", api.PortForwardRequest{Namespace: "default", Pod: "web-00", Port: 80}, nil)
	if want := "node n2 did not answer (is its agent running?)"; err == nil || err.Error() != want {
		t.Errorf("a node without an agent: %v, want %q", err, want)
	}
}
