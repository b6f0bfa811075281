package rollout

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// deployment keeps a Deployment's ReplicaSets, one per pod template, as
// Kubernetes does: each named <deployment>-<template hash>, its uid
// derived from the Deployment's, the hash and its revision. The one of the
// current template is the rollout's target, the others are old; the
// strategy moves spec.replicas from the old ones to the target (rolling.go,
// recreate, canary.go), and the pods are the ReplicaSets' business (the
// replica service).
//
// A rollout that fails (progress.go) is rolled back: while the Deployment
// is at the generation that failed, the target is the ReplicaSet of the
// revision last fully available, and the failed one is old. Paused, no
// new ReplicaSet is made and nothing moves; only a change of
// spec.replicas is followed, by the ReplicaSet that has pods.
//
// Deleted, with propagation Background or Foreground, its ReplicaSets are
// deleted (and they delete their pods); with Orphan, they are released
// (decided again with no owner) and keep their pods.
//
// It returns the decisions and when the Deployment is next due with no
// new input (zero: not before something changes).
func (s *Service) deployment(w *projections.Workload, limit int) ([]runner.Decision, time.Time) {
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
			if !p.Deleting && len(out) < limit {
				out = append(out, poddecision.Delete(p, "deployment deleted", cause, Name))
			}
		}
		for _, rs := range sets {
			if len(out) >= limit {
				break
			}
			if w.Orphan {
				out = append(out, s.decideSet(rs, nil, *rs.Object.ReplicaSet(), rs.Object.Metadata.Annotations, rs.Generation+1, "released: deployment deleted with propagation Orphan", cause))
			} else {
				out = append(out, poddecision.DeleteObject(rs, "deployment deleted", cause, Name))
			}
		}
		return out, time.Time{}
	}
	spec := w.Object.Deployment()
	if spec == nil {
		return nil, time.Time{}
	}
	// Pods the Deployment owns itself were made by a Gantry before
	// ReplicaSets: an old revision like any other, deleted first.
	legacy := false
	for _, p := range s.c.OwnedPods(w.UID) {
		legacy = true
		if !p.Deleting && len(out) < limit {
			out = append(out, poddecision.Delete(p, "made without a ReplicaSet by an older Gantry; replaced through one", cause, Name))
		}
	}
	if legacy {
		return out, time.Time{}
	}
	r := s.newRoll(w, spec, sets)
	r.judge()
	if r.failure == nil {
		if f := r.canary(); f != nil {
			r.fail(f)
		}
	}
	if r.failure == nil {
		r.move()
		r.flush()
	}
	out = append(out, r.out...)
	if len(out) > limit {
		out = out[:limit] // the rest next pass: each decision stands alone
	}
	if d := r.status(); d != nil && len(out) < limit {
		out = append(out, *d)
	}
	out = append(out, s.pruneHistory(r.oldSets(), spec.HistoryLimit(), limit-len(out), cause)...)
	return out, r.wake
}

// roll is one examination of a Deployment: its ReplicaSets as the
// rollout sees them, the decisions made, and the status to decide.
type roll struct {
	s     *Service
	w     *projections.Workload
	spec  *manifest.DeploymentSpec
	cause events.Envelope
	now   time.Time
	hash  string // the current template's
	want  int32  // spec.replicas, at most the ceiling
	// current is the ReplicaSet of the current template, target the one
	// the rollout moves to (current, or after a failure the one rolled
	// back to; nil: none yet, or halted), old the others by revision.
	current, target *rs
	old             []*rs
	minReady        time.Duration
	st              manifest.RolloutStatus // as decided, updated by this pass
	failed          bool                   // the current generation's rollout failed
	scaled          bool                   // this pass changed a ReplicaSet
	stepped         bool                   // this pass moved a canary to its next step
	created         bool                   // this pass made the target
	paused, done    bool
	failure         *failure // found by judge
	quotaRefused    string
	out             []runner.Decision
	wake            time.Time
}

