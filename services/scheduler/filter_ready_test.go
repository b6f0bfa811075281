package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/scheduler"
)

func TestNodeReadyFilter(t *testing.T) {
	f := scheduler.NodeReady{}
	if f.Name() != "NodeReady" {
		t.Errorf("name = %q", f.Name())
	}
	cases := []struct {
		ready bool
		want  string
	}{
		{true, ""},
		{false, "node(s) were not ready"},
	}
	for _, tc := range cases {
		n := node("n1", 1000, 1<<30, 0)
		n.Ready = tc.ready
		if got := f.Filter(&projections.Pod{}, n); got != tc.want {
			t.Errorf("ready=%v: %q, want %q", tc.ready, got, tc.want)
		}
	}
}
