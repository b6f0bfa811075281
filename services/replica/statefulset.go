package replica

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// claimKind is the workload kind token of a PersistentVolumeClaim.
const claimKind = "persistentvolumeclaim"

// statefulSet keeps a StatefulSet's pods <set>-<ordinal> for the ordinals
// start … start+replicas-1, making at most x.limit decisions, as
// Kubernetes' StatefulSet controller does:
//
//   - A pod's name is its ordinal's, so a pod is planned only when no pod
//     of that name is in the fold: one being deleted, or one of an earlier
//     incarnation of the set, is waited for until its node removed it or
//     the control plane finished its deletion on a lost, fenced node
//     (evict.go). Two copies of an ordinal never run at once.
//   - Before its pod, each volumeClaimTemplate's claim
//     <template>-<set>-<ordinal> is decided (once; an existing one is
//     used, and a released one adopted); the pod waits for the fold to
//     show them.
//   - OrderedReady (the default): ordinal i is planned once 0 … i-1 are
//     Running and Ready; scale-down deletes the highest ordinal once all
//     the others are Running and Ready and waits for it to be gone before
//     the next. Parallel: all at once, both ways.
//   - RollingUpdate: once every pod is Running and Ready, the highest
//     ordinal ≥ partition whose pod is of an older template is deleted;
//     it comes back from the new template, and the next waits for it.
//     OnDelete: a pod is only replaced when it is deleted.
//   - A pod that ended (Failed, removed by its node) is deleted and
//     planned again under a new uid once it is gone.
//   - Claims are owned by the set while it lives (so its decisions come
//     back to it). Scaled down with whenScaled Delete, the claims of an
//     ordinal are deleted once its pod is gone; the set deleted, once its
//     pods are gone, they are deleted (whenDeleted Delete) or released
//     (Retain, or propagation Orphan): nothing cascades to a retained one.
//
// Worked example: replicas 3, OrderedReady, a template with claim data.
// Pass 1 decides data-web-0; pass 2 plans web-0; it turns Running and
// Ready; pass 3 decides data-web-1; … Scaled to 1: web-2 is deleted; once
// it is removed, web-1; data-web-1 and data-web-2 stay (Retain).
func (s *Service) statefulSet(w *projections.Workload, x examination) []runner.Decision {
	st := &stateful{s: s, w: w, cause: w.Cause(), limit: x.limit}
	owned := s.c.OwnedPods(w.UID)
	if w.Deleted {
		out := poddecision.Cascade(w, owned, st.cause, Name, x.limit)
		if len(owned) == 0 {
			out = append(out, st.settleClaims()...)
		}
		return out
	}
	spec := w.Object.StatefulSet()
	if spec == nil {
		return nil
	}
	st.spec = spec
	st.hash = manifest.TemplateHash(spec.Template)
	return st.decide(owned)
}

// stateful is one examination of a StatefulSet.
type stateful struct {
	s       *Service
	w       *projections.Workload
	spec    *manifest.StatefulSetSpec
	hash    string
	cause   events.Envelope
	limit   int
	out     []runner.Decision
	refused string
}

func (st *stateful) full() bool { return len(st.out) >= st.limit }

