package projections_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// Given decisions on a workload's subject, expect its LastDecisionSeq (the
// fence of the next) to be the newest of them, kept by key for a later
// incarnation: rs "web-abc" decided at seq 1, its status at 2, deleted at 3
// → 3; a new incarnation decided at 4 → 4, and before it exists
// WorkloadDecisionSeq says 3.
func TestWorkloadDecisionSeqIsTheFenceOfItsSubject(t *testing.T) {
	l := pt.NewLog()
	c := projections.NewCluster()
	obj := pt.Canonical(pt.Deployment("default", "x", 1, "nginx"))
	subj := events.WorkloadSubject("default", "replicaset", "web-abc")
	owner := &events.OwnerRef{Kind: "deployment", Name: "web", UID: "dep-1"}
	desired := int32(2)
	rs := []events.Record{
		l.Append(subj, &events.WorkloadDecided{Kind: "replicaset", Namespace: "default", Name: "web-abc", UID: "rs-1", Generation: 1, Owner: owner, Object: obj}),
		l.Append(subj, &events.WorkloadStatusDecided{Kind: "replicaset", Namespace: "default", Name: "web-abc", UID: "rs-1", Desired: &desired}),
		l.Append(subj, &events.WorkloadDeleted{Kind: "replicaset", Namespace: "default", Name: "web-abc", UID: "rs-1", Reason: "x"}),
	}
	pt.ApplyAll(c, rs[:2]...)
	key := projections.WorkloadKey("replicaset", "default", "web-abc")
	if w := c.Workloads[key]; w == nil || w.LastDecisionSeq != rs[1].Seq {
		t.Fatalf("workload %+v, want LastDecisionSeq %d", w, rs[1].Seq)
	}
	c.Apply(rs[2]) // deleted, owning nothing: forgotten; the key keeps its fence
	if w := c.Workloads[key]; w != nil {
		t.Fatalf("deleted workload kept: %+v", w)
	}
	if got := c.WorkloadDecisionSeq("replicaset", "default", "web-abc"); got != rs[2].Seq {
		t.Errorf("WorkloadDecisionSeq = %d, want %d", got, rs[2].Seq)
	}
	r := l.Append(subj, &events.WorkloadDecided{Kind: "replicaset", Namespace: "default", Name: "web-abc", UID: "rs-2", Generation: 1, Owner: owner, Object: obj})
	c.Apply(r)
	if w := c.Workloads[key]; w == nil || w.UID != "rs-2" || w.LastDecisionSeq != r.Seq {
		t.Fatalf("new incarnation %+v, want LastDecisionSeq %d", w, r.Seq)
	}
}
