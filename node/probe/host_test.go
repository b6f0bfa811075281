package probe_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

// target is a container on this host (127.0.0.1) declaring port "web" as
// port.
func target(port int) probe.Target {
	return probe.Target{Namespace: "default", Pod: "p", UID: "u1", IP: "127.0.0.1", Container: "app",
		Ports: []manifest.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
}

func portOf(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func check(h probe.Checker, tg probe.Target, p manifest.Probe) probe.Result {
	return h.Check(context.Background(), tg, probe.Liveness, p)
}

func TestHTTPGet(t *testing.T) {
	var gotHeader, gotHost, gotUA string
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/sick", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/healthz", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		gotHeader, gotHost, gotUA = r.Header.Get("X-Probe"), r.Host, r.Header.Get("User-Agent")
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("deep") != "1" {
			w.WriteHeader(400)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	port, tlsPort := portOf(t, srv.URL), portOf(t, tls.URL)

	h := probe.NewHost(nil)
	get := func(a manifest.HTTPGetAction) probe.Result {
		return check(h, target(port), manifest.Probe{HTTPGet: &a})
	}
	for _, tc := range []struct {
		name string
		a    manifest.HTTPGetAction
		ok   bool
		msg  string
	}{
		{"200", manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromInt(int32(port))}, true, ""},
		{"port by name", manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromString("web")}, true, ""},
		{"path without a slash", manifest.HTTPGetAction{Path: "healthz", Port: manifest.FromString("web")}, true, ""},
		{"query in the path", manifest.HTTPGetAction{Path: "/query?deep=1", Port: manifest.FromString("web")}, true, ""},
		{"500", manifest.HTTPGetAction{Path: "/sick", Port: manifest.FromString("web")}, false, "HTTP probe failed with statuscode: 500"},
		{"404", manifest.HTTPGetAction{Path: "/nothing", Port: manifest.FromString("web")}, false, "statuscode: 404"},
		{"a redirect on the host is followed", manifest.HTTPGetAction{Path: "/moved", Port: manifest.FromString("web")}, true, ""},
		{"a redirect to another host is the answer", manifest.HTTPGetAction{Path: "/away", Port: manifest.FromString("web")}, true, ""},
		{"unknown port name", manifest.HTTPGetAction{Path: "/", Port: manifest.FromString("admin")}, false, `port "admin" names none of the container's ports`},
		{"port out of range", manifest.HTTPGetAction{Path: "/", Port: manifest.FromInt(70000)}, false, "not between 1 and 65535"},
		{"nobody listening", manifest.HTTPGetAction{Path: "/", Port: manifest.FromInt(int32(closedPort(t)))}, false, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.a)
			if r.Success != tc.ok || !strings.Contains(r.Output, tc.msg) {
				t.Errorf("got %+v, want success %v and %q", r, tc.ok, tc.msg)
			}
		})
	}

	t.Run("HTTPS without verifying the certificate", func(t *testing.T) {
		r := check(h, target(tlsPort), manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromString("web"), Scheme: "HTTPS"}})
		if !r.Success {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("headers, Host among them", func(t *testing.T) {
		r := get(manifest.HTTPGetAction{Path: "/headers", Port: manifest.FromString("web"), HTTPHeaders: []manifest.HTTPHeader{
			{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "app.example"}}})
		if !r.Success || gotHeader != "yes" || gotHost != "app.example" || gotUA != probe.UserAgent {
			t.Errorf("got %+v; header %q host %q user agent %q", r, gotHeader, gotHost, gotUA)
		}
	})
	t.Run("the host field replaces the pod's IP", func(t *testing.T) {
		tg := target(port)
		tg.IP = "192.0.2.1" // unreachable: only the host field makes it pass
		r := check(h, tg, manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Host: "127.0.0.1", Path: "/healthz", Port: manifest.FromString("web")}})
		if !r.Success {
			t.Errorf("got %+v", r)
		}
	})
}

// A server that does not answer within timeoutSeconds fails the check.
func TestHTTPGetTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	r := check(probe.NewHost(nil), target(portOf(t, srv.URL)), manifest.Probe{TimeoutSeconds: 1,
		HTTPGet: &manifest.HTTPGetAction{Path: "/", Port: manifest.FromString("web")}})
	if r.Success || !strings.Contains(r.Output, "timed out") {
		t.Errorf("got %+v", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s, want about the 1 s timeout", d)
	}
}