// decide compares the pods the set has, by ordinal, with those it wants.
func (st *stateful) decide(owned []*projections.Pod) []runner.Decision {
	w, spec := st.w, st.spec
	want := spec.ReplicaCount()
	if ceiling := st.s.MaxPodsPerWorkload; ceiling > 0 && want > ceiling {
		want = ceiling
	}
	first := spec.FirstOrdinal()
	end := first + want // ordinals [first, end) are wanted
	ordered := spec.PodManagement() == manifest.OrderedReadyPodManagement

	// The set's own pods outside the wanted ordinals (or not named by an
	// ordinal), highest ordinal first: they are scaled down.
	var condemned []*projections.Pod
	for _, p := range owned {
		if o, ok := st.ordinal(p.Name); !ok || o < first || o >= end {
			condemned = append(condemned, p)
		}
	}
	sort.SliceStable(condemned, func(i, j int) bool {
		a, _ := st.ordinal(condemned[i].Name)
		b, _ := st.ordinal(condemned[j].Name)
		return a > b
	})

	// Create and repair, lowest ordinal first. healthy: every wanted
	// ordinal so far has a Running and Ready pod, none being deleted.
	healthy := true
	var current []*projections.Pod // the wanted ordinals' pods, in order
	for o := first; o < end && !st.full(); o++ {
		p := st.s.c.Pods[projections.Key(w.Namespace, manifest.StatefulPodName(w.Name, o))]
		switch {
		case p == nil:
			healthy = false
			if st.claims(o) {
				st.plan(o)
			}
		case p.Owner == nil || p.Owner.UID != w.UID:
			healthy = false // another pod holds the name (an earlier set's): wait for it to go
		case p.Deleting:
			healthy = false // being deleted: planned again once it is gone
		case p.Removed:
			healthy = false
			st.out = append(st.out, deletion(p, "pod removed by node "+p.Node+" with no deletion decision", st.cause))
		case p.Terminal():
			healthy = false
			st.out = append(st.out, deletion(p, "pod "+p.Phase(), st.cause))
		default:
			current = append(current, p)
			if !(p.Phase() == events.PhaseRunning && p.Ready()) {
				healthy = false
			}
		}
		if ordered && !healthy {
			break // OrderedReady: the next ordinal waits for this one
		}
	}

	// Scale down, highest ordinal first.
	stopping := false
	for _, p := range condemned {
		if p.Deleting {
			stopping = true
		}
	}
	for _, p := range condemned {
		if st.full() || ordered && (stopping || !healthy) {
			break
		}
		if p.Deleting {
			continue
		}
		st.out = append(st.out, deletion(p, "scaled down", st.cause))
		stopping = true
	}
	if len(condemned) == 0 {
		st.scaledClaims(end)
	}

	// Rolling update: one pod at a time, highest ordinal first, down to
	// the partition, once every pod is Running and Ready.
	if spec.StrategyType() == manifest.StatefulSetRollingUpdate && healthy && len(condemned) == 0 && int32(len(current)) == want && !st.full() {
		for i := len(current) - 1; i >= 0; i-- {
			p := current[i]
			if o, _ := st.ordinal(p.Name); o < first+spec.Partition() {
				break
			}
			if p.TemplateHash != st.hash {
				st.out = append(st.out, deletion(p, "rolling update to revision "+manifest.UpdateRevision(w.Name, spec.Template), st.cause))
				break
			}
		}
	}
	if d := st.s.decideStatus(w, nil, st.refused, st.cause); d != nil && !st.full() {
		st.out = append(st.out, *d)
	}
	return st.out
}

