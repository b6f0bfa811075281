package scheduler

import "testing"

func TestNodeUnschedulableFilter(t *testing.T) {
	f := NodeUnschedulable{}
	if f.Name() != NameNodeUnschedulable || !f.Relevant(testPod()) {
		t.Errorf("name %q", f.Name())
	}
	for _, tc := range []struct {
		cordoned bool
		want     string
	}{
		{false, ""},
		{true, "node(s) were unschedulable"},
	} {
		n := testNode("n1", 1000, 1<<30, 0)
		n.Unschedulable = tc.cordoned
		if got := f.Filter(testPod(), n); got != tc.want {
			t.Errorf("cordoned=%v: %q, want %q", tc.cordoned, got, tc.want)
		}
	}
}
