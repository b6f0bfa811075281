package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func TestNodeAffinityFilter(t *testing.T) {
	f := NodeAffinity{}
	if f.Name() != NameNodeAffinity {
		t.Errorf("name %q", f.Name())
	}
	if f.Relevant(testPod()) || !f.Relevant(testPod(nodeSelector("disk", "ssd"))) || !f.Relevant(testPod(requiredAffinity(term(req("a", "Exists"))))) {
		t.Error("relevant only with a nodeSelector or a required affinity")
	}
	const no = "node(s) didn't match Pod's node affinity/selector"
	node := testNode("n1", 1000, 1<<30, 0, labels("disk", "ssd", "zone", "a", "cores", "16"))
	cases := []struct {
		name string
		opt  podOpt
		want string
	}{
		{"selector matches", nodeSelector("disk", "ssd"), ""},
		{"selector, every pair", nodeSelector("disk", "ssd", "zone", "b"), no},
		{"selector, missing label", nodeSelector("gpu", "yes"), no},
		{"hostname is a label every node has", nodeSelector(manifest.HostnameTopologyKey, "n1"), ""},
		{"In", requiredAffinity(term(req("zone", "In", "a", "b"))), ""},
		{"In, other values", requiredAffinity(term(req("zone", "In", "c"))), no},
		{"NotIn", requiredAffinity(term(req("zone", "NotIn", "c"))), ""},
		{"NotIn, missing label matches", requiredAffinity(term(req("rack", "NotIn", "r1"))), ""},
		{"NotIn, the value", requiredAffinity(term(req("zone", "NotIn", "a"))), no},
		{"Exists", requiredAffinity(term(req("disk", "Exists"))), ""},
		{"DoesNotExist", requiredAffinity(term(req("gpu", "DoesNotExist"))), ""},
		{"DoesNotExist, present", requiredAffinity(term(req("disk", "DoesNotExist"))), no},
		{"Gt", requiredAffinity(term(req("cores", "Gt", "8"))), ""},
		{"Gt, equal", requiredAffinity(term(req("cores", "Gt", "16"))), no},
		{"Lt", requiredAffinity(term(req("cores", "Lt", "32"))), ""},
		{"Lt, not a number", requiredAffinity(term(req("zone", "Lt", "32"))), no},
		{"a term is an intersection", requiredAffinity(term(req("zone", "In", "a"), req("disk", "In", "hdd"))), no},
		{"terms are a union", requiredAffinity(term(req("zone", "In", "b")), term(req("disk", "In", "ssd"))), ""},
		{"an empty term matches nothing", requiredAffinity(term()), no},
		{"no terms match nothing", requiredAffinity(), no},
		{"selector and affinity both hold", func(p *projections.Pod) {
			nodeSelector("disk", "ssd")(p)
			requiredAffinity(term(req("zone", "In", "b")))(p)
		}, no},
	}
	for _, tc := range cases {
		if got := f.Filter(testPod(tc.opt), node); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