// ordinal is the ordinal of one of the set's pods by its name.
func (st *stateful) ordinal(name string) (int32, bool) {
	rest, ok := strings.CutPrefix(name, st.w.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != rest {
		return 0, false
	}
	return int32(n), true
}

// claims makes sure the claims of an ordinal exist, deciding those that do
// not (and adopting released ones); it reports whether the pod may be
// planned: every claim is in the fold, none being deleted.
func (st *stateful) claims(o int32) bool {
	ready := true
	for _, t := range st.spec.VolumeClaimTemplates {
		name := manifest.ClaimName(t.Metadata.Name, st.w.Name, o)
		c := st.s.c.Workloads[projections.WorkloadKey(claimKind, st.w.Namespace, name)]
		switch {
		case c == nil:
			ready = false
			if !st.full() {
				st.out = append(st.out, st.newClaim(t, name))
			}
		case c.Deleted:
			ready = false // being deleted: a new one once it is gone
		case c.Owner != nil && c.Owner.UID != st.w.UID && st.ownerLives(c.Owner):
			// Still another object's (a deleted incarnation of the set
			// that may delete it once its pods are gone): wait.
			ready = false
		case c.Owner == nil || c.Owner.UID != st.w.UID:
			// Retained by an earlier incarnation of the set (released, or
			// its owner forgotten when the set was applied again), or made
			// by a user: used, and owned so its changes come back here.
			if !st.full() {
				st.out = append(st.out, st.ownClaim(c, &events.OwnerRef{Kind: st.w.Kind, Name: st.w.Name, UID: st.w.UID}, "adopted by statefulset "+st.w.Name))
			}
		}
	}
	return ready
}

// ownerLives reports an owner the fold still holds.
func (st *stateful) ownerLives(o *events.OwnerRef) bool {
	w := st.s.c.Workloads[projections.WorkloadKey(o.Kind, st.w.Namespace, o.Name)]
	return w != nil && w.UID == o.UID
}

// newClaim decides the claim name from template t, owned by the set, with
// the template's labels and the set's selector's (as Kubernetes does). Its
// uid is the first of (set uid, name, n) never used.
func (st *stateful) newClaim(t manifest.PersistentVolumeClaimTemplate, name string) runner.Decision {
	w := st.w
	var uid string
	for n := 0; ; n++ {
		uid = events.DeriveID(fmt.Sprintf("claim/%s/%s/%d", w.UID, name, n))
		if !st.s.c.WorkloadGone(uid) {
			break
		}
	}
	labels := maps.Clone(t.Metadata.Labels)
	if st.spec.Selector != nil {
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, st.spec.Selector.MatchLabels)
	}
	spec := t.Spec
	obj := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindPersistentVolumeClaim,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: w.Namespace, Labels: labels, Annotations: t.Metadata.Annotations},
		Spec:     &spec}
	obj.Defaults()
	raw, _ := json.Marshal(obj) // these types always encode
	msgID := fmt.Sprintf("claim/%s/1", uid)
	return runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, claimKind, name),
		Event: &events.WorkloadDecided{Kind: claimKind, Namespace: w.Namespace, Name: name, UID: uid, Generation: 1,
			Owner: &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID}, Object: raw,
			Reason: "claim " + t.Metadata.Name + " of statefulset " + w.Name},
		Meta:          st.cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(st.s.c.WorkloadDecisionSeq(claimKind, w.Namespace, name)),
	}
}

