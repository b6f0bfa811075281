package scheduler

import "testing"

func TestNodeReadyFilter(t *testing.T) {
	f := NodeReady{}
	if f.Name() != NameNodeReady || !f.Relevant(testPod()) {
		t.Errorf("name %q, relevant %v", f.Name(), f.Relevant(testPod()))
	}
	for _, tc := range []struct {
		ready bool
		want  string
	}{
		{true, ""},
		{false, "node(s) were not ready"},
	} {
		n := testNode("n1", 1000, 1<<30, 0)
		n.Ready = tc.ready
		if got := f.Filter(testPod(), n); got != tc.want {
			t.Errorf("ready=%v: %q, want %q", tc.ready, got, tc.want)
		}
	}
}
