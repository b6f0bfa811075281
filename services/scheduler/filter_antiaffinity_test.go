package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestPodAntiAffinityFilter(t *testing.T) {
	f := PodAntiAffinity{}
	if f.Name() != NamePodAntiAffinity {
		t.Errorf("name %q", f.Name())
	}
	const host = manifest.HostnameTopologyKey
	const no, noExisting = "node(s) didn't match pod anti-affinity rules", "node(s) didn't satisfy existing pods anti-affinity rules"
	web := selector("app", "web")
	type pods map[string][]podOpt // node → pods on it
	cases := []struct {
		name string
		on   pods
		pod  []podOpt
		want map[string]string // node → reason
	}{
		{"one per host", pods{"n1": {podLabels("app", "web")}},
			[]podOpt{podLabels("app", "web"), antiAffinity(host, web)},
			map[string]string{"n1": no, "n2": "", "n3": ""}},
		{"other apps do not count", pods{"n1": {podLabels("app", "db")}},
			[]podOpt{podLabels("app", "web"), antiAffinity(host, web)},
			map[string]string{"n1": "", "n2": "", "n3": ""}},
		{"other namespaces do not count", pods{"n1": {podLabels("app", "web"), inNamespace("other")}},
			[]podOpt{podLabels("app", "web"), antiAffinity(host, web)},
			map[string]string{"n1": "", "n2": "", "n3": ""}},
		{"a zone key refuses the whole zone", pods{"n1": {podLabels("app", "web")}},
			[]podOpt{podLabels("app", "web"), antiAffinity("zone", web)},
			map[string]string{"n1": no, "n2": no, "n3": ""}},
		{"existing pods' anti-affinity applies to newcomers", pods{"n2": {podLabels("app", "db"), antiAffinity(host, web)}},
			[]podOpt{podLabels("app", "web")},
			map[string]string{"n1": "", "n2": noExisting, "n3": ""}},
		{"existing pods' anti-affinity that does not select the newcomer", pods{"n2": {podLabels("app", "db"), antiAffinity(host, selector("app", "cache"))}},
			[]podOpt{podLabels("app", "web")},
			map[string]string{"n1": "", "n2": "", "n3": ""}},
		{"a nil selector selects nothing", pods{"n1": {podLabels("app", "web")}},
			[]podOpt{podLabels("app", "web"), antiAffinity(host, nil)},
			map[string]string{"n1": "", "n2": "", "n3": ""}},
		{"an empty selector selects everything", pods{"n3": {podLabels("app", "x")}},
			[]podOpt{podLabels("app", "web"), antiAffinity(host, &manifest.LabelSelector{})},
			map[string]string{"n1": "", "n2": "", "n3": no}},
		{"match expressions", pods{"n1": {podLabels("app", "web", "tier", "front")}},
			[]podOpt{antiAffinity(host, &manifest.LabelSelector{MatchExpressions: []manifest.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"front", "edge"}}}})},
			map[string]string{"n1": no, "n2": "", "n3": ""}},
	}
	for _, tc := range cases {
		nodes := []*NodeState{
			testNode("n1", 1000, 1<<30, 0, labels("zone", "a")),
			testNode("n2", 1000, 1<<30, 0, labels("zone", "a")),
			testNode("n3", 1000, 1<<30, 0, labels("zone", "b")),
		}
		for _, n := range nodes {
			if opts := tc.on[n.Name]; opts != nil {
				on(n, testPod(opts...)) // one pod with these options
			}
		}
		p := prepareOn(testPod(tc.pod...), nodes...)
		if !f.Relevant(p) && (len(p.antiRequired) > 0 || tc.name == "existing pods' anti-affinity applies to newcomers") {
			t.Errorf("%s: not relevant", tc.name)
		}
		for _, n := range nodes {
			if got := f.Filter(p, n); got != tc.want[n.Name] {
				t.Errorf("%s: %s: %q, want %q", tc.name, n.Name, got, tc.want[n.Name])
			}
		}
	}
	if p := prepareOn(testPod(podLabels("app", "web")), testNode("n1", 1, 1, 0)); f.Relevant(p) {
		t.Error("relevant to a pod without anti-affinity in a cluster without any")
	}
}
