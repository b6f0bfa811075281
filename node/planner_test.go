package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// bound is the binding of pod ns/name (uid) with the named containers.
func bound(name, uid, policy string, containers ...string) *binding {
	spec := manifest.PodSpec{RestartPolicy: policy}
	for _, c := range containers {
		spec.Containers = append(spec.Containers, manifest.Container{Name: c, Image: "img"})
	}
	return &binding{bound: &events.PodBound{Node: "n1", Epoch: 1,
		Pod: events.PodPlanned{Namespace: "default", Name: name, UID: uid, Spec: spec}}}
}

func deleted(b *binding, grace *int64) *binding {
	b.deleted, b.grace = true, grace
	return b
}

func withGrace(b *binding, s int64) *binding {
	b.bound.Pod.Spec.TerminationGracePeriodSeconds = &s
	return b
}

// runtimePod is what the runtime holds of pod name (uid), with an IP.
func runtimePod(name, uid string, cs ...ContainerState) PodState {
	return PodState{Namespace: "default", Name: name, UID: uid, Epoch: 1, IP: "10.42.0.2", Containers: cs}
}

func runningC(name string) ContainerState {
	return ContainerState{Name: name, ID: name, Running: true, StartedAt: t0.Add(-time.Minute)}
}

func exitedC(name string, code int32) ContainerState {
	return ContainerState{Name: name, ID: name, Exited: true, ExitCode: code, StartedAt: t0.Add(-time.Minute), FinishedAt: t0.Add(-time.Second)}
}

func desired(bs ...*binding) map[string]*binding {
	m := map[string]*binding{}
	for _, b := range bs {
		m[key(b.bound.Pod.Namespace, b.bound.Pod.Name)] = b
	}
	return m
}

func i64(v int64) *int64 { return &v }