// ownClaim decides an existing claim again with a new owner (nil:
// released), as it is, one generation on.
func (st *stateful) ownClaim(c *projections.Workload, owner *events.OwnerRef, reason string) runner.Decision {
	raw, _ := json.Marshal(c.Object)
	gen := c.Generation + 1
	msgID := fmt.Sprintf("claim/%s/%d", c.UID, gen)
	return runner.Decision{
		Subject: events.WorkloadSubject(c.Namespace, claimKind, c.Name),
		Event: &events.WorkloadDecided{Kind: claimKind, Namespace: c.Namespace, Name: c.Name, UID: c.UID, Generation: gen,
			Owner: owner, Object: raw, Reason: reason},
		Meta:          st.cause.Caused(events.DeriveID(msgID), Name, c.Namespace+"/"+c.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(c.LastDecisionSeq),
	}
}

// scaledClaims deletes, with whenScaled Delete, the set's claims of the
// ordinals at or above end, once scale-down is over (no pod of those
// ordinals is left).
func (st *stateful) scaledClaims(end int32) {
	if _, whenScaled := st.spec.ClaimRetention(); whenScaled != manifest.DeleteClaim {
		return
	}
	for _, c := range st.ownedClaims() {
		if st.full() {
			return
		}
		if o, ok := st.claimOrdinal(c.Name); ok && o >= end && !c.Deleted {
			st.out = append(st.out, poddecision.DeleteObject(c, "statefulset "+st.w.Name+" scaled down (whenScaled: Delete)", st.cause, Name))
		}
	}
}

// settleClaims decides, once a deleted set's pods are gone, what becomes of
// its claims: deleted (whenDeleted Delete) or released (Retain, or the set
// deleted with propagation Orphan).
func (st *stateful) settleClaims() []runner.Decision {
	del := false
	if spec := st.w.Object.StatefulSet(); spec != nil && !st.w.Orphan {
		whenDeleted, _ := spec.ClaimRetention()
		del = whenDeleted == manifest.DeleteClaim
	}
	for _, c := range st.ownedClaims() {
		switch {
		case st.full():
			return st.out
		case c.Deleted:
		case del:
			st.out = append(st.out, poddecision.DeleteObject(c, "statefulset "+st.w.Name+" deleted (whenDeleted: Delete)", st.cause, Name))
		default:
			st.out = append(st.out, st.ownClaim(c, nil, "retained after statefulset "+st.w.Name+" was deleted"))
		}
	}
	return st.out
}

// ownedClaims are the set's claims, by name.
func (st *stateful) ownedClaims() []*projections.Workload {
	var out []*projections.Workload
	for _, o := range st.s.c.OwnedWorkloads(st.w.UID) {
		if o.Kind == claimKind {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// claimOrdinal is the ordinal of one of the set's claims,
// <template>-<set>-<ordinal>, for one of its templates.
func (st *stateful) claimOrdinal(name string) (int32, bool) {
	for _, t := range st.spec.VolumeClaimTemplates {
		if rest, ok := strings.CutPrefix(name, t.Metadata.Name+"-"); ok {
			if o, ok := st.ordinal(rest); ok {
				return o, true
			}
		}
	}
	return 0, false
}

// plan makes the pod of ordinal o from the template: named and host-named
// <set>-<o>, in the subdomain serviceName, labelled with its name, index
// and revision, with a claim volume for each volumeClaimTemplate, under
// the first uid of (set uid, o, n) never used.
func (st *stateful) plan(o int32) {
	w, spec := st.w, st.spec
	name := manifest.StatefulPodName(w.Name, o)
	var uid string
	for n := int64(0); ; n++ {
		uid = events.DeriveID(fmt.Sprintf("stateful/%s/%d/%d", w.UID, o, n))
		if !st.s.c.Gone(uid) {
			break
		}
	}
	t := spec.Template
	labels := maps.Clone(t.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[manifest.StatefulSetPodNameLabel] = name
	labels[manifest.PodIndexLabel] = strconv.Itoa(int(o))
	labels[manifest.ControllerRevisionLabel] = manifest.UpdateRevision(w.Name, t)
	pod := t.Spec
	pod.Hostname, pod.Subdomain = name, spec.ServiceName
	if len(spec.VolumeClaimTemplates) > 0 {
		vols := make([]manifest.Volume, 0, len(pod.Volumes)+len(spec.VolumeClaimTemplates))
		vols = append(vols, pod.Volumes...)
		for _, ct := range spec.VolumeClaimTemplates {
			vols = append(vols, manifest.Volume{Name: ct.Metadata.Name,
				PersistentVolumeClaim: &manifest.PersistentVolumeClaimVolumeSource{ClaimName: manifest.ClaimName(ct.Metadata.Name, w.Name, o)}})
		}
		pod.Volumes = vols
	}
	msgID := "plan/" + uid
	d := runner.Decision{
		Subject: events.PodDecisionSubject(w.Namespace, name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: name, UID: uid,
			Owner:        &events.OwnerRef{Kind: w.Kind, Name: w.Name, UID: w.UID},
			TemplateHash: st.hash, Labels: labels, Annotations: t.Metadata.Annotations, Spec: pod},
		Meta:          st.cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(st.s.c.DecisionSeq(w.Namespace, name)),
	}
	if why := st.s.quotaPod(d); why != "" {
		st.refused = why
		return
	}
	st.out = append(st.out, d)
}

// statefulSetOf names the StatefulSet whose pod a pod name may be
// (<set>-<ordinal>), so a pod forgotten by the fold wakes the set that
// waits to plan its ordinal again.
func statefulSetOf(ns, pod string) (string, bool) {
	i := strings.LastIndexByte(pod, '-')
	if i <= 0 || i == len(pod)-1 {
		return "", false
	}
	if _, err := strconv.ParseUint(pod[i+1:], 10, 32); err != nil {
		return "", false
	}
	return projections.WorkloadKey("statefulset", ns, pod[:i]), true
}
