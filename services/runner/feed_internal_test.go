package runner

import (
	"slices"
	"testing"
)

func TestUnionFilters(t *testing.T) {
	for _, c := range []struct {
		name string
		sets [][]string
		want []string
	}{
		{"one reader takes it all", [][]string{{"gantry.decision.>"}, nil}, nil},
		{"a wider filter covers a narrower one",
			[][]string{{"gantry.decision.>"}, {"gantry.decision.admission.>", "gantry.decision.node.>"}},
			[]string{"gantry.decision.>"}},
		{"a wildcard token covers a literal one",
			[][]string{{"gantry.obs.*.pod.>"}, {"gantry.obs.n1.pod.>"}}, []string{"gantry.obs.*.pod.>"}},
		{"disjoint filters stay", [][]string{{"gantry.obs.*.pod.>"}, {"gantry.obs.*.node"}},
			[]string{"gantry.obs.*.node", "gantry.obs.*.pod.>"}},
		{"duplicates go", [][]string{{"gantry.hb.>"}, {"gantry.hb.>"}}, []string{"gantry.hb.>"}},
		{"a token wildcard does not cover a tail wildcard", [][]string{{"a.*"}, {"a.>"}}, []string{"a.>"}},
	} {
		if got := unionFilters(c.sets); !slices.Equal(got, c.want) {
			t.Errorf("%s: unionFilters(%v) = %v, want %v", c.name, c.sets, got, c.want)
		}
	}
}

// A runner that has stopped keeps nothing queued, however long the feed
// goes on.
func TestAStoppedRunnerKeepsNothingQueued(t *testing.T) {
	s := &subscriber{wake: make(chan struct{}, 1)}
	s.push(incoming{stream: "S", seq: 1})
	s.leave()
	for i := range 1000 {
		s.push(incoming{stream: "S", seq: uint64(i + 2)})
	}
	if len(s.items) != 0 {
		t.Errorf("%d records queued for a runner that left", len(s.items))
	}
}
