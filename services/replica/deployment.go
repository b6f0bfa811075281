package replica

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// deployment keeps a Deployment's ReplicaSets, one per pod template, as
// Kubernetes does: the one of its current template (named
// <deployment>-<template hash>, its uid derived from the Deployment's and
// the hash) at spec.replicas, the others at 0. Its pods are its
// ReplicaSets' business (replicaset.go).
//
// Recreate (rolling updates come with the rollout service): on a template
// change every old ReplicaSet is scaled to 0 first, and the new one is
// scaled up only once the old ones have no pod left that has not ended.
// Worked example: web at 3 replicas of template A (ReplicaSet web-A, 3
// pods), applied with template B → pass 1 decides web-A at 0 (generation
// 2); its 3 pods are deleted by web-A, and while any of them is still on
// its node nothing more is decided; once they are gone, web-B is decided at
// 3. Applied again with A (a rollback), web-A is scaled back to 3 (its
// generation 3) rather than made anew, and web-B to 0 first. Old
// ReplicaSets stay at 0, as history.
//
// Deleted, with propagation Background or Foreground, its ReplicaSets are
// deleted (and they delete their pods); with Orphan, they are released
// (decided again with no owner) and keep their pods.
func (s *Service) deployment(w *projections.Workload, x examination) []runner.Decision {
	cause := w.Cause()
	var out []runner.Decision
	var sets []*projections.Workload
	for _, rs := range s.c.OwnedWorkloads(w.UID) {
		if rs.Kind == "replicaset" && !rs.Deleted && rs.Object.ReplicaSet() != nil {
			sets = append(sets, rs)
		}
	}
	if w.Deleted {
		for _, p := range s.c.OwnedPods(w.UID) { // made before ReplicaSets
			if !p.Deleting && len(out) < x.limit {
				out = append(out, deletion(p, "deployment deleted", cause))
			}
		}
		for _, rs := range sets {
			if len(out) >= x.limit {
				break
			}
			if w.Orphan {
				out = append(out, s.decideSet(rs, nil, *rs.Object.ReplicaSet(), rs.Generation+1, cause))
			} else {
				out = append(out, setDeleted(rs, "deployment deleted", cause))
			}
		}
		return out
	}
	spec := w.Object.Deployment()
	if spec == nil {
		return nil
	}
	hash := manifest.TemplateHash(spec.Template)
	name, uid := SetName(w.Name, hash), setUID(w.UID, hash)
	want := spec.ReplicaCount()
	if ceiling := s.MaxPodsPerWorkload; ceiling > 0 && want > ceiling {
		want = ceiling
	}
	var current *projections.Workload
	oldPods := false
	for _, rs := range sets {
		if rs.Name == name {
			current = rs // its own, or one it adopted (below)
			continue
		}
		if replicasOf(rs) != 0 && len(out) < x.limit {
			scaled := *rs.Object.ReplicaSet()
			scaled.Replicas = ptr(int32(0))
			out = append(out, s.decideSet(rs, rs.Owner, scaled, rs.Generation+1, cause))
		}
		if s.activePods(rs.UID) {
			oldPods = true
		}
	}
	// Pods the Deployment owns itself were made by a Gantry before
	// ReplicaSets: an old revision like any other, deleted first.
	for _, p := range s.c.OwnedPods(w.UID) {
		oldPods = true
		if !p.Deleting && len(out) < x.limit {
			out = append(out, deletion(p, "made without a ReplicaSet by an older Gantry; replaced through one", cause))
		}
	}
	if len(out) > 0 || oldPods {
		return out // Recreate: the new pods come once the old ones are gone
	}
	owner := &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID}
	switch {
	case current == nil:
		other := s.c.Workloads[projections.WorkloadKey("replicaset", w.Namespace, name)]
		if other != nil && !other.Deleted && other.Owner == nil && other.Object.ReplicaSet() != nil &&
			other.Object.ReplicaSet().Template.Metadata.Labels[PodTemplateHashLabel] == hash {
			// Released by a former Deployment of this name (deleted with
			// --cascade=orphan) and of this template: adopted, as
			// Kubernetes' Deployment adopts it, and scaled.
			out = append(out, s.decideSet(other, owner, setSpec(spec, hash, want), other.Generation+1, cause))
			return out
		}
		if other != nil && (!other.Deleted || s.c.OwnedCount(other.UID) > 0) {
			return nil // a ReplicaSet of that name (another's) is still going; wait for it
		}
		if why := s.quota.Object(w.Namespace, replicaSetKind, name); why != "" {
			// count/replicasets.apps, charged where the ReplicaSet is decided.
			if d := s.decideStatus(w, nil, why, cause); d != nil {
				out = append(out, *d)
			}
			return out
		}
		out = append(out, s.decideSet(&projections.Workload{Kind: "replicaset", Namespace: w.Namespace, Name: name, UID: uid},
			owner, setSpec(spec, hash, want), 1, cause))
		if d := s.decideStatus(w, nil, "", cause); d != nil {
			out = append(out, *d) // a quota's refusal is over
		}
	case replicasOf(current) != want:
		scaled := *current.Object.ReplicaSet()
		scaled.Replicas = ptr(want)
		out = append(out, s.decideSet(current, owner, scaled, current.Generation+1, cause))
	}
	return out
}

