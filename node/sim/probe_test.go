package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

func (b *behaviourPod) target() probe.Target {
	return probe.Target{Namespace: "default", Pod: "p", UID: b.pod.UID, IP: "10.9.8.2", Container: "job",
		Ports: []manifest.ContainerPort{{Name: "http", ContainerPort: 8080}}}
}

func (b *behaviourPod) check(kind probe.Kind, p manifest.Probe) probe.Result {
	return b.rt.Check(context.Background(), b.target(), kind, p)
}

func get(path string) manifest.Probe {
	return manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: path, Port: manifest.FromString("http")}}
}

// Probes are answered as the demo image answers, on the runtime's clock.
func TestProbesFollowTheDemoImage(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_START_DELAY=2s", "HELLO_UNHEALTHY_AFTER=10s", "HELLO_UNREADY_AFTER=5s")
	tcp := manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(8080)}}
	type want struct {
		at                         time.Duration
		tcp, healthz, ready, other bool
	}
	for _, w := range []want{
		{0, false, false, false, false}, // not listening yet
		{2 * time.Second, true, true, true, true},
		{5 * time.Second, true, true, false, true},
		{10 * time.Second, true, false, false, true},
	} {
		b.clock.Advance(w.at - b.clock.Now().Sub(b.state().StartedAt))
		for name, got := range map[string]probe.Result{
			"tcp": b.check(probe.Liveness, tcp), "/healthz": b.check(probe.Liveness, get("/healthz")),
			"/ready": b.check(probe.Readiness, get("/ready")), "/other": b.check(probe.Readiness, get("/other")),
		} {
			exp := map[string]bool{"tcp": w.tcp, "/healthz": w.healthz, "/ready": w.ready, "/other": w.other}[name]
			if got.Success != exp {
				t.Errorf("at %s %s: %+v, want success %v", w.at, name, got, exp)
			}
		}
	}
	if r := b.check(probe.Liveness, get("/healthz")); !strings.Contains(r.Output, "statuscode: 500") {
		t.Errorf("unhealthy: %q", r.Output)
	}
	cel := func(expr string) manifest.Probe {
		return manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/status", Port: manifest.FromString("http"), CEL: expr}}
	}
	if r := b.check(probe.Readiness, cel("response.json.healthy == false && response.json.uptime_seconds == 10")); !r.Success {
		t.Errorf("a CEL check over /status: %+v", r)
	}
	if r := b.check(probe.Readiness, cel("response.json.queue_depth > 0")); r.Success || !strings.Contains(r.Output, "is false") {
		t.Errorf("a failing CEL check over /status: %+v", r)
	}
	if r := b.check(probe.Liveness, manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/", Port: manifest.FromString("admin")}}); r.Success {
		t.Errorf("a port name the container does not declare passed: %+v", r)
	}
	// exec: `hello probe PATH` as in the image; anything else passes.
	if r := b.check(probe.Liveness, manifest.Probe{Exec: &manifest.ExecAction{Command: []string{"/app/hello", "probe", "/healthz"}}}); r.Success {
		t.Errorf("hello probe /healthz: %+v", r)
	}
	if r := b.check(probe.Liveness, manifest.Probe{Exec: &manifest.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}); !r.Success {
		t.Errorf("cat: %+v", r)
	}
}

func TestScriptedProbesAndExec(t *testing.T) {
	b := startBehaviourPod(t, 0)
	if r := b.check(probe.Liveness, get("/healthz")); !r.Success {
		t.Fatalf("default: %+v", r)
	}
	b.rt.SetProbe(b.pod.UID, "job", probe.Liveness, &probe.Result{Output: "scripted"})
	if r := b.check(probe.Liveness, get("/healthz")); r.Success || r.Output != "scripted" {
		t.Errorf("scripted liveness: %+v", r)
	}
	if r := b.check(probe.Readiness, get("/healthz")); !r.Success {
		t.Errorf("readiness is not scripted: %+v", r)
	}
	b.rt.SetProbe(b.pod.UID, "job", probe.Liveness, nil)
	if r := b.check(probe.Liveness, get("/healthz")); !r.Success {
		t.Errorf("unscripted again: %+v", r)
	}
	b.rt.ScriptExec(func(uid, container string, cmd []string) (int, []byte, bool) {
		return 3, []byte("nope"), cmd[0] == "check"
	})
	code, out, err := b.rt.Exec(context.Background(), b.pod.UID, "job", []string{"check"}, time.Second)
	if err != nil || code != 3 || string(out) != "nope" {
		t.Errorf("scripted exec: %d %q %v", code, out, err)
	}
	if code, _, err := b.rt.Exec(context.Background(), b.pod.UID, "job", []string{"true"}, time.Second); err != nil || code != 0 {
		t.Errorf("unscripted exec: %d %v", code, err)
	}
	b.rt.Exit(b.pod.UID, "job", 1)
	if _, _, err := b.rt.Exec(context.Background(), b.pod.UID, "job", []string{"true"}, time.Second); err == nil {
		t.Error("exec in an exited container succeeded")
	}
	if r := b.check(probe.Liveness, get("/healthz")); r.Success {
		t.Errorf("a probe of an exited container passed: %+v", r)
	}
}

