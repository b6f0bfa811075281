package replica

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
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
// ReplicaSets stay at 0, as history: each carries its revision
// (deployment.kubernetes.io/revision, see revised; web-A 1, web-B 2, web-A
// back to 3), and those beyond spec.revisionHistoryLimit go once they have
// no pods (pruneHistory).
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
				out = append(out, s.decideSet(rs, nil, *rs.Object.ReplicaSet(), rs.Object.Metadata.Annotations, rs.Generation+1, cause))
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
	name := SetName(w.Name, hash)
	want := spec.ReplicaCount()
	if ceiling := s.MaxPodsPerWorkload; ceiling > 0 && want > ceiling {
		want = ceiling
	}
	var current *projections.Workload
	var old []*projections.Workload
	oldPods := false
	oldMax := int64(0) // the highest revision of the other ReplicaSets
	for _, rs := range sets {
		if rs.Name == name {
			current = rs // its own, or one it adopted (below)
			continue
		}
		old = append(old, rs)
		oldMax = max(oldMax, revisionOf(rs))
		if replicasOf(rs) != 0 && len(out) < x.limit {
			scaled := *rs.Object.ReplicaSet()
			scaled.Replicas = ptr(int32(0))
			out = append(out, s.decideSet(rs, rs.Owner, scaled, rs.Object.Metadata.Annotations, rs.Generation+1, cause))
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
			out = append(out, s.decideSet(other, owner, setSpec(spec, hash, want), revised(w, other, oldMax), other.Generation+1, cause))
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
		fresh := &projections.Workload{Kind: "replicaset", Namespace: w.Namespace, Name: name, UID: setUID(w.UID, hash, oldMax+1)}
		out = append(out, s.decideSet(fresh, owner, setSpec(spec, hash, want), revised(w, fresh, oldMax), 1, cause))
		if d := s.decideStatus(w, nil, "", cause); d != nil {
			out = append(out, *d) // a quota's refusal is over
		}
		return out
	default:
		ann := revised(w, current, oldMax)
		if replicasOf(current) != want || !maps.Equal(ann, current.Object.Metadata.Annotations) {
			scaled := *current.Object.ReplicaSet()
			scaled.Replicas = ptr(want)
			out = append(out, s.decideSet(current, owner, scaled, ann, current.Generation+1, cause))
		}
	}
	return append(out, s.pruneHistory(old, spec.HistoryLimit(), x.limit-len(out), cause)...)
}

// revisionOf is a ReplicaSet's deployment.kubernetes.io/revision (0: none,
// one made before revisions).
func revisionOf(rs *projections.Workload) int64 {
	return manifest.RevisionOf(rs.Object.Metadata.Annotations)
}

// revised is the annotations of the ReplicaSet of w's current template, as
// Kubernetes' Deployment keeps them: its revision stays while it is the
// newest; a new ReplicaSet, or an old one brought back (a rollback), gets
// the next one, max(the others') + 1. Worked example: A (1) → B makes web-B
// at 2; scaled, still 2; back to A, web-A moves from 1 to 3.
// kubernetes.io/change-cause is the Deployment's, copied as it stands.
func revised(w, rs *projections.Workload, oldMax int64) map[string]string {
	ann := maps.Clone(rs.Object.Metadata.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	if rev := revisionOf(rs); rev <= oldMax {
		ann[manifest.RevisionAnnotation] = strconv.FormatInt(oldMax+1, 10)
	}
	if cc, ok := w.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]; ok {
		ann[manifest.ChangeCauseAnnotation] = cc
	} else {
		delete(ann, manifest.ChangeCauseAnnotation)
	}
	return ann
}

// pruneHistory deletes a Deployment's oldest ReplicaSets beyond its
// revisionHistoryLimit, as Kubernetes' cleanup does: of the old ones (the
// current one is never among them), the len(old)-limit of lowest revision,
// each only once it is at 0 with no pod left (one that still has pods is
// skipped this time, not replaced by a newer one). At most budget
// decisions. Worked example: limit 1, old web-A (1, no pods) and web-B (2,
// a pod still ending) → web-A is deleted, web-B kept.
func (s *Service) pruneHistory(old []*projections.Workload, limit int32, budget int, cause events.Envelope) []runner.Decision {
	extra := len(old) - int(limit)
	if extra <= 0 || budget <= 0 {
		return nil
	}
	sort.SliceStable(old, func(i, j int) bool { return revisionOf(old[i]) < revisionOf(old[j]) })
	var out []runner.Decision
	for _, rs := range old[:extra] {
		if len(out) >= budget {
			break
		}
		if replicasOf(rs) == 0 && s.c.OwnedCount(rs.UID) == 0 {
			out = append(out, setDeleted(rs, fmt.Sprintf("revision %d beyond revisionHistoryLimit %d", revisionOf(rs), limit), cause))
		}
	}
	return out
}

// SetName is a Deployment's ReplicaSet for a template hash
// (manifest.ReplicaSetName).
func SetName(deployment, hash string) string { return manifest.ReplicaSetName(deployment, hash) }

// setUID is the uid of a new ReplicaSet of a Deployment's template, at
// its revision: a template made again after its ReplicaSet was pruned
// (revisionHistoryLimit) gets a new uid, so its decisions are not taken
// for the pruned one's.
func setUID(deploymentUID, hash string, revision int64) string {
	return events.DeriveID(fmt.Sprintf("replicaset/%s/%s/%d", deploymentUID, hash, revision))
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
// as spec says, with annotations ann, owned by owner (nil: released), at
// generation gen: on the
// ReplicaSet's subject, expecting its newest decision. The message id is
// derived from the uid and the generation, so deciding again after a crash
// is dropped as a duplicate.
func (s *Service) decideSet(rs *projections.Workload, owner *events.OwnerRef, spec manifest.ReplicaSetSpec, ann map[string]string, gen int64, cause events.Envelope) runner.Decision {
	labels := rs.Object.Metadata.Labels
	if labels == nil {
		labels = spec.Template.Metadata.Labels
	}
	obj := manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindReplicaSet,
		Metadata: manifest.ObjectMeta{Name: rs.Name, Namespace: rs.Namespace, Labels: labels, Annotations: ann},
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
