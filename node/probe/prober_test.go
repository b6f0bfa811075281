package probe_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// script answers a check of kind at second s of the container's life.
type script func(kind probe.Kind, s int) bool

// passing makes every check pass.
func passing(probe.Kind, int) bool { return true }

// failingFrom makes checks of kind fail from second from on; others pass.
func failingFrom(kind probe.Kind, from int) script {
	return func(k probe.Kind, s int) bool { return k != kind || s < from }
}

// passingFrom makes checks of kind pass from second from on; others pass.
func passingFrom(kind probe.Kind, from int) script {
	return func(k probe.Kind, s int) bool { return k != kind || s >= from }
}

// run drives a prober from the container's start to horizon seconds, each
// check taking no time, and returns every check made and every change, as
// "<second> <kind> <change>" and "<second> <kind> check".
func run(c manifest.Container, answer script, horizon int) (checks, changes []string) {
	pr := probe.NewProber(c, t0)
	for {
		next, ok := pr.Next()
		if !ok || next.Sub(t0) > time.Duration(horizon)*time.Second {
			return checks, changes
		}
		s := int(next.Sub(t0) / time.Second)
		for _, k := range pr.Begin(next) {
			checks = append(checks, fmt.Sprintf("%d %s check", s, k))
			ok := answer(k, s)
			out := "ok"
			if !ok {
				out = "failed"
			}
			for _, tr := range pr.Observe(k, next, probe.Result{Success: ok, Output: out}) {
				line := fmt.Sprintf("%d %s %s", s, tr.Probe, tr.Change)
				if tr.GracePeriodSeconds != nil {
					line += fmt.Sprintf(" grace=%d", *tr.GracePeriodSeconds)
				}
				changes = append(changes, line)
			}
		}
	}
}

func httpProbe(mut func(*manifest.Probe)) *manifest.Probe {
	p := &manifest.Probe{HTTPGet: &manifest.HTTPGetAction{Path: "/healthz", Port: manifest.FromInt(8080)}}
	if mut != nil {
		mut(p)
	}
	return p
}

func period(n int32) func(*manifest.Probe) { return func(p *manifest.Probe) { p.PeriodSeconds = n } }

func i64(n int64) *int64 { return &n }