// SetName is a Deployment's ReplicaSet for a template hash
// (manifest.ReplicaSetName).
func SetName(deployment, hash string) string { return manifest.ReplicaSetName(deployment, hash) }

func setUID(deploymentUID, hash string) string {
	return events.DeriveID("replicaset/" + deploymentUID + "/" + hash)
}

// setSpec is the ReplicaSet of a Deployment's template: the template and
// the selector with pod-template-hash added, as Kubernetes does.
func setSpec(spec *manifest.DeploymentSpec, hash string, replicas int32) manifest.ReplicaSetSpec {
	t := spec.Template
	t.Metadata.Labels = withLabel(t.Metadata.Labels, PodTemplateHashLabel, hash)
	sel := manifest.LabelSelector{}
	if spec.Selector != nil {
		sel = *spec.Selector
	}
	sel.MatchLabels = withLabel(sel.MatchLabels, PodTemplateHashLabel, hash)
	return manifest.ReplicaSetSpec{Replicas: ptr(replicas), Selector: &sel, Template: t}
}

func withLabel(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

func ptr[T any](v T) *T { return &v }

// replicasOf is a ReplicaSet's spec.replicas.
func replicasOf(rs *projections.Workload) int32 {
	if spec := rs.Object.ReplicaSet(); spec != nil {
		return spec.ReplicaCount()
	}
	return 0
}

// activePods reports whether a workload has a pod that has not ended,
// being deleted or not: a Recreate waits for them (a pod being deleted
// still runs until its node removes it), as Kubernetes' does.
func (s *Service) activePods(uid string) bool {
	if s.c.OwnedCount(uid) == 0 {
		return false
	}
	for _, p := range s.c.OwnedPods(uid) {
		if !p.Terminal() {
			return true
		}
	}
	return false
}

// decideSet decides a ReplicaSet (rs: the fold's, or a new one's identity)
// as spec says, owned by owner (nil: released), at generation gen: on the
// ReplicaSet's subject, expecting its newest decision. The message id is
// derived from the uid and the generation, so deciding again after a crash
// is dropped as a duplicate.
func (s *Service) decideSet(rs *projections.Workload, owner *events.OwnerRef, spec manifest.ReplicaSetSpec, gen int64, cause events.Envelope) runner.Decision {
	labels := rs.Object.Metadata.Labels
	if labels == nil {
		labels = spec.Template.Metadata.Labels
	}
	obj := manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindReplicaSet,
		Metadata: manifest.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace, Labels: labels, Annotations: rs.Object.Metadata.Annotations},
		Spec:     &spec}
	obj.Defaults()
	raw, err := json.Marshal(obj)
	if err != nil {
		raw = nil // cannot happen for these types; the fold ignores what does not decode
	}
	msgID := fmt.Sprintf("replicaset/%s/%d", rs.UID, gen)
	return runner.Decision{
		Subject: events.WorkloadSubject(rs.Namespace, "replicaset", rs.Name),
		Event: &events.WorkloadDecided{Kind: "replicaset", Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID,
			Generation: gen, Owner: owner, Object: raw},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, rs.Namespace+"/"+rs.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq("replicaset", rs.Namespace, rs.Name)),
	}
}

// setDeleted deletes a ReplicaSet its owner no longer wants.
func setDeleted(rs *projections.Workload, reason string, cause events.Envelope) runner.Decision {
	msgID := "replicaset-deleted/" + rs.UID
	return runner.Decision{
		Subject:       events.WorkloadSubject(rs.Namespace, "replicaset", rs.Name),
		Event:         &events.WorkloadDeleted{Kind: "replicaset", Namespace: rs.Namespace, Name: rs.Name, UID: rs.UID, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, rs.Namespace+"/"+rs.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(rs.LastDecisionSeq),
	}
}

// replicaSetKind is the ReplicaSet's entry in the kind registry, for quota
// checks.
var replicaSetKind, _ = manifest.KindOfToken("replicaset")
