package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/api/relay"
	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Mistakes in the arguments are refused before dialing.
func TestPortForwardArguments(t *testing.T) {
	url := clitest.ClosedPort(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"port-forward", "pod/p"}, "error: TYPE/NAME and list of ports are required for port-forward\n"},
		{[]string{"port-forward", "pod/p", "1:2:3"}, "error: invalid port format '1:2:3'\n"},
		{[]string{"port-forward", "pod/p", "70000:80"}, "error: error parsing local port '70000': strconv.ParseUint: parsing \"70000\": value out of range\n"},
		{[]string{"port-forward", "pod/p", "8080:0"}, "error: remote port must be > 0: '8080:0'\n"},
		{[]string{"port-forward", "pod/p", "8080:"}, "error: invalid port format '8080:'\n"},
		{[]string{"port-forward", "pod/p", "8080:Not_A_Name"}, "error: error parsing remote port 'Not_A_Name': not a port number or name\n"},
		{[]string{"port-forward", "cj/x", "80"}, "error: cannot forward ports to cronjobs.batch: a pod, service, deployment, replicaset, daemonset or job has ports\n"},
		{[]string{"port-forward", "--address", "nope", "pod/p", "80"}, "error: nope is not a valid IP\n"},
	}
	for _, tc := range cases {
		code, _, errOut := runGantry(append(tc.args, "--nats", url)...)
		if code != 1 || errOut != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// seedForwarding adds to the read cluster pod api-1 (container port http
// 8080) behind Service api (port 80 named web, targetPort http) with an
// EndpointSlice listing it ready, and Service nosel without a selector.
func (c *readCluster) seedForwarding(t *testing.T, created time.Time) {
	t.Helper()
	p := fixturePod(created)
	p.Name, p.UID, p.Owner, p.Labels = "api-1", "pod-uid-api", nil, map[string]string{"app": "api"}
	p.Spec.Containers[0].Ports = []manifest.ContainerPort{{Name: "http", ContainerPort: 8080}}
	c.put(t, bus.BucketPods, "default.api-1", p)
	target := manifest.FromString("http")
	svc := func(name string, sel map[string]string) *projections.Workload {
		return &projections.Workload{Kind: "service", Namespace: "default", Name: name, UID: "svc-uid-" + name, Generation: 1,
			Object: manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindService,
				Metadata: manifest.ObjectMeta{Name: name, Namespace: "default"},
				Spec: &manifest.ServiceSpec{Selector: sel, Type: manifest.ServiceTypeClusterIP,
					Ports: []manifest.ServicePort{{Name: "web", Protocol: "TCP", Port: 80, TargetPort: &target}}}},
			CreatedAt: created, Seqs: projections.Seqs{}}
	}
	c.put(t, bus.BucketWorkloads, "service.default.api", svc("api", map[string]string{"app": "api"}))
	c.put(t, bus.BucketWorkloads, "service.default.nosel", svc("nosel", nil))
	c.put(t, bus.BucketWorkloads, "endpointslice.default.api-x7k2q", &projections.Workload{
		Kind: "endpointslice", Namespace: "default", Name: "api-x7k2q", UID: "es-uid-1", Generation: 1,
		Object: manifest.Object{APIVersion: manifest.APIDiscoveryV1, Kind: manifest.KindEndpointSlice,
			Metadata: manifest.ObjectMeta{Name: "api-x7k2q", Namespace: "default", Labels: map[string]string{manifest.LabelServiceName: "api"}},
			Spec: &manifest.EndpointSliceSpec{AddressType: "IPv4",
				Endpoints: []manifest.Endpoint{
					{Addresses: []string{"10.42.0.9"}, Conditions: manifest.EndpointConditions{Ready: false}, NodeName: "node-1",
						TargetRef: &manifest.ObjectReference{Kind: "Pod", Namespace: "default", Name: "hello-abc12", UID: "pod-uid-1"}},
					{Addresses: []string{"10.42.0.7"}, Conditions: manifest.EndpointConditions{Ready: true, Serving: true}, NodeName: "node-1",
						TargetRef: &manifest.ObjectReference{Kind: "Pod", Namespace: "default", Name: "api-1", UID: "pod-uid-api"}}},
				Ports: []manifest.EndpointPort{{Name: "web", Protocol: "TCP", Port: 8080}}}},
		CreatedAt: created, Seqs: projections.Seqs{}})
	c.progress(t, 0)
}

// fakeNode answers port-forward requests for node-1 as the agent does, with
// an echo server for every pod's port 8080 and 80, and records what it was
// asked.
type fakeNode struct {
	mu   sync.Mutex
	reqs []api.PortForwardRequest
}

