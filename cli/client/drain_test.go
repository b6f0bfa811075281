package client

import (
	"reflect"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// Before it evicts anything, drain refuses a node with DaemonSet pods or
// pods of no controller in kubectl's words, unless told to leave the first
// (--ignore-daemonsets) and take the second (--force).
func TestPlanDrain(t *testing.T) {
	pod := func(name, owner string) *projections.Pod {
		p := &projections.Pod{Namespace: "default", Name: name}
		if owner != "" {
			p.Owner = &events.OwnerRef{Kind: owner, Name: name}
		}
		return p
	}
	pods := []*projections.Pod{pod("web-1", "replicaset"), pod("agent-1", "daemonset"), pod("bare", "pod"), pod("loose", "")}
	cases := []struct {
		ignoreDS, force    bool
		refusals, warnings []string
		evicted            []string
	}{
		{refusals: []string{
			"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-1",
			"cannot delete Pods that declare no controller (use --force to override): default/bare, default/loose",
		}, evicted: []string{"web-1"}},
		{ignoreDS: true, force: true, warnings: []string{
			"ignoring DaemonSet-managed Pods: default/agent-1",
			"deleting Pods that declare no controller: default/bare, default/loose",
		}, evicted: []string{"web-1", "bare", "loose"}},
	}
	for _, tc := range cases {
		plan := planDrain(pods, tc.ignoreDS, tc.force)
		if !reflect.DeepEqual(plan.refusals, tc.refusals) || !reflect.DeepEqual(plan.warnings, tc.warnings) {
			t.Errorf("planDrain(ignore %v, force %v) = %+v", tc.ignoreDS, tc.force, plan)
		}
		var names []string
		for _, p := range evictable(pods, tc.force) {
			names = append(names, p.Name)
		}
		if !reflect.DeepEqual(names, tc.evicted) {
			t.Errorf("evictable(force %v) = %v, want %v", tc.force, names, tc.evicted)
		}
	}
}
