package scheduler

import "testing"

func TestPodCountFilter(t *testing.T) {
	f := PodCount{}
	if f.Name() != NamePodCount || !f.Relevant(testPod()) {
		t.Errorf("name %q", f.Name())
	}
	cases := []struct {
		name    string
		max     int64 // 0: no pods entry in allocatable
		running int
		want    string
	}{
		{"empty node", 3, 0, ""},
		{"room for one more", 3, 2, ""},
		{"full", 3, 3, "Too many pods"},
		{"over full", 3, 5, "Too many pods"},
		{"no limit given", 0, 50, ""},
	}
	for _, tc := range cases {
		n := testNode("n1", 1000, 1<<30, tc.max)
		for i := 0; i < tc.running; i++ {
			on(n, testPod())
		}
		if got := f.Filter(testPod(), n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	n := testNode("n1", 1000, 1<<30, 0, offers("pods", 0))
	if got := f.Filter(testPod(), n); got != "Too many pods" {
		t.Errorf("a node allowing no pods: %q", got)
	}
}