func startFakeNode(t *testing.T, nc *nats.Conn) *fakeNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_ = c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	f := &fakeNode{}
	sub, err := nc.Subscribe(events.NodeRPCSubject("node-1", "portforward"), func(m *nats.Msg) {
		var req api.PortForwardRequest
		_ = json.Unmarshal(m.Data, &req)
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		if req.Port != 80 && req.Port != 8080 {
			end := nats.NewMsg(m.Reply)
			end.Header.Set(api.HeaderEOF, "1")
			end.Header.Set(api.HeaderError, "error forwarding port "+strconv.Itoa(int(req.Port))+": connection refused")
			_ = nc.PublishMsg(end)
			return
		}
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		in := nc.NewInbox()
		s, _ := nc.SubscribeSync(in)
		open := nats.NewMsg(m.Reply)
		open.Header.Set(api.HeaderPFOp, api.PFOpen)
		open.Header.Set(api.HeaderPFSubject, in)
		open.Header.Set(api.HeaderPFCredit, strconv.Itoa(api.PortForwardWindow))
		_ = nc.PublishMsg(open)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = relay.Session{NC: nc, In: s, Out: m.Reply, Local: conn, Credit: req.Window, Window: api.PortForwardWindow}.Run(ctx)
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sub.Unsubscribe()
		_ = ln.Close()
		cancel()
		wg.Wait()
	})
	return f
}

func (f *fakeNode) asked() []api.PortForwardRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.PortForwardRequest(nil), f.reqs...)
}

// syncBuffer is a bytes.Buffer written by several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// What cannot be forwarded is refused with kubectl's words, once the
// cluster is read.
func TestPortForwardRefusedAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-time.Hour)
	c.seed(t, created)
	c.seedForwarding(t, created)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"port-forward", "pod/big-xyz", "8080:80"}, "error: unable to forward port because pod is not running. Current status=Pending\n"},
		{[]string{"port-forward", "hello-abc12", "8080:http"}, "error: Pod 'hello-abc12' does not have a named port 'http'\n"},
		{[]string{"port-forward", "svc/api", "8080:81"}, "error: Service api does not have a service port 81\n"},
		{[]string{"port-forward", "svc/api", "8080:api"}, "error: Service 'api' does not have a named port 'api'\n"},
		{[]string{"port-forward", "svc/nosel", "80"}, "error: invalid service 'nosel': Service is defined without a selector\n"},
		{[]string{"port-forward", "svc/gone", "80"}, "error: services \"gone\" not found\n"},
		{[]string{"port-forward", "pod/gone", "80"}, "error: pods \"gone\" not found\n"},
	}
	for _, tc := range cases {
		code, _, errOut := c.gantry(tc.args...)
		if code != 1 || errOut != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

var forwardingLine = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)\n`)

// svc/api :web listens on a free local port, forwards each connection to
// the ready endpoint's targetPort (http: 8080) through its node, prints
// kubectl's lines, reports a connection the node refuses, and ends on
// Ctrl-C.
func TestPortForwardAgainstFakeNode(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-time.Hour)
	c.seed(t, created)
	c.seedForwarding(t, created)
	node := startFakeNode(t, c.conn.NC)

	pairs, err := parsePortPairs([]string{":web"})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := listenHosts([]string{"localhost"})
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runPortForward(ctx, c.conn, "default", "service", "api", pairs, hosts, &out, &errOut) }()
	var port string
	deadline := time.Now().Add(10 * time.Second)
	for port == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no Forwarding line: stdout %q, stderr %q", out.String(), errOut.String())
		}
		if m := forwardingLine.FindStringSubmatch(out.String()); m != nil {
			if m[2] != "8080" {
				t.Fatalf("forwarding to %s, want the targetPort 8080: %q", m[2], out.String())
			}
			port = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 2 {
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		msg := strings.Repeat("ping ", 10000)
		go func() {
			_, _ = conn.Write([]byte(msg))
			_ = conn.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(conn)
		_ = conn.Close()
		if err != nil || string(got) != msg {
			t.Fatalf("connection %d: echoed %d bytes, %v; want %d", i, len(got), err, len(msg))
		}
	}
	if reqs := node.asked(); len(reqs) != 2 || reqs[0].Pod != "api-1" || reqs[0].UID != "pod-uid-api" || reqs[0].Port != 8080 {
		t.Errorf("node asked %+v, want api-1's port 8080 twice", reqs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("port-forward: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward did not end on Ctrl-C")
	}
	wantOut := "Forwarding from 127.0.0.1:" + port + " -> 8080\nForwarding from [::1]:" + port + " -> 8080\n" +
		"Handling connection for " + port + "\nHandling connection for " + port + "\n"
	if out.String() != wantOut || errOut.String() != "" {
		t.Errorf("stdout %q, stderr %q; want %q", out.String(), errOut.String(), wantOut)
	}

	// A port the pod does not open: the node's error, and the command goes on.
	pairs, _ = parsePortPairs([]string{"0:9999"})
	out, errOut = syncBuffer{}, syncBuffer{}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- runPortForward(ctx, c.conn, "default", "pod", "api-1", pairs, hosts, &out, &errOut) }()
	port = ""
	for port == "" {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("no Forwarding line: stdout %q, stderr %q", out.String(), errOut.String())
		}
		if m := forwardingLine.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(conn); len(got) != 0 {
		t.Errorf("read %q from a refused connection", got)
	}
	_ = conn.Close()
	want := "error: an error occurred forwarding " + port + " -> 9999: error forwarding port 9999: connection refused\n"
	for errOut.String() != want {
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("stderr %q, want %q", errOut.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("port-forward: %v", err)
	}
}
