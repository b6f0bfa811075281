package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func TestNodeUnschedulableFilter(t *testing.T) {
	f := NodeUnschedulable{}
	if f.Name() != NameNodeUnschedulable || !f.Relevant(testPod()) {
		t.Errorf("name %q", f.Name())
	}
	tolerate := func(ts ...manifest.Toleration) podOpt {
		return func(p *projections.Pod) { p.Spec.Tolerations = ts }
	}
	// Given a node cordoned or not and a pod's tolerations, expect the
	// verdict: a cordoned node takes only pods that tolerate
	// node.kubernetes.io/unschedulable:NoSchedule (a DaemonSet's do).
	for _, tc := range []struct {
		name     string
		cordoned bool
		opts     []podOpt
		want     string
	}{
		{"schedulable", false, nil, ""},
		{"cordoned", true, nil, "node(s) were unschedulable"},
		{"cordoned, tolerated", true, []podOpt{tolerate(manifest.Toleration{Key: "node.kubernetes.io/unschedulable",
			Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoSchedule})}, ""},
		{"cordoned, tolerates everything", true, []podOpt{tolerate(manifest.Toleration{Operator: manifest.TolerationOpExists})}, ""},
		{"cordoned, another effect", true, []podOpt{tolerate(manifest.Toleration{Key: "node.kubernetes.io/unschedulable",
			Operator: manifest.TolerationOpExists, Effect: manifest.TaintNoExecute})}, "node(s) were unschedulable"},
		{"cordoned, another key", true, []podOpt{tolerate(manifest.Toleration{Key: "node.kubernetes.io/not-ready",
			Operator: manifest.TolerationOpExists})}, "node(s) were unschedulable"},
	} {
		n := testNode("n1", 1000, 1<<30, 0)
		n.Unschedulable = tc.cordoned
		if got := f.Filter(testPod(tc.opts...), n); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
