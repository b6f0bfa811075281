package node

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// killFact is what the probes found of container app of u1: its running
// instance (started a minute before t0) condemned by its liveness probe.
func killFact(grace *int64) map[string]ProbeResult {
	started := t0.Add(-time.Minute)
	return map[string]ProbeResult{"u1/app": {StartedAt: started, Kill: &Kill{StartedAt: started, Reason: "liveness",
		Message: "container app failed its liveness probe: HTTP probe failed with statuscode: 500", GracePeriodSeconds: grace}}}
}

// Given what the probes and hooks found, the planner kills a condemned
// container and restarts it per the restart policy once it exited.
func TestPlanProbes(t *testing.T) {
	bp := backoffPolicy{Base: 10 * time.Second, Max: 5 * time.Minute, Reset: 10 * time.Minute}
	killing := killFact(nil)
	f := killing["u1/app"]
	f.Killing = true
	killing["u1/app"] = f
	otherInstance := killFact(nil)
	f = otherInstance["u1/app"]
	f.StartedAt = t0.Add(-time.Hour)
	otherInstance["u1/app"] = f
	cases := []struct {
		name string
		w    World
		want []string
	}{
		{"liveness failed: killed with the pod's grace period",
			World{Now: t0, Desired: desired(withGrace(bound("web", "u1", "", "app"), 20)), Actual: []PodState{runtimePod("web", "u1", runningC("app"))},
				Probes: killFact(nil)},
			[]string{"kill default/web u1 app grace=20s reason=liveness", "report default/web u1"}},
		{"the probe's terminationGracePeriodSeconds wins",
			World{Now: t0, Desired: desired(withGrace(bound("web", "u1", "", "app"), 20)), Actual: []PodState{runtimePod("web", "u1", runningC("app"))},
				Probes: killFact(i64(3))},
			[]string{"kill default/web u1 app grace=3s reason=liveness", "report default/web u1"}},
		{"a kill under way is not planned again",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", runningC("app"))},
				Probes: killing},
			[]string{"report default/web u1"}},
		{"what was found of another instance does not apply",
			World{Now: t0, Desired: desired(bound("web", "u1", "", "app")), Actual: []PodState{runtimePod("web", "u1", runningC("app"))},
				Probes: otherInstance},
			[]string{"report default/web u1"}},
		{"killed, it exited 0: OnFailure restarts it all the same",
			World{Now: t0, Desired: desired(bound("web", "u1", "OnFailure", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 0))},
				Probes: killFact(nil)},
			[]string{"restart default/web u1 app backoff=1 until=12:00:10", "report default/web u1"}},
		{"killed: Never does not restart it",
			World{Now: t0, Desired: desired(bound("web", "u1", "Never", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 137))},
				Probes: killFact(nil)},
			[]string{"report default/web u1"}},
		{"exited 0 by itself: OnFailure leaves it",
			World{Now: t0, Desired: desired(bound("web", "u1", "OnFailure", "app")), Actual: []PodState{runtimePod("web", "u1", exitedC("app", 0))},
				Probes: otherInstance},
			[]string{"report default/web u1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := describe(plan(bp, tc.w)), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A pod's status as its probes and hooks colour it.
func TestPodStatusProbes(t *testing.T) {
	probeC := func(mut func(*manifest.Container)) *binding {
		b := bound("web", "u1", "", "app")
		mut(&b.bound.Pod.Spec.Containers[0])
		return b
	}
	readiness := func(c *manifest.Container) {
		c.ReadinessProbe = &manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(80)}}
	}
	startup := func(c *manifest.Container) {
		c.StartupProbe = &manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(80)}}
	}
	liveness := func(c *manifest.Container) {
		c.LivenessProbe = &manifest.Probe{TCPSocket: &manifest.TCPSocketAction{Port: manifest.FromInt(80)}}
	}
	started := t0.Add(-time.Minute)
	fact := func(f ProbeResult) map[string]ProbeResult {
		f.StartedAt = started
		return map[string]ProbeResult{"u1/app": f}
	}
	running := map[string]ContainerState{"app": runningC("app")}
	exited := map[string]ContainerState{"app": exitedC("app", 137)}
	cases := []struct {
		name   string
		b      *binding
		have   map[string]ContainerState
		probes map[string]ProbeResult
		want   string // state/reason/ready/message
	}{
		{"no probes: ready once running", probeC(func(*manifest.Container) {}), running, nil, "running//true/"},
		{"liveness only: ready once running", probeC(liveness), running, nil, "running//true/"},
		{"a readiness probe not run yet: not ready", probeC(readiness), running, nil, "running//false/"},
		{"a startup probe not passed yet: not ready", probeC(startup), running, nil, "running//false/"},
		{"readiness passed", probeC(readiness), running, fact(ProbeResult{Ready: true}), "running//true/"},
		{"postStart still running: not running yet", probeC(func(*manifest.Container) {}), running,
			fact(ProbeResult{Ready: true, PostStart: true}), "waiting/ContainerCreating/false/"},
		{"condemned: not ready", probeC(liveness), running, fact(ProbeResult{Ready: true, Kill: &Kill{StartedAt: started, Message: "failed"}}),
			"running//false/"},
		{"killed: the status says why", probeC(liveness), exited, fact(ProbeResult{Kill: &Kill{StartedAt: started, Message: "container app failed its liveness probe: x"}}),
			"terminated/Error/false/container app failed its liveness probe: x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := podStatus("n1", tc.b.bound, "10.42.0.2", tc.have, World{Now: t0, Probes: tc.probes})
			c := st.Containers[0]
			if got := c.State + "/" + c.Reason + "/" + map[bool]string{true: "true", false: "false"}[c.Ready] + "/" + c.Message; got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
	// The status names why the instance before was killed, once restarted.
	out := withLifecycle(events.ContainerStatus{State: events.ContainerRunning, LastState: &events.TerminatedState{ExitCode: 137, StartedAt: started}},
		ProbeResult{Previous: &Kill{StartedAt: started, Message: "container app failed its liveness probe: x"}})
	if out.LastState.Message != "container app failed its liveness probe: x" {
		t.Errorf("last state %+v", out.LastState)
	}
}
