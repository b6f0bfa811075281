package node_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/probe"
	"github.com/gantry-sh/gantry/node/sim"
)

// decide appends a decision about pod default/<name> addressed to node n1.
func decide(t *testing.T, js jetstream.JetStream, name string, ev events.Event) {
	t.Helper()
	appendDecision(t, js, "n1", name, "test", events.NewID(), ev)
}

// bindPod binds pod default/<name> (uid) with spec to node n1.
func bindPod(t *testing.T, js jetstream.JetStream, name, uid string, spec manifest.PodSpec) {
	t.Helper()
	decide(t, js, name, &events.PodBound{Node: "n1", Epoch: 1, Pod: events.PodPlanned{Namespace: "default", Name: name, UID: uid, Spec: spec}})
}

// statusesOf is every status n1 reported of pod default/<name>, oldest
// first.
func statusesOf(t *testing.T, js jetstream.JetStream, name string) []*events.PodStatusObserved {
	t.Helper()
	var out []*events.PodStatusObserved
	for _, s := range read(t, js, events.StreamObservations, events.ObsPodSubject("n1", "default", name)) {
		if st, ok := s.ev.(*events.PodStatusObserved); ok {
			out = append(out, st)
		}
	}
	return out
}

func lastStatus(t *testing.T, js jetstream.JetStream, name string) *events.PodStatusObserved {
	t.Helper()
	all := statusesOf(t, js, name)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

func tcpProbe(mut func(*manifest.Probe)) *manifest.Probe {
	p := &manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(8080)}, PeriodSeconds: 1, FailureThreshold: 1}
	if mut != nil {
		mut(p)
	}
	return p
}

// checking is the simulated runtime counting the checks of each probe kind
// the agent makes.
type checking struct {
	*sim.Runtime
	mu     sync.Mutex
	checks map[probe.Kind]int
}

func (c *checking) Check(ctx context.Context, t probe.Target, kind probe.Kind, p manifest.Probe) probe.Result {
	c.mu.Lock()
	c.checks[kind]++
	c.mu.Unlock()
	return c.Runtime.Check(ctx, t, kind, p)
}

func (c *checking) count(kind probe.Kind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[kind]
}

// waitChecks waits until n more checks of kind were made.
func (c *checking) waitChecks(t *testing.T, kind probe.Kind, n int) {
	t.Helper()
	from := c.count(kind)
	eventually(t, "more checks", func() bool { return c.count(kind) >= from+n })
}

func probeAgent(t *testing.T) (jetstream.JetStream, *checking) {
	t.Helper()
	conn, url := bustest.Start(t)
	inner, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &checking{Runtime: inner, checks: map[probe.Kind]int{}}
	runAgent(t, url, rt)
	return conn.JS, rt
}

// runAgent runs node n1's agent on rt until the test ends.
func runAgent(t *testing.T, url string, rt node.Runtime) {
	t.Helper()
	t.Cleanup(startAgent(t, url, rt))
}

// startAgent starts node n1's agent on rt; stop stops it.
func startAgent(t *testing.T, url string, rt node.Runtime) (stop func()) {
	t.Helper()
	nc, err := bus.Connect(url, "node-n1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// A short back-off: a container killed again before its script is
	// lifted restarts soon.
	a := node.New(node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", BackoffBase: 100 * time.Millisecond}, rt, nc,
		zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
			nc.Close()
		})
	}
}

// A container failing its liveness probe is killed and restarted: its
// restart count goes up and it runs again.
func TestAgentLivenessFailureRestarts(t *testing.T) {
	js, rt := probeAgent(t)
	bindPod(t, js, "live", "uid-live", manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "img", LivenessProbe: tcpProbe(nil)}}})
	eventually(t, "the pod running", func() bool {
		st := lastStatus(t, js, "live")
		return st != nil && st.Phase == events.PhaseRunning && st.Containers[0].Ready
	})
	rt.SetProbe("uid-live", "app", probe.Liveness, &probe.Result{Output: "scripted failure"})
	eventually(t, "a restart", func() bool {
		st := lastStatus(t, js, "live")
		return st.Containers[0].RestartCount >= 1
	})
	rt.SetProbe("uid-live", "app", probe.Liveness, nil)
	eventually(t, "the restarted container running and ready", func() bool {
		c := lastStatus(t, js, "live").Containers[0]
		return c.State == events.ContainerRunning && c.Ready && c.RestartCount >= 1
	})
}

