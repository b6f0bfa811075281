package replica

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events/bus"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// namespace deletes what a deleted Namespace holds, as Kubernetes'
// namespace controller does: every object in it that no other object owns
// (their controllers delete what those own, and their pods), while the
// Namespace shows Terminating (condition NamespaceContentRemaining) until
// nothing is left. The fold marks a deleted Namespace changed whenever
// something in it changes, so its progress wakes it.
//
// Worked example: Namespace shop deleted, holding Deployment web (its
// ReplicaSet and 3 pods) and Job pi (1 pod). The first pass deletes web
// and pi and decides NamespaceContentRemaining True ("deployments, jobs,
// pods, replicasets"); as their controllers delete what they own, the
// kinds left fall away, and once nothing is left the condition turns
// False: shop is gone from `get ns`.
func (s *Service) namespace(ns *projections.Workload, x examination) []runner.Decision {
	if !ns.Deleted {
		return nil
	}
	objs, pods := s.c.InNamespace(ns.Name)
	var out []runner.Decision
	for _, w := range objs {
		if len(out) >= x.limit-1 {
			break
		}
		if w.Owner != nil {
			continue // deleted with its owner
		}
		out = append(out, namespaceDeletion(w, ns))
	}
	remaining := len(objs) > 0 || pods > 0
	msg := "All content deleted"
	if remaining {
		msg = "Some content in the namespace has not been deleted yet: " + remainingKinds(objs, pods)
	}
	if d, ok := s.namespaceCondition(ns, remaining, msg); ok {
		out = append(out, d)
	}
	return out
}

// deletion deletes an object of a deleted Namespace, on the object's own
// subject; its id is derived from the object's uid, so the same object is
// deleted once whatever the passes.
func namespaceDeletion(w *projections.Workload, ns *projections.Workload) runner.Decision {
	msgID := "nsdelete/" + w.UID
	cause := ns.Cause()
	return runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
		Event: &events.WorkloadDeleted{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID,
			Reason: "namespace " + ns.Name + " deleted"},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(w.LastDecisionSeq),
	}
}

// condition decides NamespaceContentRemaining when it changes: True with
// what remains, False once the Namespace is empty.
func (s *Service) namespaceCondition(ns *projections.Workload, remaining bool, msg string) (runner.Decision, bool) {
	status := manifest.ConditionFalse
	reason := "ContentDeleted"
	if remaining {
		status, reason = manifest.ConditionTrue, "SomeResourcesRemain"
	}
	if c := ns.Decided().Condition(manifest.NamespaceContentRemaining); c != nil && c.Status == status && c.Message == msg {
		return runner.Decision{}, false // nothing changed
	}
	last := s.c.WorkloadDecisionSeq("namespace", events.ClusterScope, ns.Name)
	msgID := fmt.Sprintf("nsstatus/%s/%d", ns.UID, last)
	cause := ns.Cause()
	return runner.Decision{
		Subject: events.WorkloadSubject(events.ClusterScope, "namespace", ns.Name),
		Event: &events.WorkloadStatusDecided{Kind: "namespace", Namespace: events.ClusterScope, Name: ns.Name, UID: ns.UID,
			Conditions: []manifest.Condition{{Type: manifest.NamespaceContentRemaining, Status: status, Reason: reason,
				Message: msg, LastTransitionTime: ns.UpdatedAt}}},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, ns.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(last),
	}, true
}

// remainingKinds names the kinds of what remains, by plural, as
// Kubernetes' condition does ("deployments, pods"): the message changes
// when a kind is gone, not with every object.
func remainingKinds(objs []*projections.Workload, pods int) string {
	set := map[string]bool{}
	for _, w := range objs {
		if k := w.Object.Info(); k != nil {
			set[k.Plural] = true
		}
	}
	if pods > 0 {
		set["pods"] = true
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