// rs is one ReplicaSet and its pods' counts.
type rs struct {
	w        *projections.Workload
	hash     string
	revision int64
	set
	// ending: some pod not ended (being deleted or not), which a Recreate
	// waits for.
	ending bool
	next   *int32 // the size this pass decides (nil: unchanged)
	// lastAvailable is when the newest of its available pods became so.
	lastAvailable time.Time
	// owned are its pods, read once for the pass (health, analysis).
	owned []*projections.Pod
}

func (s *Service) newRoll(w *projections.Workload, spec *manifest.DeploymentSpec, sets []*projections.Workload) *roll {
	r := &roll{s: s, w: w, spec: spec, cause: w.Cause(), now: s.now, hash: manifest.TemplateHash(spec.Template),
		want: spec.ReplicaCount(), minReady: time.Duration(spec.MinReadySeconds) * time.Second, paused: spec.Paused}
	if ceiling := s.MaxPodsPerWorkload; ceiling > 0 && r.want > ceiling {
		r.want = ceiling
	}
	if st := w.Decided().Rollout; st != nil {
		r.st = *st
	}
	r.failed = r.st.Failed(w.Generation)
	name := manifest.ReplicaSetName(w.Name, r.hash)
	for _, o := range sets {
		x := r.count(o)
		if o.Name == name {
			r.current = x
		} else {
			r.old = append(r.old, x)
		}
	}
	sortByRevision(r.old)
	r.target = r.current
	if r.failed {
		r.target = nil
		if r.st.RolledBackHash != "" {
			r.target = r.find(r.st.RolledBackHash)
		}
	}
	return r
}

// count reads a ReplicaSet's pods: those neither ended nor being deleted,
// and of them those available at now (and when the next one will be).
func (r *roll) count(w *projections.Workload) *rs {
	x := &rs{w: w, hash: w.Object.ReplicaSet().Template.Metadata.Labels[manifest.PodTemplateHashLabel],
		revision: manifest.RevisionOf(w.Object.Metadata.Annotations)}
	x.spec = replicasOf(w)
	if r.s.c.OwnedCount(w.UID) == 0 {
		return x
	}
	x.owned = r.s.c.OwnedPods(w.UID)
	for _, p := range x.owned {
		if p.Terminal() {
			continue
		}
		x.ending = true
		if p.Deleting {
			continue
		}
		x.pods++
		switch {
		case p.AvailableAt(r.minReady, r.now):
			x.available++
			if at := p.ReadySince.Add(r.minReady); at.After(x.lastAvailable) {
				x.lastAvailable = at
			}
		case p.Ready() && p.ReadySince != nil:
			r.wakeAt(p.ReadySince.Add(r.minReady))
		}
	}
	return x
}

// find is the ReplicaSet of a template hash, current or old, or nil.
func (r *roll) find(hash string) *rs {
	if r.current != nil && r.current.hash == hash {
		return r.current
	}
	for _, o := range r.old {
		if o.hash == hash {
			return o
		}
	}
	return nil
}

// others are the ReplicaSets the rollout moves away from: every one but
// the target, oldest revision first.
func (r *roll) others() []*rs {
	var out []*rs
	for _, o := range r.old {
		if o != r.target {
			out = append(out, o)
		}
	}
	if r.current != nil && r.current != r.target {
		out = append(out, r.current)
	}
	return out
}

// oldSets are the ReplicaSets that are history: every one but the
// current and the target.
func (r *roll) oldSets() []*projections.Workload {
	var out []*projections.Workload
	for _, o := range r.old {
		if o != r.target {
			out = append(out, o.w)
		}
	}
	return out
}

func (r *roll) wakeAt(t time.Time) {
	if t.After(r.now) && (r.wake.IsZero() || t.Before(r.wake)) {
		r.wake = t
	}
}

// move decides the ReplicaSets' sizes by the strategy.
func (r *roll) move() {
	others := r.others()
	switch {
	case r.failed && r.target == nil:
		return // halted where it failed
	case r.paused:
		r.scalePaused(others)
		return
	case r.target == nil:
		r.create(others)
		return
	}
	if r.spec.StrategyType() == manifest.RecreateStrategy {
		r.recreate(others)
		return
	}
	cap := r.want
	if r.isCanary() {
		cap = r.canaryCap()
	}
	r.rolling(others, cap)
}

