package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/scheduler"
)

func TestResourceFitFilter(t *testing.T) {
	f := scheduler.ResourceFit{}
	if f.Name() != "ResourceFit" {
		t.Errorf("name = %q", f.Name())
	}
	cases := []struct {
		name     string
		cpu, mem string // the pod's requests
		usedCPU  int64
		usedMem  int64
		want     string
	}{
		{"fits an empty node", "500m", "512Mi", 0, 0, ""},
		{"fits exactly", "1", "1Gi", 0, 0, ""},
		{"fits what is left exactly", "250m", "256Mi", 750, 768 << 20, ""},
		{"one millicore too many", "1001m", "", 0, 0, "Insufficient cpu"},
		{"cpu taken by others", "500m", "", 600, 0, "Insufficient cpu"},
		{"one byte too many", "", "1073741825", 0, 0, "Insufficient memory"},
		{"memory taken by others", "", "512Mi", 0, 768 << 20, "Insufficient memory"},
		{"cpu is checked before memory", "2", "2Gi", 0, 0, "Insufficient cpu"},
		{"no requests fit a full node", "", "", 1000, 1 << 30, ""},
		{"no requests fit an over-committed node", "", "", 5000, 5 << 30, ""},
	}
	for _, tc := range cases {
		n := node("n1", 1000, 1<<30, 0)
		n.Requested[events.ResourceCPU] = tc.usedCPU
		n.Requested[events.ResourceMemory] = tc.usedMem
		if got := f.Filter(podRequesting(tc.cpu, tc.mem, nil), n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResourceFitOnANodeWithoutTheResource(t *testing.T) {
	n := &scheduler.NodeState{Name: "n1", Ready: true, Allocatable: map[string]int64{}, Requested: map[string]int64{}, Owners: map[string]int{}}
	if got := (scheduler.ResourceFit{}).Filter(podRequesting("1m", "", nil), n); got != "Insufficient cpu" {
		t.Errorf("cpu request on a node offering none: %q", got)
	}
	if got := (scheduler.ResourceFit{}).Filter(podRequesting("", "", nil), n); got != "" {
		t.Errorf("no request on a node offering none: %q", got)
	}
}
