package node

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// withInit is b with init containers named inits, run in that order.
func withInits(b *binding, inits ...string) *binding {
	for _, c := range inits {
		b.bound.Pod.Spec.InitContainers = append(b.bound.Pod.Spec.InitContainers, manifest.Container{Name: c, Image: "img"})
	}
	return b
}

// Given the init containers' states, the planner runs them one after
// another, each to completion, and the containers only after all.
func TestPlanInitContainers(t *testing.T) {
	bp := backoffPolicy{Base: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}
	pod := func(policy string) *binding {
		return withInits(bound("web", "u1", policy, "app", "side"), "fetch", "migrate")
	}
	held := func(cs ...ContainerState) []PodState { return []PodState{runtimePod("web", "u1", cs...)} }
	cases := []struct {
		name string
		w    World
		want []string
	}{
		{"a new binding: sandbox, the first init container only",
			World{Now: t0, Desired: desired(pod(""))},
			[]string{"sandbox default/web u1", "start default/web u1 fetch", "report default/web u1"}},
		{"the first runs: nothing starts",
			World{Now: t0, Desired: desired(pod("")), Actual: held(runningC("fetch"))},
			[]string{"report default/web u1"}},
		{"the first exited 0: the second starts",
			World{Now: t0, Desired: desired(pod("")), Actual: held(exitedC("fetch", 0))},
			[]string{"start default/web u1 migrate", "report default/web u1"}},
		{"all exited 0: the containers start",
			World{Now: t0, Desired: desired(pod("")), Actual: held(exitedC("fetch", 0), exitedC("migrate", 0))},
			[]string{"start default/web u1 app", "start default/web u1 side", "report default/web u1"}},
		{"the second failed, restartPolicy Always: restarted with back-off",
			World{Now: t0, Desired: desired(pod("Always")), Actual: held(exitedC("fetch", 0), exitedC("migrate", 1))},
			[]string{"restart default/web u1 migrate backoff=1 until=12:00:10", "report default/web u1"}},
		{"failed, restartPolicy OnFailure: restarted, the back-off doubling",
			World{Now: t0, Desired: desired(pod("OnFailure")), Actual: held(exitedC("fetch", 1)),
				Backoff: map[string]Backoff{"u1/fetch": {Failures: 2, Until: t0.Add(-time.Second)}}},
			[]string{"restart default/web u1 fetch backoff=3 until=12:00:40", "report default/web u1"}},
		{"failed again within its back-off: the plan waits for it",
			World{Now: t0, Desired: desired(pod("Always")), Actual: held(exitedC("fetch", 1)),
				Backoff: map[string]Backoff{"u1/fetch": {Failures: 1, Until: t0.Add(10 * time.Second), Reason: "CrashLoopBackOff"}}},
			[]string{"report default/web u1", "wait until 12:00:10"}},
		{"failed, restartPolicy Never: nothing runs again (the pod failed)",
			World{Now: t0, Desired: desired(pod("Never")), Actual: held(exitedC("fetch", 0), exitedC("migrate", 2))},
			[]string{"report default/web u1"}},
		{"after an agent restart the runtime holds the exited init containers: not run again",
			World{Now: t0, Desired: desired(pod("")), Actual: held(exitedC("fetch", 0), exitedC("migrate", 0), runningC("app"))},
			[]string{"start default/web u1 side", "report default/web u1"}},
		{"a container restarts: the init containers do not run again",
			World{Now: t0, Desired: desired(pod("Always")), Actual: held(exitedC("fetch", 0), exitedC("migrate", 0),
				exitedC("app", 1), runningC("side"))},
			[]string{"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
		{"even when the runtime lost them (a container exists: init is behind the pod)",
			World{Now: t0, Desired: desired(pod("Always")), Actual: held(runningC("app"), runningC("side"))},
			[]string{"report default/web u1"}},
		{"an init container whose image could not be pulled waits out its back-off",
			World{Now: t0, Desired: desired(pod("")), Backoff: map[string]Backoff{"u1/fetch": {Failures: 1, Until: t0.Add(5 * time.Second), Reason: "ErrImagePull"}}},
			[]string{"sandbox default/web u1", "report default/web u1", "wait until 12:00:05"}},
		{"an init container created and never started is started",
			World{Now: t0, Desired: desired(pod("")), Actual: held(ContainerState{Name: "fetch", ID: "fetch"})},
			[]string{"start default/web u1 fetch", "report default/web u1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := describe(plan(bp, tc.w)), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The report shows the init containers in the spec's order and the pod's
// phase while they run, as Kubernetes shows them.
func TestInitStatus(t *testing.T) {
	states := func(cs ...ContainerState) map[string]ContainerState { return PodState{Containers: cs}.ByName() }
	type want struct {
		phase string
		inits []string // state/reason of each init container
		app   string   // state/reason of the container
	}
	line := func(c events.ContainerStatus) string { return c.State + "/" + c.Reason }
	cases := []struct {
		name   string
		policy string
		have   map[string]ContainerState
		bk     map[string]Backoff
		want   want
	}{
		{"nothing ran yet", "", states(), nil,
			want{events.PhasePending, []string{"waiting/PodInitializing", "waiting/PodInitializing"}, "waiting/PodInitializing"}},
		{"the first runs", "", states(runningC("fetch")), nil,
			want{events.PhasePending, []string{"running/", "waiting/PodInitializing"}, "waiting/PodInitializing"}},
		{"the second failed, Never: the pod failed", "Never", states(exitedC("fetch", 0), exitedC("migrate", 1)), nil,
			want{events.PhaseFailed, []string{"terminated/Completed", "terminated/Error"}, "waiting/PodInitializing"}},
		{"the first crash-loops", "Always", states(exitedC("fetch", 1)),
			map[string]Backoff{"u1/fetch": {Failures: 2, Until: t0.Add(time.Minute), Reason: "CrashLoopBackOff"}},
			want{events.PhasePending, []string{"waiting/CrashLoopBackOff", "waiting/PodInitializing"}, "waiting/PodInitializing"}},
		{"all done, the container not created yet", "", states(exitedC("fetch", 0), exitedC("migrate", 0)), nil,
			want{events.PhasePending, []string{"terminated/Completed", "terminated/Completed"}, "waiting/PodInitializing"}},
		{"all done, the container runs", "", states(exitedC("fetch", 0), exitedC("migrate", 0), runningC("app")), nil,
			want{events.PhaseRunning, []string{"terminated/Completed", "terminated/Completed"}, "running/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := withInits(bound("web", "u1", tc.policy, "app"), "fetch", "migrate")
			st := podStatus("n1", b.bound, "10.42.0.2", tc.have, World{Now: t0, Backoff: tc.bk})
			var inits []string
			for _, c := range st.InitContainers {
				inits = append(inits, line(c))
			}
			got := want{st.Phase, inits, line(st.Containers[0])}
			if strings.Join(got.inits, ",") != strings.Join(tc.want.inits, ",") || got.phase != tc.want.phase || got.app != tc.want.app {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			// A completed init container is ready; none counts as the pod's.
			for _, c := range st.InitContainers {
				if c.Ready != (c.State == events.ContainerTerminated && c.Reason == "Completed") {
					t.Errorf("init container %s ready=%t in state %s", c.Name, c.Ready, line(c))
				}
			}
		})
	}
}