func TestProberTransitions(t *testing.T) {
	for _, tc := range []struct {
		name      string
		container manifest.Container
		answer    script
		horizon   int
		// wantChanges are every change in order; wantChecks, when set,
		// every check made.
		wantChanges []string
		wantChecks  []string
	}{
		{
			name:      "passing liveness reports nothing",
			container: manifest.Container{LivenessProbe: httpProbe(period(1))},
			answer:    passing, horizon: 60,
		},
		{
			name:      "liveness fails failureThreshold (3) times in a row: kill",
			container: manifest.Container{LivenessProbe: httpProbe(period(2))},
			answer:    failingFrom(probe.Liveness, 10), horizon: 60,
			// Ready from the start (no readiness probe), not once killed.
			wantChanges: []string{"14 liveness Kill", "14 liveness NotReady"},
		},
		{
			name:      "after a kill no probe of the instance runs",
			container: manifest.Container{LivenessProbe: httpProbe(period(5)), ReadinessProbe: httpProbe(period(5))},
			answer:    failingFrom(probe.Liveness, 1), horizon: 60,
			wantChanges: []string{"0 readiness Ready", "15 liveness Kill", "15 liveness NotReady"},
			wantChecks: []string{"0 liveness check", "0 readiness check", "5 liveness check", "5 readiness check",
				"10 liveness check", "10 readiness check", "15 liveness check", "15 readiness check"},
		},
		{
			name:      "a failure short of the threshold changes nothing",
			container: manifest.Container{LivenessProbe: httpProbe(period(1))},
			answer: func(_ probe.Kind, s int) bool {
				return s != 3 && s != 4 && s != 7 && s != 8 // never 3 in a row
			},
			horizon: 20,
		},
		{
			name: "liveness kill carries the probe's terminationGracePeriodSeconds",
			container: manifest.Container{LivenessProbe: httpProbe(func(p *manifest.Probe) {
				p.PeriodSeconds, p.FailureThreshold, p.TerminationGracePeriodSeconds = 1, 1, i64(5)
			})},
			answer: failingFrom(probe.Liveness, 3), horizon: 20,
			wantChanges: []string{"3 liveness Kill grace=5", "3 liveness NotReady"},
		},
		{
			name:      "initialDelaySeconds: the first check waits",
			container: manifest.Container{LivenessProbe: httpProbe(func(p *manifest.Probe) { p.InitialDelaySeconds, p.PeriodSeconds = 7, 10 })},
			answer:    passing, horizon: 30,
			wantChecks: []string{"7 liveness check", "17 liveness check", "27 liveness check"},
		},
		{
			name: "readiness: successThreshold in a row to become ready, failureThreshold to stop",
			container: manifest.Container{ReadinessProbe: httpProbe(func(p *manifest.Probe) {
				p.InitialDelaySeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = 5, 10, 2, 3
			})},
			answer:  failingFrom(probe.Readiness, 25),
			horizon: 60,
			// The package comment's worked example.
			wantChanges: []string{"15 readiness Ready", "45 readiness NotReady"},
		},
		{
			name:      "readiness flips back and forth, one change each way",
			container: manifest.Container{ReadinessProbe: httpProbe(func(p *manifest.Probe) { p.PeriodSeconds, p.FailureThreshold = 1, 1 })},
			answer: func(_ probe.Kind, s int) bool {
				return s < 3 || s >= 6
			},
			horizon:     10,
			wantChanges: []string{"0 readiness Ready", "3 readiness NotReady", "6 readiness Ready"},
		},
		{
			name:      "readiness failing from the start reports nothing: it was never ready",
			container: manifest.Container{ReadinessProbe: httpProbe(period(1))},
			answer:    passingFrom(probe.Readiness, 100), horizon: 10,
		},
		{
			name:      "readiness never kills",
			container: manifest.Container{ReadinessProbe: httpProbe(period(1))},
			answer:    failingFrom(probe.Readiness, 2), horizon: 30,
			wantChanges: []string{"0 readiness Ready", "4 readiness NotReady"},
		},
		{
			name: "startup gates liveness and readiness, then stops",
			container: manifest.Container{
				StartupProbe:   httpProbe(func(p *manifest.Probe) { p.PeriodSeconds, p.FailureThreshold = 2, 30 }),
				LivenessProbe:  httpProbe(period(5)),
				ReadinessProbe: httpProbe(period(5)),
			},
			answer: func(k probe.Kind, s int) bool {
				// The app takes 7 s to start; liveness would fail before.
				return s >= 7
			},
			horizon:     14,
			wantChanges: []string{"8 startup Started", "8 readiness Ready"},
			wantChecks: []string{"0 startup check", "2 startup check", "4 startup check", "6 startup check", "8 startup check",
				"8 liveness check", "8 readiness check", "13 liveness check", "13 readiness check"},
		},
		{
			name: "startup without readiness: ready once started",
			container: manifest.Container{
				StartupProbe:  httpProbe(period(1)),
				LivenessProbe: httpProbe(period(10)),
			},
			answer: passingFrom(probe.Startup, 2), horizon: 5,
			wantChanges: []string{"2 startup Started", "2 startup Ready"},
		},
		{
			name: "startup that never succeeds: killed at failureThreshold, with its grace period",
			container: manifest.Container{
				StartupProbe: httpProbe(func(p *manifest.Probe) {
					p.PeriodSeconds, p.FailureThreshold, p.TerminationGracePeriodSeconds = 1, 4, i64(0)
				}),
				LivenessProbe: httpProbe(period(1)),
			},
			answer: func(k probe.Kind, s int) bool { return k != probe.Startup }, horizon: 30,
			wantChanges: []string{"3 startup Kill grace=0"},
			wantChecks:  []string{"0 startup check", "1 startup check", "2 startup check", "3 startup check"},
		},
		{
			name: "liveness's initial delay counts from the container's start, not the startup probe's success",
			container: manifest.Container{
				StartupProbe:  httpProbe(period(1)),
				LivenessProbe: httpProbe(func(p *manifest.Probe) { p.InitialDelaySeconds, p.PeriodSeconds = 10, 10 }),
			},
			answer: passingFrom(probe.Startup, 2), horizon: 25,
			wantChecks:  []string{"0 startup check", "1 startup check", "2 startup check", "10 liveness check", "20 liveness check"},
			wantChanges: []string{"2 startup Started", "2 startup Ready"},
		},
		{
			name:      "no probes: nothing ever runs",
			container: manifest.Container{},
			answer:    passing, horizon: 100,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, changes := run(tc.container, tc.answer, tc.horizon)
			if !slices.Equal(changes, tc.wantChanges) {
				t.Errorf("changes:\n got %s\nwant %s", strings.Join(changes, ", "), strings.Join(tc.wantChanges, ", "))
			}
			if tc.wantChecks != nil && !slices.Equal(checks, tc.wantChecks) {
				t.Errorf("checks:\n got %s\nwant %s", strings.Join(checks, ", "), strings.Join(tc.wantChecks, ", "))
			}
		})
	}
}

func TestProberInitialState(t *testing.T) {
	for _, tc := range []struct {
		name           string
		c              manifest.Container
		started, ready bool
	}{
		{"no probes: started and ready", manifest.Container{}, true, true},
		{"liveness only: started and ready", manifest.Container{LivenessProbe: httpProbe(nil)}, true, true},
		{"readiness: not ready until it passes", manifest.Container{ReadinessProbe: httpProbe(nil)}, true, false},
		{"startup: neither", manifest.Container{StartupProbe: httpProbe(nil)}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := probe.NewProber(tc.c, t0)
			if pr.Started() != tc.started || pr.Ready() != tc.ready || pr.Killed() {
				t.Errorf("started %v ready %v killed %v, want %v %v false", pr.Started(), pr.Ready(), pr.Killed(), tc.started, tc.ready)
			}
		})
	}
}