// A preStop hook's `hello log` line lands in the log before the SIGTERM's.
func TestStopAfterPreStop(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_TICK=1s")
	c := b.c
	c.Lifecycle = &manifest.Lifecycle{PreStop: &manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{"/app/hello", "log", "preStop: draining"}}}}
	b.changed()
	hook, err := probe.Stop(context.Background(), b.rt, b.rt, b.target(), c, 30*time.Second)
	if err != nil || hook == nil || !hook.Success {
		t.Fatalf("stop: %v %+v", err, hook)
	}
	st := b.state()
	if st.Running || !st.Exited || st.ExitCode != 0 {
		t.Fatalf("after the stop: %+v", st)
	}
	if !b.changed() {
		t.Error("the stop did not signal Changes")
	}
	log := b.logs(false)
	pre, term := strings.Index(log, "hello: preStop: draining"), strings.Index(log, "hello: shutting down")
	if pre < 0 || term < pre {
		t.Errorf("want the preStop line before the shutdown:\n%s", log)
	}
}

// A container that ignores SIGTERM is killed when its grace period ends on
// the runtime's clock; a run that would end by itself exits 143 on SIGTERM.
func TestStopGracePeriod(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_IGNORE_SIGTERM=true")
	done := make(chan error, 1)
	go func() { done <- b.rt.StopContainer(context.Background(), b.pod.UID, "job", 30*time.Second) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.logs(false), "SIGTERM ignored") {
		if time.Now().After(deadline) {
			t.Fatalf("no SIGTERM:\n%s", b.logs(false))
		}
		time.Sleep(time.Millisecond)
	}
	b.clock.Advance(29 * time.Second)
	if st := b.state(); !st.Running {
		t.Fatalf("killed before its grace period: %+v", st)
	}
	b.clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := b.state(); st.Running || st.ExitCode != 137 || st.FinishedAt.Sub(st.StartedAt) != 30*time.Second {
		t.Errorf("after the grace period: %+v", st)
	}

	b = startBehaviourPod(t, 0, "HELLO_RUN_FOR=1h")
	if err := b.rt.StopPod(context.Background(), b.pod.UID, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := b.state(); st.Running || st.ExitCode != 143 {
		t.Errorf("a stopped run: %+v", st)
	}
	if b.clock.pending() != 0 {
		t.Errorf("%d timers left after the stop", b.clock.pending())
	}

	b = startBehaviourPod(t, 0)
	if err := b.rt.StopContainer(context.Background(), b.pod.UID, "job", 0); err != nil {
		t.Fatal(err)
	}
	if st := b.state(); st.Running || st.ExitCode != 137 {
		t.Errorf("grace 0: %+v", st)
	}
	// Stopping what has stopped is success.
	if err := b.rt.StopContainer(context.Background(), b.pod.UID, "job", time.Second); err != nil {
		t.Error(err)
	}
}

func TestSleepHookOnTheRuntimeClock(t *testing.T) {
	b := startBehaviourPod(t, 0)
	done := make(chan probe.Result, 1)
	go func() {
		done <- b.rt.Hook(context.Background(), b.target(), probe.PreStop, manifest.LifecycleHandler{Sleep: &manifest.SleepAction{Seconds: 5}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for b.clock.pending() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sleep set no timer")
		}
		time.Sleep(time.Millisecond)
	}
	b.clock.Advance(5 * time.Second)
	if r := <-done; !r.Success {
		t.Errorf("sleep: %+v", r)
	}
}
