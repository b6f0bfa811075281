// Package namespace deletes what a deleted Namespace holds, as Kubernetes'
// namespace controller does: every object in it (their controllers delete
// what those own, and their pods), while the Namespace shows Terminating
// (condition NamespaceContentRemaining) until nothing is left.
package namespace

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "namespace"

// PassBudget bounds the deletions of one pass, as the replica's does.
const PassBudget = 5000

// FullEvery is how often Decide looks at every deleted Namespace rather
// than those whose content changed.
const FullEvery = 10 * time.Second

// Service deletes the content of deleted Namespaces.
type Service struct {
	c        *projections.Cluster
	lastFull time.Time
}

// New returns a namespace service over an empty fold.
func New() *Service { return &Service{c: projections.NewCluster()} }

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service. For each deleted Namespace: delete
// each object in it that no other object owns (those that are owned go
// with their owner), and say, when it changes, what remains.
//
// Worked example: Namespace shop deleted, holding Deployment web (its
// ReplicaSet and 3 pods) and Job pi (1 pod). The first pass deletes web
// and pi and decides NamespaceContentRemaining True ("deployments, jobs,
// pods, replicasets"); as their controllers delete what they own, the
// kinds left fall away, and once
// nothing is left the condition turns False: shop is gone from `get ns`.
func (s *Service) Decide(now time.Time) []runner.Decision {
	full := s.lastFull.IsZero() || now.Before(s.lastFull) || !now.Before(s.lastFull.Add(FullEvery))
	if full {
		s.lastFull = now
	}
	examine := s.deletedNamespaces(full)
	s.c.ClearDirty()
	var out []runner.Decision
	budget := PassBudget
	for _, ns := range examine {
		objs, pods := s.c.InNamespace(ns.Name)
		for _, w := range objs {
			if budget == 0 {
				break
			}
			if w.Owner != nil {
				continue // deleted with its owner
			}
			out = append(out, deletion(w, ns))
			budget--
		}
		remaining := len(objs) > 0 || pods > 0
		msg := "All content deleted"
		if remaining {
			msg = "Some content in the namespace has not been deleted yet: " + remainingKinds(objs, pods)
		}
		if d, ok := s.condition(ns, remaining, msg); ok {
			out = append(out, d)
		}
	}
	return out
}

// deletedNamespaces are the Namespaces deleted and not made again, by
// name: all of them on a full pass, else those whose record or content
// changed since the last pass (a deletion's progress is a change to its
// objects and pods, so nothing is missed between full passes).
func (s *Service) deletedNamespaces(full bool) []*projections.Workload {
	names := map[string]bool{}
	if full {
		for _, w := range s.c.Workloads {
			if w.Kind == "namespace" {
				names[w.Name] = true
			}
		}
	} else {
		for key := range s.c.Dirty.Workloads {
			if w := s.c.Workloads[key]; w != nil {
				names[w.Namespace] = true
				if w.Kind == "namespace" {
					names[w.Name] = true
				}
			}
		}
		for key := range s.c.Dirty.Pods {
			if ns, _, ok := strings.Cut(key, "/"); ok {
				names[ns] = true
			}
		}
	}
	var out []*projections.Workload
	for name := range names {
		if w := s.c.Workloads[projections.WorkloadKey("namespace", events.ClusterScope, name)]; w != nil && w.Deleted {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// deletion deletes an object of a deleted Namespace, on the object's own
// subject; its id is derived from the object's uid, so the same object is
// deleted once whatever the passes.
func deletion(w *projections.Workload, ns *projections.Workload) runner.Decision {
	msgID := "nsdelete/" + w.UID
	cause := events.Envelope{ID: ns.CauseID, CorrelationID: ns.CorrelationID, Actor: ns.Actor}
	return runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
		Event: &events.WorkloadDeleted{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID,
			Reason: "namespace " + ns.Name + " deleted"},
		Meta:  cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID: msgID,
	}
}

// condition decides NamespaceContentRemaining when it changes: True with
// what remains, False once the Namespace is empty.
func (s *Service) condition(ns *projections.Workload, remaining bool, msg string) (runner.Decision, bool) {
	status := manifest.ConditionFalse
	reason := "ContentDeleted"
	if remaining {
		status, reason = manifest.ConditionTrue, "SomeResourcesRemain"
	}
	if c := ns.Decided().Condition(manifest.NamespaceContentRemaining); c != nil && c.Status == status && c.Message == msg {
		return runner.Decision{}, false // nothing changed
	}
	msgID := fmt.Sprintf("nsstatus/%s/%s/%s", ns.UID, status, events.DeriveID(msg))
	cause := events.Envelope{ID: ns.CauseID, CorrelationID: ns.CorrelationID, Actor: ns.Actor}
	return runner.Decision{
		Subject: events.WorkloadSubject(events.ClusterScope, "namespace", ns.Name),
		Event: &events.WorkloadStatusDecided{Kind: "namespace", Namespace: events.ClusterScope, Name: ns.Name, UID: ns.UID,
			Conditions: []manifest.Condition{{Type: manifest.NamespaceContentRemaining, Status: status, Reason: reason,
				Message: msg, LastTransitionTime: ns.UpdatedAt}}},
		Meta:  cause.Caused(events.DeriveID(msgID), Name, ns.Name, time.Time{}),
		MsgID: msgID,
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
