package replica

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// quotaPass starts a pass's quota charges: what the fold shows the
// namespaces use, plus the plans of earlier passes still on their way to
// the log (assumed, not read back), which the fold does not show yet.
func (s *Service) quotaPass() *projections.QuotaPass {
	q := s.c.QuotaPass()
	if !s.c.AnyQuota() {
		return q // nothing to count for (the common case: no pass pays for it)
	}
	for _, a := range s.assumed {
		if a.planned != nil && !a.shown(s.c) {
			q.Charge(a.planned.Namespace, a.planned.Spec)
		}
	}
	return q
}

// quotaPod charges a pod about to be planned to its namespace's quotas,
// with what this pass planned before it; it returns why a quota refuses
// it, in Kubernetes' words ("" when it fits).
func (s *Service) quotaPod(d runner.Decision) string {
	p := d.Event.(*events.PodPlanned)
	return s.quota.Pod(p.Namespace, p.Name, p.Spec)
}

// decideStatus decides what the replica service says of a workload's
// status, when it changes: a DaemonSet's desired count (nil: unchanged),
// and the ReplicaFailure condition a quota's refusal sets (refused: why,
// or "" when nothing was refused). One event, fenced on the workload's
// subject, so the two never race each other.
func (s *Service) decideStatus(w *projections.Workload, desired *int32, refused string, cause events.Envelope) *runner.Decision {
	e := &events.WorkloadStatusDecided{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID, Desired: desired}
	if c, ok := projections.QuotaCondition(w.Decided(), refused, s.now); ok {
		e.Conditions = append(e.Conditions, c)
		e.Message = c.Reason + ": " + c.Message
	}
	if desired == nil && len(e.Conditions) == 0 {
		return nil
	}
	if desired != nil {
		msg := fmt.Sprintf("%d nodes should run the daemon pod", *desired)
		if e.Message != "" {
			msg += "; " + e.Message
		}
		e.Message = msg
	}
	last := s.c.WorkloadDecisionSeq(w.Kind, w.Namespace, w.Name)
	msgID := fmt.Sprintf("status/%s/%d", w.UID, last)
	return &runner.Decision{
		Subject:       events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
		Event:         e,
		Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(last),
	}
}