// A readiness flip is one observation each way, and no restart.
func TestAgentReadinessFlipsWithoutRestart(t *testing.T) {
	js, rt := probeAgent(t)
	bindPod(t, js, "ready", "uid-ready", manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "img", ReadinessProbe: tcpProbe(nil)}}})
	readiness := func() []bool {
		var out []bool
		for _, st := range statusesOf(t, js, "ready") {
			if st.Phase == events.PhaseRunning {
				out = append(out, st.Containers[0].Ready)
			}
		}
		return out
	}
	eventually(t, "ready", func() bool { r := readiness(); return len(r) > 0 && r[len(r)-1] })
	rt.SetProbe("uid-ready", "app", probe.Readiness, &probe.Result{Output: "scripted"})
	eventually(t, "not ready", func() bool { r := readiness(); return !r[len(r)-1] })
	rt.SetProbe("uid-ready", "app", probe.Readiness, nil)
	eventually(t, "ready again", func() bool { r := readiness(); return r[len(r)-1] })
	// A few more passing checks say nothing more.
	rt.waitChecks(t, probe.Readiness, 3)
	if got, want := readiness(), []bool{false, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("readiness reported %v, want %v (one report a flip)", got, want)
	}
	for _, st := range statusesOf(t, js, "ready") {
		if c := st.Containers[0]; c.RestartCount != 0 {
			t.Fatalf("restarted: %+v", c)
		}
	}
}

// A startup probe holds liveness back: a liveness probe that fails while the
// startup probe has not passed kills nothing.
func TestAgentStartupGatesLiveness(t *testing.T) {
	js, rt := probeAgent(t)
	spec := manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "img",
		StartupProbe:  tcpProbe(func(p *manifest.Probe) { p.FailureThreshold = 30 }),
		LivenessProbe: tcpProbe(nil)}}}
	// Both fail from the start; only the startup probe runs.
	bindPod(t, js, "slow", "uid-slow", spec)
	rt.SetProbe("uid-slow", "app", probe.Startup, &probe.Result{Output: "not yet"})
	rt.SetProbe("uid-slow", "app", probe.Liveness, &probe.Result{Output: "would kill"})
	eventually(t, "running, not ready", func() bool {
		st := lastStatus(t, js, "slow")
		return st != nil && st.Phase == events.PhaseRunning
	})
	rt.waitChecks(t, probe.Startup, 3)
	if c := lastStatus(t, js, "slow").Containers[0]; c.RestartCount != 0 || c.Ready || rt.count(probe.Liveness) != 0 {
		t.Fatalf("before the startup probe passed: %+v, %d liveness checks", c, rt.count(probe.Liveness))
	}
	// The startup probe passes: liveness runs, fails, and kills.
	rt.SetProbe("uid-slow", "app", probe.Startup, nil)
	eventually(t, "a restart by liveness", func() bool { return lastStatus(t, js, "slow").Containers[0].RestartCount >= 1 })
}

// stops is the simulated runtime recording the graceful stops the agent
// asks for and the removals, in order.
type stops struct {
	*sim.Runtime
	mu    sync.Mutex
	calls []string
	at    map[string]time.Time
}

func (s *stops) note(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
	if s.at == nil {
		s.at = map[string]time.Time{}
	}
	s.at[call] = time.Now()
}

func (s *stops) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *stops) StopContainer(ctx context.Context, uid, container string, grace time.Duration) error {
	s.note("stop " + container)
	return s.Runtime.StopContainer(ctx, uid, container, grace)
}

