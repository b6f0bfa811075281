package node_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/node"
)

func code(c int32) *int32 { return &c }

var started = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Container states as a node reports them.
var (
	running       = events.ContainerStatus{Name: "c", State: events.ContainerRunning, Ready: true, StartedAt: &started}
	exited0       = events.ContainerStatus{Name: "c", State: events.ContainerTerminated, ExitCode: code(0), StartedAt: &started}
	exited1       = events.ContainerStatus{Name: "c", State: events.ContainerTerminated, ExitCode: code(1), StartedAt: &started}
	exited137     = events.ContainerStatus{Name: "c", State: events.ContainerTerminated, ExitCode: code(137), StartedAt: &started}
	neverStarted  = events.ContainerStatus{Name: "c", State: events.ContainerWaiting, Reason: "ErrImagePull"}
	crashLooping  = events.ContainerStatus{Name: "c", State: events.ContainerWaiting, Reason: "CrashLoopBackOff", RestartCount: 3}
	waitingResume = events.ContainerStatus{Name: "c", State: events.ContainerWaiting, Reason: "CrashLoopBackOff", StartedAt: &started}
)

func TestPhase(t *testing.T) {
	cs := func(s ...events.ContainerStatus) []events.ContainerStatus { return s }
	cases := []struct {
		name       string
		containers []events.ContainerStatus
		// want per restart policy: Always ("" is Always), OnFailure, Never
		always, onFailure, never string
	}{
		{"no containers reported", nil,
			events.PhasePending, events.PhasePending, events.PhasePending},
		{"image still pulling", cs(neverStarted),
			events.PhasePending, events.PhasePending, events.PhasePending},
		{"running", cs(running),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"one running, one not started yet", cs(running, neverStarted),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"exited 0", cs(exited0),
			events.PhaseRunning, events.PhaseSucceeded, events.PhaseSucceeded},
		{"exited 1", cs(exited1),
			events.PhaseRunning, events.PhaseRunning, events.PhaseFailed},
		{"all exited, one failed", cs(exited0, exited137),
			events.PhaseRunning, events.PhaseRunning, events.PhaseFailed},
		{"all exited 0", cs(exited0, exited0),
			events.PhaseRunning, events.PhaseSucceeded, events.PhaseSucceeded},
		{"one exited 0, one still running", cs(exited0, running),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"one failed, one still running", cs(exited1, running),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"crash-looping (waiting after restarts)", cs(crashLooping),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"waiting after having started", cs(waitingResume),
			events.PhaseRunning, events.PhaseRunning, events.PhaseRunning},
		{"one exited, one never started", cs(exited0, neverStarted),
			events.PhasePending, events.PhasePending, events.PhasePending},
	}
	for _, tc := range cases {
		for _, p := range []struct{ policy, want string }{
			{"", tc.always}, {"Always", tc.always}, {"OnFailure", tc.onFailure}, {"Never", tc.never},
		} {
			if got := node.Phase(p.policy, tc.containers); got != p.want {
				t.Errorf("%s, restartPolicy %q: %s, want %s", tc.name, p.policy, got, p.want)
			}
		}
	}
}
