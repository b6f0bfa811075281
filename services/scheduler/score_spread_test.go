package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/scheduler"
)

func TestWorkloadSpreadScore(t *testing.T) {
	s := scheduler.WorkloadSpread{}
	if s.Name() != "WorkloadSpread" {
		t.Errorf("name = %q", s.Name())
	}
	owner := &events.OwnerRef{Kind: "deployment", Name: "web", UID: "w1"}
	cases := []struct {
		name   string
		owner  *events.OwnerRef
		owners map[string]int
		want   int64
	}{
		{"no owner", nil, map[string]int{"w1": 5}, 100},
		{"none of its pods on the node", owner, map[string]int{"other": 3}, 100},
		{"one of its pods", owner, map[string]int{"w1": 1}, 50},
		{"two of its pods", owner, map[string]int{"w1": 2}, 33},
		{"nine of its pods", owner, map[string]int{"w1": 9}, 10},
	}
	for _, tc := range cases {
		n := node("n1", 1000, 1<<30, 0)
		n.Owners = tc.owners
		if got := s.Score(podRequesting("", "", tc.owner), n); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
