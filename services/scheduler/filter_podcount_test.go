package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/scheduler"
)

func TestPodCountFilter(t *testing.T) {
	f := scheduler.PodCount{}
	if f.Name() != "PodCount" {
		t.Errorf("name = %q", f.Name())
	}
	cases := []struct {
		name    string
		max     int64 // 0: no pods entry in allocatable
		running int64
		want    string
	}{
		{"empty node", 3, 0, ""},
		{"room for one more", 3, 2, ""},
		{"full", 3, 3, "Too many pods"},
		{"over full", 3, 5, "Too many pods"},
		{"allows none", -1, 0, "Too many pods"},
		{"no limit given", 0, 500, ""},
	}
	for _, tc := range cases {
		n := node("n1", 1000, 1<<30, 0)
		switch {
		case tc.max > 0:
			n.Allocatable[events.ResourcePods] = tc.max
		case tc.max < 0:
			n.Allocatable[events.ResourcePods] = 0
		}
		n.Requested[events.ResourcePods] = tc.running
		if got := f.Filter(&projections.Pod{}, n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
