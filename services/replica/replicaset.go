package replica

import (
	"fmt"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/services/poddecision"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// replicaSet keeps spec.replicas pods matching its selector, stamped from
// its template (at most the cluster's ceiling), making at most x.limit
// decisions. A ReplicaSet applied by a user and one a Deployment made are
// kept alike. As in Kubernetes, a template change does not touch the pods
// it has (a Deployment makes a new ReplicaSet for a new template).
//
// Worked example: replicas 3, pods a (Running), b (Failed), c (Running) →
// b is deleted and one pod is planned: 3 active again. A pod its node
// removed with no deletion decision shows as Failed (reason Removed, see
// projections), so it is deleted and replaced the same way.
//
// Adoption, as Kubernetes': a pod without a controller (a bare Pod's, or
// one released) in its namespace, not being deleted nor ended, whose labels
// match the selector, is adopted and counted: replicas 3, pods a, b and a
// bare Pod "solo" labelled to match → solo is adopted, nothing planned. A
// pod it owns whose labels no longer match is released.
//
// Scale-up comes in slow-start batches (see FirstBatch): replicas 1,000 and
// 150 active → max(100, 150) = 150 plans this pass, 300 the next; with
// limit 40 (the pass's budget nearly spent), 40.
func (s *Service) replicaSet(w *projections.Workload, x examination) (out []runner.Decision) {
	limit := x.limit
	owned := s.c.OwnedPods(w.UID)
	cause := w.Cause()
	if w.Owner != nil && !w.Deleted && s.c.WorkloadGone(w.Owner.UID) {
		// Decided for a Deployment forgotten before it was read (it raced
		// the Deployment's deletion): deleted, as what lost its owner is.
		return []runner.Decision{poddecision.DeleteObject(w, "its owner "+w.Owner.Kind+" "+w.Owner.Name+" is gone", cause, Name)}
	}
	if w.Deleted {
		return poddecision.Cascade(w, owned, cause, Name, limit)
	}
	spec := w.Object.ReplicaSet()
	if spec == nil {
		return nil
	}
	sel := selectorOf(spec)
	hash := templateHash(spec.Template)
	var active []*projections.Pod
	for _, p := range owned {
		switch {
		case p.Deleting:
		case len(out) >= limit && (p.Terminal() || !sel.Matches(p.Labels)):
			// Decided in a later pass; not active meanwhile.
		case !sel.Matches(p.Labels):
			out = append(out, release(p, w, "labels no longer match the selector", cause))
		case p.Removed:
			out = append(out, deletion(p, "pod removed by node "+p.Node+" with no deletion decision", cause))
		case p.Terminal():
			out = append(out, deletion(p, "pod "+p.Phase(), cause))
		default:
			active = append(active, p)
		}
	}
	adopted := 0
	for _, key := range sortedKeys(s.orphans[w.Namespace]) {
		p := s.c.Pods[key]
		if len(out) >= limit || p == nil || !orphan(p) || p.Deleting || p.Terminal() || s.claimed[key] || !sel.Matches(p.Labels) {
			continue
		}
		s.claimed[key] = true
		out = append(out, adopt(p, w, cause))
		active = append(active, p)
		adopted++
	}
	refused := ""
	defer func() {
		if d := s.decideStatus(w, nil, refused, cause); d != nil && len(out) < limit {
			out = append(out, *d)
		}
	}()
	want := int(spec.ReplicaCount())
	if ceiling := int(s.MaxPodsPerWorkload); ceiling > 0 && want > ceiling {
		want = ceiling
	}
	switch {
	case len(active) < want:
		// Indexes continue from the pods planned so far, skipping any index
		// whose pod exists or existed (a plan stored out of order), so a
		// new plan never collides with an old one.
		batch := min(want-len(active), max(FirstBatch, len(active)), limit-len(out))
		n := w.PodsPlanned
		for i := 0; i < batch; i++ {
			for s.indexTaken(w, n) {
				n++
			}
			d := s.plan(w, hash, spec.Template, n, cause)
			if refused = s.quotaPod(d); refused != "" {
				break
			}
			out = append(out, d)
			n++
		}
	case len(active) > want && adopted == 0:
		// (A pod adopted in this pass is scaled down in the next: its
		// deletion must expect the adoption.)
		sort.SliceStable(active, func(i, j int) bool { return scaleDownFirst(active[i], active[j]) })
		for _, p := range active[:min(len(active)-want, max(0, limit-len(out)))] {
			out = append(out, deletion(p, "scaled down", cause))
		}
	}
	return out
}

// selectorOf is a ReplicaSet's selector; without one (admission requires
// one), its template's labels.
func selectorOf(spec *manifest.ReplicaSetSpec) manifest.LabelSelector {
	if spec.Selector != nil {
		return *spec.Selector
	}
	return manifest.LabelSelector{MatchLabels: spec.Template.Metadata.Labels}
}

// templateHash is what a ReplicaSet's pods carry as their TemplateHash:
// its template's pod-template-hash label (a Deployment's ReplicaSet: the
// Deployment's template hash, so the Deployment counts them up to date),
// or the hash of its template.
func templateHash(t manifest.PodTemplateSpec) string {
	if h, ok := t.Metadata.Labels[manifest.PodTemplateHashLabel]; ok && h != "" {
		return h
	}
	return manifest.TemplateHash(t)
}

// scaleDownFirst orders pods like Kubernetes' ReplicaSet: unscheduled before
// scheduled, pending before running, not ready before ready, newest first.
func scaleDownFirst(a, b *projections.Pod) bool {
	if (a.Node == "") != (b.Node == "") {
		return a.Node == ""
	}
	ar, br := a.Phase() == events.PhaseRunning, b.Phase() == events.PhaseRunning
	if ar != br {
		return !ar
	}
	if a.Ready() != b.Ready() {
		return !a.Ready()
	}
	return a.PlannedSeq > b.PlannedSeq
}

// plan makes the n-th pod of a ReplicaSet incarnation. Its name and uid are
// derived from (workload uid, n), so deciding again after a crash yields the
// same pod and the log's deduplication drops the copy.
func (s *Service) plan(w *projections.Workload, hash string, t manifest.PodTemplateSpec, n int64, cause events.Envelope) runner.Decision {
	name := PodName(w.Name, w.UID, n)
	uid := podUID(w.UID, n)
	msgID := "plan/" + uid
	return runner.Decision{
		Subject: events.PodDecisionSubject(w.Namespace, name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: name, UID: uid,
			Owner:        &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID},
			TemplateHash: hash, Labels: t.Metadata.Labels, Annotations: t.Metadata.Annotations, Spec: t.Spec},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.DecisionSeq(w.Namespace, name)), // see indexTaken
	}
}