// The body (at most MaxBody) and status come back for a CEL check.
func TestHTTPGetResponse(t *testing.T) {
	big := strings.Repeat("x", probe.MaxBody+10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			fmt.Fprint(w, big)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"queue_depth": 3}`)
	}))
	defer srv.Close()
	h := probe.NewHost(nil)
	tg := target(portOf(t, srv.URL))
	res, resp := h.HTTPGet(context.Background(), tg, manifest.HTTPGetAction{Path: "/status", Port: manifest.FromString("web")})
	if !res.Success || resp == nil || resp.Status != 200 || string(resp.Body) != `{"queue_depth": 3}` ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Truncated {
		t.Fatalf("got %+v %+v", res, resp)
	}
	_, resp = h.HTTPGet(context.Background(), tg, manifest.HTTPGetAction{Path: "/big", Port: manifest.FromString("web")})
	if resp == nil || len(resp.Body) != probe.MaxBody || !resp.Truncated {
		t.Fatalf("big body: %d bytes, truncated %v", len(resp.Body), resp.Truncated)
	}
}

// closedPort is a port on 127.0.0.1 nobody listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	h := probe.NewHost(nil)
	if r := check(h, target(port), manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromString("web")}}); !r.Success {
		t.Errorf("open port: %+v", r)
	}
	if r := check(h, target(port), manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(int32(closedPort(t)))}}); r.Success || !strings.Contains(r.Output, "connection refused") {
		t.Errorf("closed port: %+v", r)
	}
}

func TestGRPC(t *testing.T) {
	serve := func(withHealth bool) (int, *health.Server) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		var hs *health.Server
		if withHealth {
			hs = health.NewServer()
			healthpb.RegisterHealthServer(s, hs)
		}
		go s.Serve(l)
		t.Cleanup(s.Stop)
		return l.Addr().(*net.TCPAddr).Port, hs
	}
	port, hs := serve(true)
	bare, _ := serve(false)
	h := probe.NewHost(nil)
	svc := "queue"
	grpcProbe := func(port int, service *string) manifest.Probe {
		return manifest.Probe{GRPC: &manifest.GRPCAction{Port: int32(port), Service: service}}
	}
	if r := check(h, target(port), grpcProbe(port, nil)); !r.Success {
		t.Errorf("serving: %+v", r)
	}
	hs.SetServingStatus(svc, healthpb.HealthCheckResponse_NOT_SERVING)
	if r := check(h, target(port), grpcProbe(port, &svc)); r.Success || !strings.Contains(r.Output, "NOT_SERVING") {
		t.Errorf("not serving: %+v", r)
	}
	hs.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	if r := check(h, target(port), grpcProbe(port, &svc)); !r.Success {
		t.Errorf("service serving: %+v", r)
	}
	if r := check(h, target(bare), grpcProbe(bare, nil)); r.Success || !strings.Contains(r.Output, "does not implement the gRPC health protocol") {
		t.Errorf("no health service: %+v", r)
	}
	if r := check(h, target(bare), grpcProbe(closedPort(t), nil)); r.Success {
		t.Errorf("closed port: %+v", r)
	}
}

// execer answers commands as a runtime would.
type execer struct {
	code int
	out  string
	err  error
	got  []string
	d    time.Duration
}

func (e *execer) Exec(_ context.Context, uid, container string, cmd []string, timeout time.Duration) (int, []byte, error) {
	e.got, e.d = cmd, timeout
	return e.code, []byte(e.out), e.err
}

func TestExec(t *testing.T) {
	for _, tc := range []struct {
		name string
		ex   execer
		ok   bool
		msg  string
	}{
		{"exit 0", execer{out: "fine\n"}, true, "fine"},
		{"exit 1 with output", execer{code: 1, out: "no file\n"}, false, `command ["cat" "/tmp/healthy"] exited with 1: no file`},
		{"timed out", execer{err: fmt.Errorf("exec: %w", context.DeadlineExceeded)}, false, "timed out after 3s"},
		{"container not running", execer{err: fmt.Errorf("container app is not running")}, false, "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex := tc.ex
			r := probe.NewHost(&ex).Check(context.Background(), target(1), probe.Liveness,
				manifest.Probe{TimeoutSeconds: 3, Exec: &manifest.ExecAction{Command: []string{"cat", "/tmp/healthy"}}})
			if r.Success != tc.ok || !strings.Contains(r.Output, tc.msg) {
				t.Errorf("got %+v, want success %v and %q", r, tc.ok, tc.msg)
			}
			if ex.d != 3*time.Second {
				t.Errorf("the runtime was given timeout %s, want the probe's 3s", ex.d)
			}
		})
	}
}

func TestHooks(t *testing.T) {
	h := probe.NewHost(&execer{code: 2})
	tg := target(1)
	if r := h.Hook(context.Background(), tg, probe.PreStop, manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{"drain"}}}); r.Success {
		t.Errorf("a failing exec hook: %+v", r)
	}
	if r := h.Hook(context.Background(), tg, probe.PreStop, manifest.LifecycleHandler{Sleep: &manifest.SleepAction{Seconds: 0}}); !r.Success {
		t.Errorf("sleep 0: %+v", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := h.Hook(ctx, tg, probe.PreStop, manifest.LifecycleHandler{Sleep: &manifest.SleepAction{Seconds: 30}}); r.Success || !strings.Contains(r.Output, "sleep interrupted") {
		t.Errorf("an interrupted sleep: %+v", r)
	}
	if r := h.Hook(context.Background(), tg, probe.PostStart, manifest.LifecycleHandler{}); r.Success {
		t.Errorf("no handler: %+v", r)
	}
}

// An httpGet probe's CEL check judges the response: the probe passes when
// the status is 200-399 and the check holds.
func TestHTTPGetCEL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/down" {
			w.WriteHeader(503)
		}
		fmt.Fprint(w, `{"queue_depth": 12, "ready": true}`)
	}))
	defer srv.Close()
	h := probe.NewHost(nil)
	tg := target(portOf(t, srv.URL))
	for _, tc := range []struct {
		path, cel string
		ok        bool
		msg       string
	}{
		{"/status", "response.json.queue_depth < 1000", true, ""},
		{"/status", "response.json.queue_depth < 10", false, `CEL check "response.json.queue_depth < 10" is false (status 200)`},
		{"/status", "response.headers['content-type'] == 'application/json' && response.json.ready == true", true, ""},
		{"/status", "response.json.missing == 1", false, "no such key"},
		{"/down", "true", false, "statuscode: 503"},
	} {
		r := check(h, tg, manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: tc.path, Port: manifest.FromString("web"), CEL: tc.cel}})
		if r.Success != tc.ok || !strings.Contains(r.Output, tc.msg) {
			t.Errorf("%s %q: %+v, want success %v and %q", tc.path, tc.cel, r, tc.ok, tc.msg)
		}
	}
}