// rolling moves toward the target by maxSurge and maxUnavailable, at most
// cap replicas on the target (a canary step's share), the others keeping
// the rest.
func (r *roll) rolling(others []*rs, cap int32) {
	su, un := r.spec.Bounds()
	surge, unavailable := manifest.ResolveBounds(su, un, r.want)
	olds := make([]set, len(others))
	for i, o := range others {
		olds[i] = o.set
	}
	t := r.target.set
	t.spec = scaleUp(r.want, surge, cap, t, olds)
	next := scaleDown(r.want, unavailable, t, olds)
	if cap < r.want {
		next = keepAtLeast(next, olds, r.want-cap)
	}
	t.spec, next = trim(r.want, surge, min(t.spec, cap), next)
	r.resize(r.target, t.spec)
	for i, o := range others {
		r.resize(o, next[i])
	}
}

// recreate scales every other ReplicaSet to 0 first, and the target to
// spec.replicas once the others have no pod left that has not ended.
func (r *roll) recreate(others []*rs) {
	waiting := false
	for _, o := range others {
		r.resize(o, 0)
		waiting = waiting || o.ending
	}
	if !waiting {
		r.resize(r.target, r.want)
	}
}

// scalePaused follows a change of spec.replicas while paused: the one
// ReplicaSet with replicas (the target if none has) takes it; several
// mid-rollout stay as they are until resumed.
func (r *roll) scalePaused(others []*rs) {
	var active []*rs
	for _, o := range append(others, r.target) {
		if o != nil && o.spec > 0 {
			active = append(active, o)
		}
	}
	switch {
	case len(active) == 1:
		r.resize(active[0], r.want)
	case len(active) == 0 && r.target != nil:
		r.resize(r.target, r.want)
	}
}

// resize sets the size a ReplicaSet is decided at (flush decides it).
func (r *roll) resize(x *rs, n int32) {
	if x != nil {
		x.next = &n
	}
}

// flush decides each ReplicaSet whose size changed, and the current one
// when its revision annotations (revised) must change: one decision per
// ReplicaSet, at its next generation.
func (r *roll) flush() {
	for _, x := range append(append([]*rs(nil), r.old...), r.current) {
		if x == nil {
			continue
		}
		n := x.spec
		if x.next != nil {
			n = *x.next
		}
		ann := x.w.Object.Metadata.Annotations
		if x == r.current && x == r.target {
			ann = r.revised(x)
		}
		if n == x.spec && mapsEqual(ann, x.w.Object.Metadata.Annotations) {
			continue
		}
		scaled := *x.w.Object.ReplicaSet()
		scaled.Replicas = ptr(n)
		r.out = append(r.out, r.s.decideSet(x.w, x.w.Owner, scaled, ann, x.w.Generation+1, r.reason(x, n), r.cause))
		if n != x.spec {
			r.scaled = true
		}
		x.spec = n
	}
}

func (r *roll) revised(x *rs) map[string]string {
	return revised(r.w, x.w, r.maxOldRevision())
}

func (r *roll) maxOldRevision() int64 {
	m := int64(0)
	for _, o := range r.old {
		m = max(m, o.revision)
	}
	return m
}

