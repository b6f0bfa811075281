package scheduler

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestPlacementRuleFilter(t *testing.T) {
	f := PlacementRule{}
	if f.Name() != NamePlacementRule || f.Relevant(testPod()) {
		t.Errorf("name %q; relevant without a rule", f.Name())
	}
	rule := func(src string) podOpt { return annotate(manifest.AnnotationPlacement, src) }
	big := testNode("big", 8000, 16<<30, 0, labels("zone", "a"))
	small := testNode("small", 2000, 4<<30, 0, labels("zone", "c"))
	bare := testNode("bare", 2000, 4<<30, 0)
	const no = "node(s) didn't match placement rule"
	cases := []struct {
		name string
		rule string
		node *NodeState
		want string // a prefix for errors
	}{
		{"matches", "node.allocatable.memory >= quantity('8Gi')", big, ""},
		{"does not match", "node.allocatable.memory >= quantity('8Gi')", small, no},
		{"labels", "'zone' in node.labels && node.labels['zone'] in ['a', 'b']", big, ""},
		{"labels, other zone", "'zone' in node.labels && node.labels['zone'] in ['a', 'b']", small, no},
		{"labels, no zone", "'zone' in node.labels && node.labels['zone'] in ['a', 'b']", bare, no},
		{"an evaluation error does not match, with the error", "node.labels['zone'] == 'a'", bare, no + ": no such key: zone"},
		{"a rule that does not compile refuses every node", "node.nope", big, no + ": "},
	}
	for _, tc := range cases {
		p := testPod(rule(tc.rule))
		if !f.Relevant(p) {
			t.Errorf("%s: not relevant", tc.name)
		}
		got := f.Filter(p, tc.node)
		if tc.want == "" || tc.want == no {
			if got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		} else if !strings.HasPrefix(got, tc.want) || strings.Count(got, "placement rule:") > 1 {
			t.Errorf("%s: %q, want it to start with %q and carry the error once", tc.name, got, tc.want)
		}
		if again := f.Filter(p, tc.node); again != got {
			t.Errorf("%s: remembered %q, evaluated %q", tc.name, again, got)
		}
	}
	// The node forgets its verdicts when it changes.
	p := testPod(rule("'zone' in node.labels"))
	if got := f.Filter(p, bare); got != no {
		t.Fatalf("bare: %q", got)
	}
	info := bare.info
	info.Labels = map[string]string{"zone": "z"}
	bare.setInfo(info)
	if got := f.Filter(p, bare); got != "" {
		t.Errorf("after the node gained a zone: %q", got)
	}
}