func (s *stops) RemovePod(ctx context.Context, ns, name, uid string) error {
	s.note("remove")
	return s.Runtime.RemovePod(ctx, ns, name, uid)
}

// A deleted pod: preStop, then SIGTERM; a container ignoring SIGTERM is
// killed at its grace period, and only then is the pod removed and its
// removal reported. A failing postStart hook kills its container.
func TestAgentDeletionIsGraceful(t *testing.T) {
	conn, url := bustest.Start(t)
	inner, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &stops{Runtime: inner}
	inner.ScriptExec(func(uid, container string, cmd []string) (int, []byte, bool) {
		switch cmd[0] {
		case "prestop":
			rt.note("preStop " + container)
			return 0, nil, true
		case "poststart-fails":
			return 1, []byte("no"), true
		}
		return 0, nil, false
	})
	runAgent(t, url, rt)
	js := conn.JS

	grace := int64(2)
	bindPod(t, js, "web", "uid-web", manifest.PodSpec{TerminationGracePeriodSeconds: &grace, Containers: []manifest.Container{{
		Name: "app", Image: "img", Env: []manifest.EnvVar{{Name: "HELLO_IGNORE_SIGTERM", Value: "true"}},
		Lifecycle: &manifest.Lifecycle{PreStop: &manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{"prestop"}}}}}}})
	eventually(t, "web running", func() bool {
		st := lastStatus(t, js, "web")
		return st != nil && st.Phase == events.PhaseRunning
	})
	deleted := time.Now()
	decide(t, js, "web", &events.PodDeleted{Namespace: "default", Name: "web", UID: "uid-web", Node: "n1", Epoch: 1, Reason: "Deleted"})
	removed := func() bool {
		for _, s := range read(t, js, events.StreamObservations, events.ObsPodSubject("n1", "default", "web")) {
			if _, ok := s.ev.(*events.PodRemoved); ok {
				return true
			}
		}
		return false
	}
	eventually(t, "the removal reported", removed)
	if got, want := rt.seen(), []string{"preStop app", "stop app", "remove"}; !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
	rt.mu.Lock()
	took := rt.at["remove"].Sub(deleted)
	rt.mu.Unlock()
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("removed %s after the deletion, want at the 2 s grace period", took)
	}

	// postStart failing: the container is killed and restarted.
	bindPod(t, js, "hooked", "uid-hooked", manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "img",
		Lifecycle: &manifest.Lifecycle{PostStart: &manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{"poststart-fails"}}}}}}})
	eventually(t, "a restart after the failed postStart hook", func() bool {
		st := lastStatus(t, js, "hooked")
		return st != nil && st.Containers[0].RestartCount >= 1
	})
}

// A restarted agent takes up a ready container as ready: its readiness is
// not reported again, nor flapped.
func TestAgentRestartKeepsReadiness(t *testing.T) {
	conn, url := bustest.Start(t)
	inner, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	rt := &checking{Runtime: inner, checks: map[probe.Kind]int{}}
	js := conn.JS
	stop := startAgent(t, url, rt)
	t.Cleanup(stop)
	bindPod(t, js, "ready", "uid-ready", manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "img",
		ReadinessProbe: tcpProbe(func(p *manifest.Probe) { p.FailureThreshold = 3 })}}})
	eventually(t, "ready", func() bool {
		st := lastStatus(t, js, "ready")
		return st != nil && st.Containers[0].Ready
	})
	before := len(statusesOf(t, js, "ready"))
	stop()
	t.Cleanup(startAgent(t, url, rt))
	rt.waitChecks(t, probe.Readiness, 3)
	if after := statusesOf(t, js, "ready"); len(after) != before {
		t.Errorf("after the agent's restart: %d statuses, want still %d; the last: %+v", len(after), before, after[len(after)-1].Containers[0])
	}
}