// create makes the ReplicaSet of the current template (its first
// revision, or the next one), at the size its strategy allows now: a
// Recreate's once the old pods are gone, a rolling update's what the surge
// leaves room for. A ReplicaSet of that name released by a former
// Deployment of this name (deleted with --cascade=orphan) and of this
// template is adopted, as Kubernetes' Deployment adopts it.
func (r *roll) create(others []*rs) {
	s, w := r.s, r.w
	name := manifest.ReplicaSetName(w.Name, r.hash)
	owner := &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID}
	size := r.want
	switch r.spec.StrategyType() {
	case manifest.RecreateStrategy:
		waiting := false
		for _, o := range others {
			r.resize(o, 0)
			waiting = waiting || o.ending
		}
		if waiting {
			return // the new pods come once the old ones are gone
		}
	default:
		su, un := r.spec.Bounds()
		surge, _ := manifest.ResolveBounds(su, un, r.want)
		olds := make([]set, len(others))
		for i, o := range others {
			olds[i] = o.set
		}
		cap := r.want
		if r.isCanary() {
			cap = r.canaryCap()
		}
		size = scaleUp(r.want, surge, cap, set{}, olds)
	}
	other := s.c.Workloads[projections.WorkloadKey("replicaset", w.Namespace, name)]
	spec := setSpec(r.spec, r.hash, size)
	oldMax := r.maxOldRevision()
	if other != nil && !other.Deleted && other.Owner == nil && other.Object.ReplicaSet() != nil &&
		other.Object.ReplicaSet().Template.Metadata.Labels[manifest.PodTemplateHashLabel] == r.hash {
		r.out = append(r.out, s.decideSet(other, owner, spec, revised(w, other, oldMax), other.Generation+1, r.reason(nil, size), r.cause))
		r.scaled, r.created = true, true
		return
	}
	if other != nil && (!other.Deleted || s.c.OwnedCount(other.UID) > 0) {
		return // a ReplicaSet of that name (another's) is still going; wait for it
	}
	if why := s.quota.Object(w.Namespace, replicaSetKind, name); why != "" {
		r.quotaRefused = why // count/replicasets.apps, charged where it is decided
		return
	}
	fresh := &projections.Workload{Kind: "replicaset", Namespace: w.Namespace, Name: name, UID: setUID(w.UID, r.hash, oldMax+1)}
	r.out = append(r.out, s.decideSet(fresh, owner, spec, revised(w, fresh, oldMax), 1, r.reason(nil, size), r.cause))
	r.scaled, r.created = true, true
}

// keepAtLeast raises the old ReplicaSets' next sizes (newest first) so
// that they keep at least keep replicas in all, never above what they
// have now: a canary step holds the rest of the replicas on the old
// revision.
func keepAtLeast(next []int32, olds []set, keep int32) []int32 {
	total := int32(0)
	for _, n := range next {
		total += n
	}
	for i := len(next) - 1; i >= 0 && total < keep; i-- {
		add := min(olds[i].spec-next[i], keep-total)
		next[i] += add
		total += add
	}
	return next
}

// reason says why a ReplicaSet (nil: the new one) is decided at n, as
// Kubernetes' events say it, with the strategy that chose n.
func (r *roll) reason(x *rs, n int32) string {
	var what string
	switch {
	case x == nil:
		what = fmt.Sprintf("created replica set %s at %d (revision %d)", manifest.ReplicaSetName(r.w.Name, r.hash), n, r.maxOldRevision()+1)
	case n > x.spec:
		what = fmt.Sprintf("scaled up replica set %s to %d from %d", x.w.Name, n, x.spec)
	case n < x.spec:
		what = fmt.Sprintf("scaled down replica set %s to %d from %d", x.w.Name, n, x.spec)
	default:
		what = fmt.Sprintf("revision of replica set %s set to %s", x.w.Name, r.revised(x)[manifest.RevisionAnnotation])
	}
	su, un := r.spec.Bounds()
	surge, unavailable := manifest.ResolveBounds(su, un, r.want)
	how := fmt.Sprintf("%s: maxSurge %d, maxUnavailable %d", manifest.RollingUpdateStrategy, surge, unavailable)
	switch {
	case r.failed && r.target != nil:
		how = fmt.Sprintf("rolling back to revision %d after revision %d failed (%s)", r.st.RolledBackTo, r.st.FailedRevision, r.st.Reason)
	case r.paused:
		how = "spec.replicas changed while paused"
	case r.spec.StrategyType() == manifest.RecreateStrategy:
		how = manifest.RecreateStrategy
	case r.isCanary():
		how = fmt.Sprintf("%s step %d of %d: %d of %d replicas on the new revision", manifest.CanaryStrategy,
			r.canaryStep(), len(r.spec.Strategy.Canary.Steps), r.canaryCap(), r.want)
	}
	return what + " (" + how + ")"
}