// indexTaken reports whether the n-th pod of a workload incarnation exists
// or existed, or another pod holds its name. Names end in 5 characters of
// 27 (like Kubernetes'), so two pods of one workload can draw the same name:
// in a run of 200 Deployments of 100 pods, about one run in 15 (computed:
// 200 × C(100,2) / 27^5; the kill test drew one). A plan expects
// its subject as the fold last saw it, so the log refuses the second of
// two such plans; once the first is read back, its name is taken here and
// the next index is used.
func (s *Service) indexTaken(w *projections.Workload, n int64) bool {
	if s.c.Gone(podUID(w.UID, n)) {
		return true
	}
	return s.c.Pods[projections.Key(w.Namespace, PodName(w.Name, w.UID, n))] != nil
}

// adopt takes a pod without a controller for the ReplicaSet w, on the pod's
// subject, expecting its newest decision.
func adopt(p *projections.Pod, w *projections.Workload, cause events.Envelope) runner.Decision {
	msgID := fmt.Sprintf("adopt/%s/%s/%d", p.UID, w.UID, p.LastDecisionSeq)
	return runner.Decision{
		Subject: events.PodDecisionSubject(p.Namespace, p.Name),
		Event: &events.PodAdopted{Namespace: p.Namespace, Name: p.Name, UID: p.UID,
			Owner: events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID}},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, p.Namespace+"/"+p.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(p.LastDecisionSeq),
	}
}

// release lets a pod of w go (poddecision.Release).
func release(p *projections.Pod, w *projections.Workload, reason string, cause events.Envelope) runner.Decision {
	return poddecision.Release(p, w, reason, cause, Name)
}
