package replica_test

import (
	"strings"
	"testing"
	"time"

	pt "github.com/gantry-sh/gantry/projections/projectiontest"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// A quota of 2 pods and a ReplicaSet of 3: two pods are planned, the third
// is refused where it is decided and the ReplicaSet's ReplicaFailure
// condition says so in Kubernetes' words, once; scaled to 2, the condition
// ends.
func TestQuotaRefusesAReplicaSetsThirdPod(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ResourceQuota("default", "pods", map[string]string{"pods": "2"}), "q-uid", 1))
	rs := pt.ReplicaSet("default", "web", 3, "nginx")
	w.apply(w.l.Accepted(rs, "rs-uid", 1))
	all := w.settle()
	var plans int
	var conds []manifest.Condition
	for _, d := range all {
		switch e := d.Event.(type) {
		case *events.PodPlanned:
			plans++
		case *events.WorkloadStatusDecided:
			conds = append(conds, e.Conditions...)
		}
	}
	if plans != 2 || len(conds) != 1 || conds[0].Type != manifest.ReplicaFailure || conds[0].Status != manifest.ConditionTrue ||
		!strings.HasSuffix(conds[0].Message, "is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2") {
		t.Fatalf("plans %d, conditions %+v", plans, conds)
	}
	two := int32(2)
	rs.ReplicaSet().Replicas = &two
	w.apply(w.l.Accepted(rs, "rs-uid", 2))
	all = w.settle()
	if len(all) != 1 {
		t.Fatalf("after scaling to 2: %s", show(all))
	}
	if e, ok := all[0].Event.(*events.WorkloadStatusDecided); !ok || e.Conditions[0].Status != manifest.ConditionFalse {
		t.Errorf("after scaling to 2: %s", show(all))
	}
}

// Plans of an earlier pass still being stored count against the quota: a
// quota of 2 pods, ReplicaSet a planned 2 (assumed, not read back); b,
// arriving meanwhile, gets none.
func TestQuotaCountsAssumedPlans(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ResourceQuota("default", "pods", map[string]string{"pods": "2"}), "q-uid", 1))
	w.apply(w.l.Accepted(pt.ReplicaSet("default", "a", 2, "nginx"), "a-uid", 1))
	if s := splitDecisions(t, w.assumePass(now)); len(s.plans) != 2 {
		t.Fatal("a: want 2 plans")
	}
	w.apply(w.l.Accepted(pt.ReplicaSet("default", "b", 1, "nginx"), "b-uid", 1))
	ds := w.svc.Decide(now.Add(time.Second))
	for _, d := range ds {
		if _, ok := d.Event.(*events.PodPlanned); ok {
			t.Fatalf("b planned a pod past the quota while a's plans are stored:\n%s", show(ds))
		}
	}
}
