package client

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// initPod is the fixture pod with init containers "fetch" and "migrate" in
// the given states, its container waiting as the node reports it meanwhile.
func initPod(phase string, app events.ContainerStatus, inits ...events.ContainerStatus) *projections.Pod {
	p := fixturePod(fixtureT0)
	p.Spec.InitContainers = []manifest.Container{{Name: "fetch", Image: "busybox"}, {Name: "migrate", Image: "busybox"}}
	p.Status.Phase, p.Status.Containers, p.Status.InitContainers = phase, []events.ContainerStatus{app}, inits
	return p
}

var (
	initDone    = events.ContainerStatus{Name: "fetch", State: events.ContainerTerminated, Reason: "Completed", ExitCode: ptrInt32(0), Ready: true}
	initRunning = events.ContainerStatus{Name: "migrate", State: events.ContainerRunning}
	initWaiting = events.ContainerStatus{Name: "migrate", State: events.ContainerWaiting, Reason: "PodInitializing"}
	initFailed  = events.ContainerStatus{Name: "migrate", State: events.ContainerTerminated, Reason: "Error", ExitCode: ptrInt32(1)}
	initLooping = events.ContainerStatus{Name: "migrate", State: events.ContainerWaiting, Reason: "CrashLoopBackOff", RestartCount: 4}
	appWaiting  = events.ContainerStatus{Name: "web", State: events.ContainerWaiting, Reason: "PodInitializing"}
	appCreating = events.ContainerStatus{Name: "web", State: events.ContainerWaiting, Reason: "ContainerCreating"}
)

// STATUS and RESTARTS as kubectl shows them while init containers run.
func TestInitStatusColumn(t *testing.T) {
	fetchWaiting := initWaiting
	fetchWaiting.Name = "fetch"
	migrateDone := initDone
	migrateDone.Name = "migrate"
	tests := []struct {
		name     string
		pod      *projections.Pod
		want     string
		restarts int32
	}{
		{"none ran yet", initPod(events.PhasePending, appWaiting, fetchWaiting, initWaiting), "Init:0/2", 0},
		{"the second runs", initPod(events.PhasePending, appWaiting, initDone, initRunning), "Init:1/2", 0},
		{"the second failed", initPod(events.PhaseFailed, appWaiting, initDone, initFailed), "Init:Error", 0},
		{"the second crash-loops", initPod(events.PhasePending, appWaiting, initDone, initLooping), "Init:CrashLoopBackOff", 4},
		{"all done, the container not created yet", initPod(events.PhasePending, appWaiting, initDone, migrateDone), "PodInitializing", 0},
		{"all done, the container being created", initPod(events.PhasePending, appCreating, initDone, migrateDone), "ContainerCreating", 0},
		{"all done, running", func() *projections.Pod {
			p := fixturePod(fixtureT0)
			p.Spec.InitContainers = []manifest.Container{{Name: "fetch", Image: "busybox"}}
			p.Status.InitContainers = []events.ContainerStatus{initDone}
			return p
		}(), "Running", 2},
	}
	for _, tt := range tests {
		if got := podStatusColumn(tt.pod); got != tt.want {
			t.Errorf("%s: status %q, want %q", tt.name, got, tt.want)
		}
		if tt.restarts != 0 {
			if got := podRestarts(tt.pod); got != tt.restarts {
				t.Errorf("%s: restarts %d, want %d", tt.name, got, tt.restarts)
			}
		}
	}
}

// describe pod has an Init Containers section before Containers; -o json
// has spec.initContainers and status.initContainerStatuses.
func TestDescribeAndJSONOfInitContainers(t *testing.T) {
	p := initPod(events.PhasePending, appWaiting, initDone, initLooping)
	var buf bytes.Buffer
	if err := describePod(&buf, p, "10.0.0.1", nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	i, c := strings.Index(out, "Init Containers:\n  fetch:"), strings.Index(out, "Containers:\n  web:")
	if i < 0 || c < i || !strings.Contains(out[i:c], "Reason:       CrashLoopBackOff") || !strings.Contains(out[i:c], "Restart Count:  4") {
		t.Errorf("describe:\n%s", out)
	}
	if !regexp.MustCompile(`Initialized\s+False`).MatchString(out) {
		t.Errorf("describe: Initialized is not False while migrate crash-loops:\n%s", out)
	}
	b, err := json.Marshal(k8sPod(p, ""))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Spec struct {
			InitContainers []struct{ Name string } `json:"initContainers"`
		} `json:"spec"`
		Status struct {
			InitContainerStatuses []struct {
				Name  string
				State map[string]any
			} `json:"initContainerStatuses"`
		} `json:"status"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.InitContainers) != 2 || len(got.Status.InitContainerStatuses) != 2 ||
		got.Status.InitContainerStatuses[1].State["waiting"] == nil {
		t.Errorf("json: %s", b)
	}
}
