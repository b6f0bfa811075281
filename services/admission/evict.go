package admission

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// Evictions, as Kubernetes' Eviction API: a pod is deleted only if every
// PodDisruptionBudget covering it allows a disruption (projections'
// Cluster.Evict). Admission judges them because it already orders intents
// and holds the one verdict per intent: an allowed eviction is the pod's
// PodDeleted and an accepted verdict (op evict) in one atomic group, the
// deletion first, so that when the verdict is read back the fold already
// shows the pod deleting; a refused one is a rejection with Kubernetes'
// words and the budget as its cause (code TooManyRequests: ask again
// later). Evictions decided but not read back yet count as done, so two
// evictions cannot both take a budget's last disruption.

// Deletion reason and message of an evicted pod, as Kubernetes' condition
// DisruptionTarget says them.
const (
	ReasonEvicted  = "EvictionByEvictionAPI"
	MessageEvicted = "Eviction API: evicting"
)

// evictingNow are the pods whose evictions are being stored, by uid.
func (s *Service) evictingNow() map[string]bool {
	m := make(map[string]bool, len(s.evicting))
	for _, uid := range s.evicting {
		m[uid] = true
	}
	return m
}

// evict judges one eviction; evicting holds the pods of evictions this
// pass allowed before it (and those being stored), and gets this one if
// allowed.
func (s *Service) evict(p pendingIntent, e *events.IntentEvict, evicting map[string]bool) []runner.Decision {
	msgID := VerdictMsgID(p.seq, p.env.ID)
	verdict := runner.Decision{
		Subject: events.AdmissionSubject(safeToken(e.Namespace), "pod", safeToken(e.Name)),
		Meta:    p.env.Caused(events.DeriveID(msgID), Name, e.Namespace+"/"+e.Name, time.Time{}),
		MsgID:   msgID,
		Assumed: true,
	}
	reject := func(code string, causes []events.RejectCause, reasons ...string) []runner.Decision {
		verdict.Event = &events.AdmissionRejected{IntentSeq: p.seq, IntentID: p.env.ID, Op: events.OpEvict,
			Kind: "pod", Namespace: e.Namespace, Name: e.Name, Reasons: reasons, Code: code, Causes: causes}
		return []runner.Decision{verdict}
	}
	for _, fe := range []*manifest.FieldError{manifest.ValidateName("namespace", e.Namespace), manifest.ValidateName("name", e.Name)} {
		if fe != nil {
			return reject("", nil, fe.Error()) // filed under "invalid", like a cordon's
		}
	}
	verdict.ExpectLastSeq = bus.Expect(s.object("pod", e.Namespace, e.Name).lastSeq)
	pod := s.c.Pods[projections.Key(e.Namespace, e.Name)]
	if pod == nil || (e.UID != "" && pod.UID != e.UID) {
		return reject(events.RejectNotFound, nil, fmt.Sprintf("pods %q not found", e.Name))
	}
	if g := e.GracePeriodSeconds; g != nil && (*g < 0 || *g > manifest.MaxGracePeriodSeconds) {
		return reject("", nil, fmt.Sprintf("gracePeriodSeconds: must be between 0 and %d, got %d", manifest.MaxGracePeriodSeconds, *g))
	}
	judged := s.c.Evict(pod, evicting)
	if !judged.Allowed {
		return reject(events.RejectTooManyRequests, []events.RejectCause{{Type: events.CauseDisruptionBudget,
			Object: judged.Budget, Message: judged.Message}}, judged.Message)
	}
	verdict.Event = &events.AdmissionAccepted{IntentSeq: p.seq, IntentID: p.env.ID, Op: events.OpEvict,
		Kind: "pod", Namespace: e.Namespace, Name: e.Name, UID: pod.UID}
	if pod.Deleting {
		return []runner.Decision{verdict} // on its way out already
	}
	evicting[pod.UID] = true
	del := poddecision.Delete(pod, ReasonEvicted, p.env, Name)
	// Its own message id: a controller deleting the same binding at once
	// is refused by the pod's fence, never taken for this decision.
	del.MsgID = fmt.Sprintf("evict/%s/%d", pod.UID, pod.Epoch)
	del.Meta.ID = events.DeriveID(del.MsgID)
	ev := del.Event.(*events.PodDeleted)
	ev.Message, ev.GracePeriodSeconds = MessageEvicted, e.GracePeriodSeconds
	del.Assumed = true
	group := "evict/" + msgID
	del.Atomic, verdict.Atomic = group, group
	return []runner.Decision{del, verdict}
}
