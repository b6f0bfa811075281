package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestTopologySpreadFilter(t *testing.T) {
	f := TopologySpread{}
	if f.Name() != NameTopologySpread || f.Relevant(testPod()) {
		t.Errorf("name %q; relevant without constraints", f.Name())
	}
	const no, noLabel = "node(s) didn't match pod topology spread constraints", "node(s) didn't match pod topology spread constraints (missing required label)"
	web := selector("app", "web")
	cases := []struct {
		name  string
		count map[string]int // node → web pods on it
		pod   []podOpt
		want  map[string]string
	}{
		// zones: a = n1+n2, b = n3, c = n4; n5 has no zone.
		{"even zones take any", map[string]int{}, []podOpt{podLabels("app", "web"), spreadOver("zone", 1, "", web)},
			map[string]string{"n1": "", "n2": "", "n3": "", "n4": "", "n5": noLabel}},
		// a=2, b=1, c=1: min 1; a gives 2+1-1 = 2 > 1.
		{"the worked example", map[string]int{"n1": 1, "n2": 1, "n3": 1, "n4": 1}, []podOpt{podLabels("app", "web"), spreadOver("zone", 1, "DoNotSchedule", web)},
			map[string]string{"n1": no, "n2": no, "n3": "", "n4": "", "n5": noLabel}},
		{"maxSkew 2 allows it", map[string]int{"n1": 1, "n2": 1, "n3": 1, "n4": 1}, []podOpt{podLabels("app", "web"), spreadOver("zone", 2, "DoNotSchedule", web)},
			map[string]string{"n1": "", "n2": "", "n3": "", "n4": "", "n5": noLabel}},
		// An empty zone is the minimum: a=1, b=0, c=0.
		{"empty domains count", map[string]int{"n1": 1}, []podOpt{podLabels("app", "web"), spreadOver("zone", 1, "", web)},
			map[string]string{"n1": no, "n2": no, "n3": "", "n4": "", "n5": noLabel}},
		// A pod that does not match its own selector adds nothing: a=1, b=0 → 1+0-0 <= 1.
		{"self does not match", map[string]int{"n1": 1}, []podOpt{podLabels("app", "other"), spreadOver("zone", 1, "", web)},
			map[string]string{"n1": "", "n2": "", "n3": "", "n4": "", "n5": noLabel}},
		{"hostname domains", map[string]int{"n1": 1, "n2": 1, "n3": 1, "n4": 1}, []podOpt{podLabels("app", "web"), spreadOver(manifest.HostnameTopologyKey, 1, "", web)},
			map[string]string{"n1": no, "n2": no, "n3": no, "n4": no, "n5": ""}},
		// Only nodes matching the pod's selector are eligible: zone c (n4) is
		// not, so the minimum is over a=2 and b=1.
		{"ineligible domains are left out", map[string]int{"n1": 1, "n2": 1, "n3": 1}, []podOpt{podLabels("app", "web"), nodeSelector("disk", "ssd"), spreadOver("zone", 1, "", web)},
			map[string]string{"n1": no, "n2": no, "n3": "", "n5": noLabel}},
		{"ScheduleAnyway never refuses", map[string]int{"n1": 3}, []podOpt{podLabels("app", "web"), spreadOver("zone", 1, "ScheduleAnyway", web)},
			map[string]string{"n1": "", "n2": "", "n3": "", "n4": "", "n5": ""}},
	}
	for _, tc := range cases {
		nodes := []*NodeState{
			testNode("n1", 1000, 1<<30, 0, labels("zone", "a", "disk", "ssd")),
			testNode("n2", 1000, 1<<30, 0, labels("zone", "a", "disk", "ssd")),
			testNode("n3", 1000, 1<<30, 0, labels("zone", "b", "disk", "ssd")),
			testNode("n4", 1000, 1<<30, 0, labels("zone", "c")),
			testNode("n5", 1000, 1<<30, 0, labels("disk", "ssd")),
		}
		for _, n := range nodes {
			for i := 0; i < tc.count[n.Name]; i++ {
				on(n, testPod(podLabels("app", "web")))
			}
			on(n, testPod(podLabels("app", "db"))) // never counted
		}
		deleting := testPod(podLabels("app", "web"))
		deleting.deleting = true
		on(nodes[3], deleting) // on its way out: not counted
		p := prepareOn(testPod(tc.pod...), nodes...)
		for _, n := range nodes {
			want, ok := tc.want[n.Name]
			if !ok {
				continue
			}
			if got := f.Filter(p, n); got != want {
				t.Errorf("%s: %s: %q, want %q", tc.name, n.Name, got, want)
			}
		}
	}
}
