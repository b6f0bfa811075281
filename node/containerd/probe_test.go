package containerd

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/probe"
)

// Exec runs a command in the running container: its exit code and output
// come back; one still running at its timeout is killed.
func TestExec(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	pod := testPod(t, webContainer())
	runPod(t, r, pod)
	eventually(t, "web to run", 10*time.Second, func() bool { return containerState(t, r, pod.UID, "web").Running })
	ctx := context.Background()

	code, out, err := r.Exec(ctx, pod.UID, "web", []string{"/app", "exit", "3"}, 10*time.Second)
	if err != nil || code != 3 || !strings.Contains(string(out), "bye from "+pod.Name+" with 3") {
		t.Fatalf("exec app exit 3: %d %q %v", code, out, err)
	}
	start := time.Now()
	_, _, err = r.Exec(ctx, pod.UID, "web", []string{"/app", "sleep"}, 500*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("exec past its timeout: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the timed-out exec took %s", d)
	}
	if _, _, err := r.Exec(ctx, pod.UID, "web", []string{"/nonexistent"}, 5*time.Second); err == nil {
		t.Error("exec of a missing binary succeeded")
	}
	if _, _, err := r.Exec(ctx, pod.UID, "nope", []string{"/app"}, time.Second); err == nil {
		t.Error("exec in a container that does not exist succeeded")
	}
	// The main process is untouched by all of it.
	if c := containerState(t, r, pod.UID, "web"); !c.Running || c.Restarts != 0 {
		t.Errorf("after the execs: %+v", c)
	}
}

// Probes made from the host reach the pod's IP; exec probes run in the
// container. The demo image's behaviours make them pass and fail.
func TestProbesFromTheHost(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	c := manifest.Container{Name: "app", Image: demoImage, Ports: []manifest.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Env: []manifest.EnvVar{{Name: "HELLO_UNREADY_AFTER", Value: "0s"}, {Name: "HELLO_QUEUE_DEPTH", Value: "4"}}}
	pod := testPod(t, c)
	ip := runPod(t, r, pod)
	h := probe.NewHost(r)
	tg := probe.Target{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, IP: ip}.For(c)
	check := func(p manifest.Probe) probe.Result {
		return h.Check(context.Background(), tg, probe.Liveness, p)
	}
	healthz := manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromString("http")}}
	eventually(t, "the app to answer /healthz", 10*time.Second, func() bool { return check(healthz).Success })

	for _, tc := range []struct {
		name string
		p    manifest.Probe
		ok   bool
	}{
		{"tcpSocket", manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(8080)}}, true},
		{"httpGet /ready (unready)", manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/ready", Port: manifest.FromInt(8080)}}, false},
		{"exec hello probe /healthz", manifest.Probe{Exec: &manifest.ExecAction{Command: []string{"/app/hello", "probe", "/healthz"}}}, true},
		{"exec hello probe /ready", manifest.Probe{Exec: &manifest.ExecAction{Command: []string{"/app/hello", "probe", "/ready"}}}, false},
		{"tcpSocket on a closed port", manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(9)}}, false},
	} {
		if got := check(tc.p); got.Success != tc.ok {
			t.Errorf("%s: %+v, want success %v", tc.name, got, tc.ok)
		}
	}
	_, resp := h.HTTPGet(context.Background(), tg, manifest.HTTPGetAction{Path: "/status", Port: manifest.FromString("http")})
	if resp == nil || !bytes.Contains(resp.Body, []byte(`"queue_depth":4`)) {
		t.Errorf("GET /status: %+v", resp)
	}
}

// Graceful stop on real containers: the preStop hook runs before SIGTERM
// (its line is in the log before the app's shutdown line), the app stops
// on SIGTERM, and the stopped container restarts.
func TestPreStopRunsBeforeSIGTERM(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	c := manifest.Container{Name: "app", Image: demoImage, Lifecycle: &manifest.Lifecycle{PreStop: &manifest.LifecycleHandler{
		Exec: &manifest.ExecAction{Command: []string{"/app/hello", "log", "preStop: draining"}}}}}
	pod := testPod(t, c)
	ip := runPod(t, r, pod)
	eventually(t, "the app to listen", 10*time.Second, func() bool { return strings.Contains(logOf(t, r, pod, "app"), "listening") })

	tg := probe.Target{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, IP: ip}
	start := time.Now()
	err := probe.StopPod(context.Background(), zerolog.New(zerolog.NewTestWriter(t)), probe.NewHost(r), r, tg, pod.Spec.Containers, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the stop took %s though the app stops on SIGTERM", d)
	}
	st := containerState(t, r, pod.UID, "app")
	if st.Running || !st.Exited || st.ExitCode != 0 {
		t.Fatalf("after the stop: %+v", st)
	}
	log := logOf(t, r, pod, "app")
	pre, term := strings.Index(log, "hello: preStop: draining"), strings.Index(log, "hello: shutting down")
	if pre < 0 || term < 0 || term < pre {
		t.Fatalf("want the preStop line, then the SIGTERM's shutting down:\n%s", log)
	}
	if err := r.StartContainer(context.Background(), pod, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the stopped container to run again", 10*time.Second, func() bool {
		st := containerState(t, r, pod.UID, "app")
		return st.Running && st.Restarts == 1
	})
}

// A container that ignores SIGTERM is killed (SIGKILL, exit 137) once its
// grace period has passed, not before.
func TestIgnoredSIGTERMKilledAtGracePeriod(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	c := manifest.Container{Name: "app", Image: demoImage, Env: []manifest.EnvVar{{Name: "HELLO_IGNORE_SIGTERM", Value: "true"}}}
	pod := testPod(t, c)
	runPod(t, r, pod)
	eventually(t, "the app to listen", 10*time.Second, func() bool { return strings.Contains(logOf(t, r, pod, "app"), "listening") })

	const grace = 2 * time.Second
	start := time.Now()
	if err := r.StopPod(context.Background(), pod.UID, grace); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < grace || took > grace+5*time.Second {
		t.Errorf("stopped after %s, want at the %s grace period", took, grace)
	}
	st := containerState(t, r, pod.UID, "app")
	if st.Running || st.ExitCode != 137 {
		t.Errorf("after the grace period: %+v, want killed (137)", st)
	}
	if log := logOf(t, r, pod, "app"); !strings.Contains(log, "hello: SIGTERM ignored") {
		t.Errorf("the app did not see SIGTERM:\n%s", log)
	}
	// Grace 0 kills at once.
	if err := r.StartContainer(context.Background(), pod, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the app to run again", 10*time.Second, func() bool { return containerState(t, r, pod.UID, "app").Running })
	start = time.Now()
	if err := r.StopContainer(context.Background(), pod.UID, "app", 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("grace 0 took %s", d)
	}
	if st := containerState(t, r, pod.UID, "app"); st.Running || st.ExitCode != 137 {
		t.Errorf("grace 0: %+v", st)
	}
}

func logOf(t *testing.T, r *Runtime, pod node.Pod, container string) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Logs(context.Background(), pod.Namespace, pod.Name, container, node.LogOptions{}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