// A check still running is not begun again, and Next skips it; its result,
// however late, counts, and a check overdue meanwhile runs at once, as a
// ticker's pending tick fires (the kubelet's prober workers tick).
func TestProberOneCheckAtATime(t *testing.T) {
	pr := probe.NewProber(manifest.Container{LivenessProbe: httpProbe(func(p *manifest.Probe) {
		p.PeriodSeconds, p.FailureThreshold = 1, 1
	})}, t0)
	if got := pr.Begin(t0); !slices.Equal(got, []probe.Kind{probe.Liveness}) {
		t.Fatalf("begin at 0: %v", got)
	}
	if _, ok := pr.Next(); ok {
		t.Fatal("Next names a probe whose check is running")
	}
	if got := pr.Begin(t0.Add(3 * time.Second)); len(got) != 0 {
		t.Fatalf("begun again while running: %v", got)
	}
	late := t0.Add(3500 * time.Millisecond)
	if out := pr.Observe(probe.Liveness, late, probe.Result{Success: true}); len(out) != 0 {
		t.Fatalf("a pass changed %v", out)
	}
	// Overdue since 1 s: it runs at once, then a period after that.
	if next, ok := pr.Next(); !ok || !next.Equal(t0.Add(time.Second)) {
		t.Fatalf("next %v %v, want %v", next, ok, t0.Add(time.Second))
	}
	if got := pr.Begin(late); len(got) != 1 {
		t.Fatalf("the overdue check did not begin: %v", got)
	}
	if next, ok := pr.Next(); ok {
		t.Fatalf("next %v while running", next)
	}
	pr.Observe(probe.Liveness, late, probe.Result{Success: true})
	if next, ok := pr.Next(); !ok || !next.Equal(late.Add(time.Second)) {
		t.Fatalf("next %v %v, want %v", next, ok, late.Add(time.Second))
	}
	// A result nobody began is ignored.
	if out := pr.Observe(probe.Liveness, late, probe.Result{}); len(out) != 0 || pr.Killed() {
		t.Fatalf("an unasked result changed %v", out)
	}
	// After the kill nothing runs.
	pr.Begin(late.Add(time.Second))
	out := pr.Observe(probe.Liveness, late.Add(time.Second), probe.Result{Output: "HTTP probe failed with statuscode: 500"})
	if len(out) != 2 || out[0].Change != probe.Kill || out[0].Message != "HTTP probe failed with statuscode: 500" || out[1].Change != probe.NotReady {
		t.Fatalf("kill: %+v", out)
	}
	if got := pr.Begin(late.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("a killed instance probed: %v", got)
	}
}

// A readiness result arriving after liveness killed the instance changes
// nothing: the instance is on its way out.
func TestProberResultAfterKill(t *testing.T) {
	fail1 := func(p *manifest.Probe) { p.PeriodSeconds, p.FailureThreshold = 1, 1 }
	pr := probe.NewProber(manifest.Container{LivenessProbe: httpProbe(fail1), ReadinessProbe: httpProbe(fail1)}, t0)
	if got := pr.Begin(t0); len(got) != 2 {
		t.Fatalf("begin: %v", got)
	}
	if out := pr.Observe(probe.Liveness, t0, probe.Result{}); len(out) != 1 || out[0].Change != probe.Kill {
		t.Fatalf("liveness: %+v", out)
	}
	if out := pr.Observe(probe.Readiness, t0, probe.Result{Success: true}); len(out) != 0 || pr.Ready() {
		t.Fatalf("readiness after the kill: %+v, ready %v", out, pr.Ready())
	}
}

// An instance taken up ready stays ready until its readiness probe fails
// failureThreshold times; its startup probe does not run again.
func TestProberResume(t *testing.T) {
	pr := probe.NewProber(manifest.Container{StartupProbe: httpProbe(period(1)), ReadinessProbe: httpProbe(period(1))}, t0)
	pr.Resume()
	if !pr.Started() || !pr.Ready() {
		t.Fatalf("started %v ready %v", pr.Started(), pr.Ready())
	}
	var changes []probe.Change
	for s := range 3 {
		at := t0.Add(time.Duration(s) * time.Second)
		for _, k := range pr.Begin(at) {
			if k != probe.Readiness {
				t.Fatalf("%s ran", k)
			}
			for _, tr := range pr.Observe(k, at, probe.Result{}) {
				changes = append(changes, tr.Change)
			}
		}
	}
	if !slices.Equal(changes, []probe.Change{probe.NotReady}) || pr.Ready() {
		t.Errorf("changes %v, ready %v; want one NotReady after 3 failures", changes, pr.Ready())
	}
}
