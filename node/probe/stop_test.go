package probe_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

// recorder is a Checker and a Stopper that records what it is asked, in
// order.
type recorder struct {
	mu       sync.Mutex
	calls    []string
	deadline time.Duration // how far the hook's deadline was
	grace    map[string]time.Duration
	hookRes  probe.Result
}

func (r *recorder) Check(context.Context, probe.Target, probe.Kind, manifest.Probe) probe.Result {
	return probe.Result{Success: true}
}

func (r *recorder) Hook(ctx context.Context, t probe.Target, hook probe.Hook, h manifest.LifecycleHandler) probe.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, string(hook)+" "+t.Container)
	if d, ok := ctx.Deadline(); ok {
		r.deadline = time.Until(d)
	}
	return r.hookRes
}

func (r *recorder) StopContainer(_ context.Context, uid, container string, grace time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "stop "+container)
	if r.grace == nil {
		r.grace = map[string]time.Duration{}
	}
	r.grace[container] = grace
	return nil
}

func preStop() *manifest.Lifecycle {
	return &manifest.Lifecycle{PreStop: &manifest.LifecycleHandler{Exec: &manifest.ExecAction{Command: []string{"drain"}}}}
}

func TestStopRunsPreStopThenStops(t *testing.T) {
	r := &recorder{hookRes: probe.Result{Success: true}}
	hook, err := probe.Stop(context.Background(), r, r, target(1), manifest.Container{Name: "app", Lifecycle: preStop()}, 30*time.Second)
	if err != nil || hook == nil || !hook.Success {
		t.Fatalf("stop: %v %+v", err, hook)
	}
	if !slices.Equal(r.calls, []string{"preStop app", "stop app"}) {
		t.Errorf("calls %v, want the hook before the stop", r.calls)
	}
	if r.deadline <= 29*time.Second || r.deadline > 30*time.Second {
		t.Errorf("the hook's deadline was %s away, want the grace period (30s)", r.deadline)
	}
	if g := r.grace["app"]; g <= 29*time.Second || g > 30*time.Second {
		t.Errorf("the stop was given %s, want what the hook left of 30s", g)
	}
}

func TestStopWithoutHookOrGrace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     manifest.Container
		grace time.Duration
		calls []string
		want  time.Duration
	}{
		{"no hook: the whole grace period", manifest.Container{Name: "app"}, 10 * time.Second, []string{"stop app"}, 10 * time.Second},
		{"grace 0: no hook, killed at once", manifest.Container{Name: "app", Lifecycle: preStop()}, 0, []string{"stop app"}, 0},
		{"a negative grace counts as 0", manifest.Container{Name: "app"}, -time.Second, []string{"stop app"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			hook, err := probe.Stop(context.Background(), r, r, target(1), tc.c, tc.grace)
			if err != nil || hook != nil {
				t.Fatalf("stop: %v %+v", err, hook)
			}
			if !slices.Equal(r.calls, tc.calls) || r.grace["app"] != tc.want {
				t.Errorf("calls %v grace %s, want %v %s", r.calls, r.grace["app"], tc.calls, tc.want)
			}
		})
	}
}

// A hook that used up the grace period leaves the container
// MinGraceAfterPreStop; a failed hook does not hold the stop up.
func TestStopAfterASlowOrFailedHook(t *testing.T) {
	r := &recorder{hookRes: probe.Result{Output: "drain: exit 1"}}
	hook, err := probe.Stop(context.Background(), r, r, target(1), manifest.Container{Name: "app", Lifecycle: preStop()}, time.Nanosecond)
	if err != nil || hook == nil || hook.Success {
		t.Fatalf("stop: %v %+v", err, hook)
	}
	if g := r.grace["app"]; g != probe.MinGraceAfterPreStop {
		t.Errorf("grace after the hook %s, want %s", g, probe.MinGraceAfterPreStop)
	}
}

func TestStopPodStopsEveryContainer(t *testing.T) {
	r := &recorder{hookRes: probe.Result{Success: true}}
	cs := []manifest.Container{{Name: "a", Lifecycle: preStop()}, {Name: "b"}}
	if err := probe.StopPod(context.Background(), zerolog.Nop(), r, r, target(1), cs, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	slices.Sort(r.calls)
	if !slices.Equal(r.calls, []string{"preStop a", "stop a", "stop b"}) {
		t.Errorf("calls %v", r.calls)
	}
	if r.grace["b"] != 5*time.Second {
		t.Errorf("b was given %s", r.grace["b"])
	}
}
