package replica

import (
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// barePod plans a bare Pod's one pod, once: its uid is the Pod's, its name
// the Pod's. Its node restarts its containers; nothing replaces it.
//
// Deleted, its pod is deleted: found by name and uid rather than by owner,
// because a ReplicaSet whose selector matches it may have adopted it (as
// Kubernetes' ReplicaSet adopts a bare Pod), and deleting the Pod still
// deletes that pod (its ReplicaSet then replaces it).
func (s *Service) barePod(w *projections.Workload, _ examination) []runner.Decision {
	cause := w.Cause()
	if w.Deleted {
		if p := s.c.Pods[projections.Key(w.Namespace, w.Name)]; p != nil && p.UID == w.UID && !p.Deleting {
			d := deletion(p, "pod deleted", cause)
			e := d.Event.(*events.PodDeleted)
			e.GracePeriodSeconds, e.Force = w.DeleteGracePeriodSeconds, w.DeleteForce
			return []runner.Decision{d}
		}
		return nil
	}
	if w.PodsPlanned > 0 || w.Object.Pod() == nil {
		return nil // a bare pod is planned once; its node restarts its containers
	}
	if old := s.c.Pods[projections.Key(w.Namespace, w.Name)]; old != nil {
		return nil // a former pod of the same name is still stopping; wait for it (or planned: adopted since)
	}
	if s.c.Gone(w.UID) {
		return nil // planned, adopted, and deleted since (PodsPlanned counts only its owner's plans)
	}
	tmpl := manifest.PodTemplateSpec{
		Metadata: manifest.TemplateMeta{Labels: w.Object.Metadata.Labels, Annotations: w.Object.Metadata.Annotations},
		Spec:     *w.Object.Pod(),
	}
	uid := w.UID
	msgID := "plan/" + uid
	d := runner.Decision{
		Subject: events.PodDecisionSubject(w.Namespace, w.Name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: w.Name, UID: uid,
			Owner:  &events.OwnerRef{Kind: "pod", Name: w.Name, UID: w.UID},
			Labels: tmpl.Metadata.Labels, Annotations: tmpl.Metadata.Annotations, Spec: tmpl.Spec},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.DecisionSeq(w.Namespace, w.Name)),
	}
	if why := s.quotaPod(d); why != "" {
		if st := s.decideStatus(w, nil, why, cause); st != nil {
			return []runner.Decision{*st}
		}
		return nil
	}
	return []runner.Decision{d}
}
