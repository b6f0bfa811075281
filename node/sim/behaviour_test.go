package sim

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// fakeClock is Config.Clock and Config.AfterFunc under the test's control:
// timers fire only in Advance, in order of their due time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[int]fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), timers: map[int]fakeTimer{}}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	c.timers[id] = fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// Advance moves the clock by d, firing every timer due meanwhile at its own
// time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due []int
		for id, t := range c.timers {
			if !t.at.After(end) {
				due = append(due, id)
			}
		}
		if len(due) == 0 {
			break
		}
		sort.Slice(due, func(i, j int) bool {
			a, b := c.timers[due[i]], c.timers[due[j]]
			return a.at.Before(b.at) || a.at.Equal(b.at) && due[i] < due[j]
		})
		t := c.timers[due[0]]
		delete(c.timers, due[0])
		c.now = t.at
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// behaviourPod is a pod of one container "job" with env, started on a
// simulated runtime with a fake clock.
type behaviourPod struct {
	t     *testing.T
	rt    *Runtime
	clock *fakeClock
	pod   node.Pod
	c     manifest.Container
}

func startBehaviourPod(t *testing.T, delay time.Duration, env ...string) *behaviourPod {
	t.Helper()
	clock := newFakeClock()
	rt, err := New(Config{PodCIDR: "10.9.8.0/24", StartDelay: delay, Clock: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	c := manifest.Container{Name: "job", Image: "gantry.local/hello:v1"}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		c.Env = append(c.Env, manifest.EnvVar{Name: k, Value: v})
	}
	b := &behaviourPod{t: t, rt: rt, clock: clock, c: c,
		pod: node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001", Spec: manifest.PodSpec{Containers: []manifest.Container{c}}}}
	if _, err := rt.CreateSandbox(context.Background(), b.pod); err != nil {
		t.Fatal(err)
	}
	b.start()
	return b
}

func (b *behaviourPod) start() {
	b.t.Helper()
	if err := b.rt.StartContainer(context.Background(), b.pod, b.c); err != nil {
		b.t.Fatal(err)
	}
}

func (b *behaviourPod) state() node.ContainerState {
	b.t.Helper()
	st, ok, err := b.rt.Pod(context.Background(), b.pod.UID)
	if err != nil || !ok || len(st.Containers) != 1 {
		b.t.Fatalf("pod: %+v %v %v", st, ok, err)
	}
	return st.Containers[0]
}

func (b *behaviourPod) logs(previous bool) string {
	b.t.Helper()
	var out strings.Builder
	if err := b.rt.Logs(context.Background(), "default", "p", "job", node.LogOptions{Previous: previous}, &out); err != nil {
		b.t.Fatal(err)
	}
	return out.String()
}

// changed reports whether Changes was signalled, and clears it.
func (b *behaviourPod) changed() bool {
	select {
	case <-b.rt.Changes():
		return true
	default:
		return false
	}
}

// HELLO_RUN_FOR=30s HELLO_EXIT_CODE=3 HELLO_TICK=10s: the container runs
// 30 s, logs ticks 1 and 2 as the demo image prints them, and exits with 3.
func TestRunForThenExit(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_RUN_FOR=30s", "HELLO_EXIT_CODE=3", "HELLO_TICK=10s", "JOB_COMPLETION_INDEX=2")
	start := b.clock.Now()
	if c := b.state(); !c.Running || !c.StartedAt.Equal(start) {
		t.Fatalf("started: %+v", c)
	}
	b.changed()
	b.clock.Advance(29 * time.Second)
	if c := b.state(); !c.Running || b.changed() {
		t.Fatalf("after 29 s: %+v, want still running and no change", c)
	}
	want := "simulated container job of default/p started\n" +
		"2026/12/03 12:00:00 hello: run 1, index 2: exits with 3 after 30s\n" +
		"2026/12/03 12:00:10 hello: tick 1, index 2\n" +
		"2026/12/03 12:00:20 hello: tick 2, index 2\n"
	if got := b.logs(false); got != want {
		t.Fatalf("log after 29 s:\n%s\nwant:\n%s", got, want)
	}
	b.clock.Advance(time.Second)
	c := b.state()
	if c.Running || !c.Exited || c.ExitCode != 3 || !c.FinishedAt.Equal(start.Add(30*time.Second)) || c.Restarts != 0 {
		t.Fatalf("after 30 s: %+v, want exited with 3 at 12:00:30", c)
	}
	if !b.changed() {
		t.Error("the exit signalled no change")
	}
	want += "2026/12/03 12:00:30 hello: exiting with code 3 after 30s\n" +
		"simulated container job exited with code 3\n"
	b.clock.Advance(time.Hour)
	if got := b.logs(false); got != want {
		t.Fatalf("log after the exit:\n%s\nwant:\n%s", got, want)
	}
}

// HELLO_FAIL_TIMES=2 HELLO_RUN_FOR=5s: runs 1 and 2 exit with 1 (then
// HELLO_FAIL_CODE) after 5 s, run 3 with HELLO_EXIT_CODE; the count is the
// runtime's own restart count.
func TestFailTimes(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_FAIL_TIMES=2", "HELLO_FAIL_CODE=9", "HELLO_RUN_FOR=5s")
	for run, want := range []int32{9, 9, 0} {
		if run > 0 {
			b.start()
		}
		if c := b.state(); !c.Running || c.Restarts != int32(run) {
			t.Fatalf("run %d: %+v, want running after %d restarts", run+1, c, run)
		}
		b.clock.Advance(5 * time.Second)
		if c := b.state(); !c.Exited || c.ExitCode != want {
			t.Fatalf("run %d after 5 s: %+v, want exited with %d", run+1, c, want)
		}
	}
	if got := b.logs(true); !strings.Contains(got, "hello: run 2: failing run 2 of 2 (HELLO_FAIL_TIMES=2), exits with 9 after 5s") {
		t.Errorf("previous log (run 2):\n%s", got)
	}
	if got := b.logs(false); !strings.Contains(got, "hello: run 3: exits with 0 after 5s") {
		t.Errorf("current log (run 3):\n%s", got)
	}
}

// HELLO_EXIT_CODE alone: the run exits at once, in StartContainer, and says so.
func TestExitAtOnce(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_EXIT_CODE=42")
	if c := b.state(); !c.Exited || c.ExitCode != 42 || !c.FinishedAt.Equal(c.StartedAt) {
		t.Fatalf("%+v, want exited with 42 at once", c)
	}
	if !b.changed() {
		t.Error("the exit signalled no change")
	}
	if b.clock.pending() != 0 {
		t.Errorf("%d timers left", b.clock.pending())
	}
}

// An invalid variable: the container exits with 2 at once and its log names
// the variable, as the demo image does.
func TestInvalidEnvironmentExits2(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_TICK=often")
	if c := b.state(); !c.Exited || c.ExitCode != 2 {
		t.Fatalf("%+v, want exited with 2", c)
	}
	if got := b.logs(false); !strings.Contains(got, `2026/12/03 12:00:00 hello: HELLO_TICK="often": not a duration`) {
		t.Errorf("log:\n%s", got)
	}
}

// The run starts after StartDelay, and its time counts from then.
func TestRunForAfterStartDelay(t *testing.T) {
	b := startBehaviourPod(t, 2*time.Second, "HELLO_RUN_FOR=10s")
	if c := b.state(); c.Running {
		t.Fatalf("before the delay: %+v", c)
	}
	b.clock.Advance(11 * time.Second)
	if c := b.state(); !c.Running {
		t.Fatalf("after 11 s (2 s delay + 9 s): %+v, want running", c)
	}
	b.clock.Advance(time.Second)
	if c := b.state(); !c.Exited || c.ExitCode != 0 || c.FinishedAt.Sub(c.StartedAt) != 10*time.Second {
		t.Fatalf("after 12 s: %+v, want exited with 0 after 10 s of running", c)
	}
}

// An instance ended early (Exit) and restarted runs its full time: the
// first instance's timer does not end the second.
func TestEarlyExitThenRestartRunsItsFullTime(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_RUN_FOR=10s", "HELLO_EXIT_CODE=5")
	b.clock.Advance(4 * time.Second)
	b.rt.Exit(b.pod.UID, "job", 137)
	b.start()
	b.clock.Advance(6 * time.Second) // when the first instance would have ended
	if c := b.state(); !c.Running || c.Restarts != 1 {
		t.Fatalf("10 s after the first start: %+v, want the restarted instance running", c)
	}
	b.clock.Advance(4 * time.Second)
	if c := b.state(); !c.Exited || c.ExitCode != 5 {
		t.Fatalf("10 s after the restart: %+v, want exited with 5", c)
	}
}

// A removed pod leaves no timer behind, and a timer that fires late finds
// nothing to end.
func TestRemovalCancelsTheRun(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_RUN_FOR=10s", "HELLO_TICK=1s")
	if err := b.rt.RemovePod(context.Background(), "default", "p", b.pod.UID); err != nil {
		t.Fatal(err)
	}
	if n := b.clock.pending(); n != 0 {
		t.Errorf("%d timers left after the removal", n)
	}
	b.rt.ended(b.pod.UID, "job", 0) // fired just before the removal
	if _, ok, _ := b.rt.Pod(context.Background(), b.pod.UID); ok || len(b.rt.runs) != 0 {
		t.Fatalf("the removed pod came back, or its run is kept (%d)", len(b.rt.runs))
	}
}

// Following the log of a ticking container writes each tick as it comes.
func TestFollowTicks(t *testing.T) {
	clock := newFakeClock()
	rt, err := New(Config{PodCIDR: "10.9.8.0/24", Clock: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	p := node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001"}
	c := manifest.Container{Name: "job", Image: "img", Env: []manifest.EnvVar{{Name: "HELLO_TICK", Value: "10ms"}}}
	if _, err := rt.CreateSandbox(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(context.Background(), p, c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncWriter
	done := make(chan error, 1)
	go func() { done <- rt.Logs(ctx, "default", "p", "job", node.LogOptions{Follow: true}, &out) }()
	clock.Advance(30 * time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "hello: tick 3\n") {
		if time.Now().After(deadline) {
			t.Fatalf("followed log lacks tick 3 after 10 s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "hello: tick "); n != 3 {
		t.Errorf("%d tick lines, want 3 (each once):\n%s", n, out.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// HELLO_ALLOCATE over the container's memory limit: the OOM killer ends the
// run at once (137, OOMKilled), and the restarted instance keeps how the
// killed one ended as its last state. Under the limit it serves.
func TestAllocateOverTheLimitIsOOMKilled(t *testing.T) {
	b := startBehaviourPod(t, 0, "HELLO_ALLOCATE=64Mi")
	if c := b.state(); !c.Running {
		t.Fatalf("without a limit: %+v, want running", c)
	}

	limit, err := manifest.ParseQuantity("32Mi")
	if err != nil {
		t.Fatal(err)
	}
	b = startBehaviourPod(t, 0, "HELLO_ALLOCATE=64Mi")
	b.c.Resources.Limits = map[string]manifest.Quantity{"memory": limit}
	b.pod.Spec.Containers[0] = b.c
	if err := b.rt.RemovePod(context.Background(), "default", "p", b.pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.rt.CreateSandbox(context.Background(), b.pod); err != nil {
		t.Fatal(err)
	}
	b.start()
	first := b.state()
	if first.Running || !first.Exited || first.ExitCode != 137 || !first.OOMKilled || first.Last != nil {
		t.Fatalf("over the limit: %+v, want exited 137, OOMKilled", first)
	}
	b.clock.Advance(time.Second)
	b.start()
	again := b.state()
	if l := again.Last; again.Restarts != 1 || l == nil || l.ExitCode != 137 || !l.OOMKilled || !l.FinishedAt.Equal(first.FinishedAt) {
		t.Fatalf("restarted: %+v, last %+v; want the OOM kill as the last state", again, l)
	}
}