// Given what the log binds here and what the runtime holds, the planner
// asks for these actions.
func TestPlan(t *testing.T) {
	bp := backoffPolicy{Base: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}
	cases := []struct {
		name string
		w    World
		want []string
	}{
		{"nothing bound, nothing held", World{}, nil},
		{"a new binding: sandbox, containers, report",
			World{Desired: desired(bound("web", "u1", "", "app", "side"))},
			[]string{"sandbox default/web u1", "start default/web u1 app", "start default/web u1 side", "report default/web u1"}},
		{"running as bound: only the report (sent if it changed)",
			World{Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", runningC("app"))}},
			[]string{"report default/web u1"}},
		{"a sandbox without an IP is made again",
			World{Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{{Namespace: "default", Name: "web", UID: "u1"}}},
			[]string{"sandbox default/web u1", "start default/web u1 app", "report default/web u1"}},
		{"a pod bound nowhere is removed and its removal reported",
			World{Actual: []PodState{runtimePod("old", "u9", runningC("app"))}},
			[]string{"remove default/old u9 grace=30s", "report-removed default/old u9"}},
		{"a pod bound nowhere whose removal the log holds is removed without a report",
			World{Actual: []PodState{runtimePod("old", "u9")}, Removed: map[string]string{"default/old": "u9"}},
			[]string{"remove default/old u9 grace=30s"}},
		{"a superseded binding: the old uid goes, the new one starts",
			World{Desired: desired(bound("web", "u2", "", "app")), Actual: []PodState{runtimePod("web", "u1", runningC("app"))}},
			[]string{"remove default/web u1 grace=30s", "report-removed default/web u1",
				"sandbox default/web u2", "start default/web u2 app", "report default/web u2"}},
		{"a deleted pod goes with the deletion's grace period, its binding once the removal is stored",
			World{Desired: desired(deleted(withGrace(bound("web", "u1", "", "app"), 60), i64(5))),
				Actual: []PodState{runtimePod("web", "u1", runningC("app"))}},
			[]string{"remove default/web u1 grace=5s", "report-removed default/web u1 forget"}},
		{"a deleted pod without a deletion grace period goes with the pod's",
			World{Desired: desired(deleted(withGrace(bound("web", "u1", "", "app"), 60), nil)),
				Actual: []PodState{runtimePod("web", "u1", runningC("app"))}},
			[]string{"remove default/web u1 grace=1m0s", "report-removed default/web u1 forget"}},
		{"a deleted pod the runtime does not hold is removed (idempotent) and reported",
			World{Desired: desired(deleted(bound("web", "u1", "", "app"), nil))},
			[]string{"remove default/web u1 grace=30s", "report-removed default/web u1 forget"}},
		{"a deleted pod whose removal the log holds: its binding is forgotten",
			World{Desired: desired(deleted(bound("web", "u1", "", "app"), nil)), Removed: map[string]string{"default/web": "u1"}},
			[]string{"forget default/web u1"}},
		{"a deleted pod whose removal the log holds, still in the runtime: removed, then forgotten",
			World{Desired: desired(deleted(bound("web", "u1", "", "app"), nil)), Removed: map[string]string{"default/web": "u1"},
				Actual: []PodState{runtimePod("web", "u1", runningC("app"))}},
			[]string{"remove default/web u1 grace=30s", "forget default/web u1"}},
		{"fenced: every pod stops within at most 1 s, nothing starts, nothing is reported",
			World{Now: t0, Fenced: true, Desired: desired(withGrace(bound("a", "u1", "", "app"), 0), bound("b", "u2", "", "app"), bound("new", "u3", "", "app")),
				Actual: []PodState{runtimePod("a", "u1", runningC("app")), runtimePod("b", "u2", exitedC("app", 1)), runtimePod("old", "u9", runningC("app"))}},
			[]string{"remove default/a u1 grace=0s", "remove default/b u2 grace=1s", "remove default/old u9 grace=1s"}},
		{"fenced, nothing left to stop", World{Fenced: true, Desired: desired(bound("a", "u1", "", "app"))}, nil},
		{"an exited container is restarted, its back-off recorded",
			World{Now: t0, Desired: desired(bound("web", "u1", "Always", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 1))}},
			[]string{"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
		{"back-off doubles",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 1))},
				Backoff: map[string]Backoff{"u1/app": {Failures: 2, Until: t0.Add(-time.Second)}}},
			[]string{"restart default/web u1 app backoff=3 until=12:00:40", "report default/web u1"}},
		{"back-off is at most BackoffMax",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 1))},
				Backoff: map[string]Backoff{"u1/app": {Failures: 9, Until: t0.Add(-time.Second)}}},
			[]string{"restart default/web u1 app backoff=10 until=12:05:00", "report default/web u1"}},
		{"a container its back-off holds waits; the plan says until when",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 1))},
				Backoff: map[string]Backoff{"u1/app": {Failures: 1, Until: t0.Add(7 * time.Second)}}},
			[]string{"report default/web u1", "wait until 12:00:07"}},
		{"the earliest back-off is the wait",
			World{Now: t0, Desired: desired(bound("a", "u1", "", "app"), bound("b", "u2", "", "app")),
				Actual:  []PodState{runtimePod("a", "u1", exitedC("app", 1)), runtimePod("b", "u2", exitedC("app", 1))},
				Backoff: map[string]Backoff{"u1/app": {Until: t0.Add(9 * time.Second)}, "u2/app": {Until: t0.Add(3 * time.Second)}}},
			[]string{"report default/a u1", "report default/b u2", "wait until 12:00:03"}},
		{"OnFailure restarts a failure, not a success",
			World{Now: t0, Desired: desired(bound("a", "u1", "OnFailure", "ok", "bad")),
				Actual: []PodState{runtimePod("a", "u1", exitedC("ok", 0), exitedC("bad", 2))}},
			[]string{"restart default/a u1 bad backoff=1 until=12:00:10", "report default/a u1"}},
		{"Never restarts nothing",
			World{Now: t0, Desired: desired(bound("a", "u1", "Never", "app")), Actual: []PodState{runtimePod("a", "u1", exitedC("app", 2))}},
			[]string{"report default/a u1"}},
		{"a container created and never started is started",
			World{Desired: desired(bound("a", "u1", "", "app")), Actual: []PodState{runtimePod("a", "u1", ContainerState{Name: "app"})}},
			[]string{"start default/a u1 app", "report default/a u1"}},
		{"a container whose start failed waits out its back-off",
			World{Now: t0, Desired: desired(bound("a", "u1", "", "app")), Actual: []PodState{runtimePod("a", "u1")},
				Backoff: map[string]Backoff{"u1/app": {Failures: 1, Until: t0.Add(time.Second), Reason: "ErrImagePull"}}},
			[]string{"report default/a u1", "wait until 12:00:01"}},
		{"the worked example of planner.go",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app"), deleted(bound("db", "u2", "", "db"), nil)),
				Actual: []PodState{runtimePod("web", "u1", exitedC("app", 1)), runtimePod("old", "u9", runningC("app"))}},
			[]string{"remove default/old u9 grace=30s", "report-removed default/old u9",
				"remove default/db u2 grace=30s", "report-removed default/db u2 forget",
				"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := describe(plan(bp, tc.w))
			if want := strings.Join(tc.want, "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// exitedAfter is container name exited with code, at t0 - 1 s, after a run
// of ran.
func exitedAfter(name string, code int32, ran time.Duration) ContainerState {
	c := exitedC(name, code)
	c.StartedAt = c.FinishedAt.Add(-ran)
	return c
}

// As Kubernetes: a crashed container's first restart is at once, the next
// ones wait 10 s doubling to 5 min, counted from the restart before; a
// container that ran 10 minutes before it exited starts over.
func TestPlanRestartBackoff(t *testing.T) {
	bp := backoffPolicy{Base: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}
	web := desired(bound("web", "u1", "", "app"))
	crashed := func(ran time.Duration) []PodState {
		return []PodState{runtimePod("web", "u1", exitedAfter("app", 1, ran))}
	}
	// restartedAt is the back-off the restart of failure n (1-based) at at
	// left behind.
	restartedAt := func(n int, at time.Time) map[string]Backoff {
		return map[string]Backoff{"u1/app": bp.fail(Backoff{Failures: n - 1}, at, "CrashLoopBackOff", "")}
	}
	cases := []struct {
		name string
		w    World
		want []string
	}{
		{"first crash: restarted at once",
			World{Now: t0, Desired: web, Actual: crashed(time.Second)},
			[]string{"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
		{"second crash 3 s after the first restart: waits 10 s from that restart",
			World{Now: t0, Desired: web, Actual: crashed(3 * time.Second), Backoff: restartedAt(1, t0.Add(-4*time.Second))},
			[]string{"report default/web u1", "wait until 12:00:06"}},
		{"second crash, its back-off over: restarted, the next waits 20 s",
			World{Now: t0.Add(6 * time.Second), Desired: web, Actual: crashed(3 * time.Second), Backoff: restartedAt(1, t0.Add(-4*time.Second))},
			[]string{"restart default/web u1 app backoff=2 until=12:00:26", "report default/web u1"}},
		{"a crash after 9 minutes of running keeps the back-off",
			World{Now: t0, Desired: web, Actual: crashed(9 * time.Minute), Backoff: map[string]Backoff{"u1/app": {Failures: 5, Until: t0.Add(-time.Second)}}},
			[]string{"restart default/web u1 app backoff=6 until=12:05:00", "report default/web u1"}},
		{"a crash after 10 minutes of running starts over: at once, then 10 s",
			World{Now: t0, Desired: web, Actual: crashed(10 * time.Minute), Backoff: map[string]Backoff{"u1/app": {Failures: 5, Until: t0.Add(time.Minute)}}},
			[]string{"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := describe(plan(bp, tc.w)), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A container's status: Waiting with its back-off's reason while held, Running
// and Ready when running (and its readiness probe, if any, says so), and how
// the run before ended (as kubectl describe's Last State).
func TestContainerStatus(t *testing.T) {
	c := manifest.Container{Name: "app", Image: "img"}
	held := Backoff{Failures: 1, Until: t0.Add(time.Second), Reason: "CrashLoopBackOff", Message: "back-off"}
	restarted := func(cs ContainerState, last Termination) ContainerState {
		cs.Restarts, cs.Last = 1, &last
		return cs
	}
	oom := exitedC("app", 137)
	oom.OOMKilled = true
	unready := func(cs ContainerState) ContainerState { cs.Unready = true; return cs }
	cases := []struct {
		name  string
		cs    ContainerState
		ok    bool
		bk    Backoff
		probe *ProbeResult
		want  string // state/reason/ready exit=<code> last=<reason>/<code>
	}{
		{"not created yet", ContainerState{}, false, Backoff{}, nil, "waiting/ContainerCreating/false"},
		{"running", runningC("app"), true, Backoff{}, nil, "running//true"},
		{"running, readiness failing", runningC("app"), true, Backoff{}, &ProbeResult{Ready: false}, "running//false"},
		{"running, ready", runningC("app"), true, Backoff{}, &ProbeResult{Ready: true}, "running//true"},
		{"running, held unready by the runtime (simulated readiness delay)", unready(runningC("app")), true, Backoff{}, nil, "running//false"},
		{"running, probe ready, held unready by the runtime", unready(runningC("app")), true, Backoff{}, &ProbeResult{Ready: true}, "running//false"},
		{"exited 0", exitedC("app", 0), true, Backoff{}, nil, "terminated/Completed/false exit=0"},
		{"exited 1", exitedC("app", 1), true, Backoff{}, nil, "terminated/Error/false exit=1"},
		{"killed by the OOM killer", oom, true, Backoff{}, nil, "terminated/OOMKilled/false exit=137"},
		{"killed with 137, not by the OOM killer", exitedC("app", 137), true, Backoff{}, nil, "terminated/Error/false exit=137"},
		{"exited, held by back-off: the exit is the last state", exitedC("app", 1), true, held, nil,
			"waiting/CrashLoopBackOff/false last=Error/1"},
		{"OOM-killed, held by back-off", oom, true, held, nil, "waiting/CrashLoopBackOff/false last=OOMKilled/137"},
		{"running after a restart: the run before", restarted(runningC("app"), Termination{ExitCode: 1}), true, held, nil,
			"running//true last=Error/1"},
		{"running after an OOM kill", restarted(runningC("app"), Termination{ExitCode: 137, OOMKilled: true}), true, Backoff{}, nil,
			"running//true last=OOMKilled/137"},
		{"exited again, held: the newest exit", restarted(exitedC("app", 3), Termination{ExitCode: 1}), true, held, nil,
			"waiting/CrashLoopBackOff/false last=Error/3"},
		{"image missing twice", ContainerState{}, false, Backoff{Failures: 2, Until: t0.Add(time.Second), Reason: "ErrImagePull"}, nil,
			"waiting/ImagePullBackOff/false"},
		{"back-off over", exitedC("app", 1), true, Backoff{Failures: 1, Until: t0, Reason: "CrashLoopBackOff"}, nil, "terminated/Error/false exit=1"},
	}
	for _, tc := range cases {
		var p ProbeResult
		if tc.probe != nil {
			p = *tc.probe
		}
		got := containerStatus(c, tc.cs, tc.ok, tc.bk, p, tc.probe != nil, t0)
		s := fmt.Sprintf("%s/%s/%v", got.State, got.Reason, got.Ready)
		if got.ExitCode != nil {
			s += fmt.Sprintf(" exit=%d", *got.ExitCode)
		}
		if l := got.LastState; l != nil {
			s += fmt.Sprintf(" last=%s/%d", l.Reason, l.ExitCode)
			if l.StartedAt.IsZero() && tc.cs.Last == nil {
				t.Errorf("%s: last state without its start", tc.name)
			}
		}
		if s != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, s, tc.want)
		}
	}
}
