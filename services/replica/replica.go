// Package replica decides which pods should exist: the right number of pods
// per Deployment, one pod per bare Pod, and none for what was deleted.
package replica

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "replica"

// FullEvery is how often, by default, Decide examines every workload and
// pod rather than only those that changed.
const FullEvery = 10 * time.Second

// A pass is bounded in work and memory, whatever the workloads ask for, so
// one huge object cannot take the control plane down and makes progress
// without starving the others (Kubernetes' ReplicaSet controller creates at
// most burstReplicas = 500 pods per sync, in slow-start batches of 1, 2, 4 …).
//
//   - FirstBatch: a workload's pods are planned in slow-start batches that
//     grow with what the log has confirmed: at most max(FirstBatch, pods it
//     has) per pass, so 100, 100, 200, 400, 500 … Kubernetes starts at 1
//     because each of its creations is one API call; here a pass's plans
//     are stored in atomic batches of up to 1,000 (one write), so a batch
//     the log refuses costs one round trip whether it holds 1 plan or 100,
//     and starting at 1 would cost a Deployment of 100 seven round trips
//     (B1 appends 500 of them at once; the steady benchmark one of 10 every
//     100 ms). A workload's next batch comes once the log shows its last
//     one (the assumptions below), as Kubernetes' expectations wait.
//   - BurstPerWorkload: at most this many decisions (plans and deletions)
//     for one workload in one pass.
//   - PassBudget: at most this many decisions in one pass in all (five
//     atomic batches of bus.MaxBatch). Workloads are served fewest pods
//     first, so one that arrives is planned in the first pass after it
//     arrives, however big the others are, and the big ones share what is
//     left; whatever a pass leaves out is pending for the next.
//
// Worked numbers: a Deployment of 1,000,000,000 replicas (admitted before
// a ceiling existed) beside one of 3 arriving: the next pass plans the 3
// and 100 of the big one; the big one gets 100, 200, 400, then 500 a pass
// as each comes back, and never more than 500 decisions are built for it
// at once, nor held as assumed. B1's 500 Deployments of 100 arriving at
// once are planned 50 to a pass, in 10 passes of 5,000.
const (
	FirstBatch       = 100
	BurstPerWorkload = 500
	PassBudget       = 5000
)

// Service plans and deletes pods to match accepted workloads.
type Service struct {
	c *projections.Cluster

	// FullEvery is how often Decide examines everything (default FullEvery;
	// zero or less: every time). Between full passes it examines what the
	// fold marked dirty and what is pending.
	FullEvery time.Duration
	// MaxPodsPerWorkload is the cluster's ceiling on the pods of one
	// workload (zero: none). Admission refuses a workload that asks for
	// more; a workload accepted before the ceiling was set, or lowered, is
	// kept at the ceiling here, so what the log already holds cannot fill
	// the cluster's memory either.
	MaxPodsPerWorkload int32
	scanned            bool      // a full pass has been made
	lastFull           time.Time // the now of the last full pass
	// pendingW and pendingP are the workload and pod keys whose last
	// examination yielded decisions. They are examined again until an
	// examination yields none: a decision that never reached the log (a
	// publish timeout) brings no record back to mark anything dirty.
	pendingW map[string]bool
	pendingP map[string]bool
	examined int // workloads examined by Decide, ever (tests)
	// assumed are the decisions of passes being stored, by MsgID (see
	// assume.go), assumedOn their MsgIDs by pod, busyW and busyP how many
	// are on their way for each workload and (stranded) pod. now is the
	// time of the last Decide.
	assumed      map[string]assumption
	assumedOn    map[string][]string
	busyW, busyP map[string]int
	now          time.Time
	// applies counts the records applied; progress is its value when a
	// Decide last saw it change, at progressAt. expired is when
	// assumptions were last checked for age.
	applies, progress   uint64
	progressAt, expired time.Time
}

// New returns a replica service over an empty fold.
func New() *Service {
	return &Service{c: projections.NewCluster(), FullEvery: FullEvery,
		pendingW: map[string]bool{}, pendingP: map[string]bool{},
		assumed: map[string]assumption{}, assumedOn: map[string][]string{}, busyW: map[string]int{}, busyP: map[string]int{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}}, // not the copies for nodes
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) {
	s.c.Apply(r)
	s.applies++
	s.readBack(r)
}

// Decide implements runner.Service: for each workload that may need it,
// compare the pods it has with the pods it wants.
//
// Level-triggered, incrementally: a workload's decisions depend only on the
// workload, its pods and the tombstones of its pods, and the fold names each
// change to those in Dirty (the workload, and the pod for the pod and
// its owner). So a workload that is neither dirty nor pending yielded nothing
// when last examined and would yield nothing now, and the output is the one a
// full pass would give, in the same order (workload key, then pod key). The
// first Decide, and any Decide FullEvery after the last full one, examines
// everything anyway, to bound the cost of a change the fold failed to name.
//
// Worked numbers: 500 Deployments of 100 pods; one of them scaled. A full
// pass sorts 500 workload keys, walks all 50,000 pods and sorts the 100 pods
// of each of the 500; an incremental pass examines one workload and sorts
// its 100 pods.
func (s *Service) Decide(now time.Time) []runner.Decision {
	full := !s.scanned || s.FullEvery <= 0 || now.Before(s.lastFull) || !now.Before(s.lastFull.Add(s.FullEvery))
	if full {
		s.scanned, s.lastFull = true, now
	}
	s.now = now
	s.expire(now)
	wkeys, pkeys := s.toExamine(full)
	s.c.ClearDirty()
	clear(s.pendingW)
	clear(s.pendingP)
	// Budget the pass: workloads fewest pods first (so one that just
	// arrived goes before one that already has many), each given at most
	// BurstPerWorkload of what is left; the decisions come out in key
	// order all the same.
	type examinee struct {
		key  string
		w    *projections.Workload
		held int
		ds   []runner.Decision
	}
	var ex []examinee
	for _, key := range wkeys {
		if s.busyW[key] > 0 {
			s.pendingW[key] = true // its decisions are being stored
			continue
		}
		if w := s.c.Workloads[key]; w != nil {
			ex = append(ex, examinee{key: key, w: w, held: s.c.OwnedCount(w.UID)})
		}
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ex[order[a]].held < ex[order[b]].held })
	budget := PassBudget
	for _, i := range order {
		e := &ex[i]
		if budget == 0 {
			s.pendingW[e.key] = true // left for the next pass
			continue
		}
		s.examined++
		switch e.w.Kind {
		case "deployment":
			e.ds = s.deployment(e.w, min(budget, BurstPerWorkload))
		case "pod":
			e.ds = s.barePod(e.w)
		}
		if len(e.ds) > 0 {
			s.pendingW[e.key] = true
			budget -= len(e.ds)
		}
	}
	var out []runner.Decision
	for _, e := range ex {
		out = append(out, e.ds...)
	}
	for _, key := range pkeys {
		if s.busyP[key] > 0 || budget == 0 {
			s.pendingP[key] = true
			continue
		}
		if p := s.c.Pods[key]; p != nil && stranded(p) {
			s.pendingP[key] = true
			out = append(out, deletion(p, p.DeleteReason, events.Envelope{}))
			budget--
		}
	}
	for i := range out {
		out[i].Assumed = true // see assume.go
	}
	return out
}

// stranded reports a pod deleted while unbound and then bound by a racing
// scheduler: its node must be told to stop it.
func stranded(p *projections.Pod) bool {
	return p.Deleting && p.Node != "" && p.DeletedOnNode < p.Epoch
}

// toExamine returns, sorted, the workload keys and pod keys a pass looks at:
// all of them (pods: only those stranded) on a full pass; otherwise the
// pending ones and those the fold marked dirty since the last pass. A dirty
// pod names its owner's workload, and the bare Pod of its name, which waits
// for a former pod of that name (another uid, so not its owner) to stop.
func (s *Service) toExamine(full bool) (wkeys, pkeys []string) {
	if full {
		wkeys = make([]string, 0, len(s.c.Workloads))
		for key := range s.c.Workloads {
			wkeys = append(wkeys, key)
		}
		for key, p := range s.c.Pods {
			if stranded(p) {
				pkeys = append(pkeys, key)
			}
		}
		sort.Strings(wkeys)
		sort.Strings(pkeys)
		return wkeys, pkeys
	}
	ws := make(map[string]bool, len(s.pendingW))
	ps := make(map[string]bool, len(s.pendingP))
	for key := range s.pendingW {
		ws[key] = true
	}
	for key := range s.pendingP {
		ps[key] = true
	}
	for key := range s.c.Dirty.Workloads {
		ws[key] = true
	}
	for key := range s.c.Dirty.Pods {
		ps[key] = true
		if pns, name, ok := strings.Cut(key, "/"); ok {
			ws[projections.WorkloadKey("pod", pns, name)] = true
		}
		if p := s.c.Pods[key]; p != nil && p.Owner != nil {
			ws[projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)] = true
		}
	}
	return sortedKeys(ws), sortedKeys(ps)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// deployment keeps spec.replicas pods of the current template (at most the
// cluster's ceiling), making at most limit decisions. A template change
// replaces every pod (Recreate); rolling updates belong to the rollout
// service.
//
// Worked example: replicas 3, pods a (Running), b (Failed), c (Running) of the
// current template → b is deleted and one pod is planned: 3 active again.
// A pod its node removed with no deletion decision shows as Failed (reason
// Removed, see projections), so it is deleted and replaced the same way.
//
// Scale-up comes in slow-start batches (see FirstBatch): replicas 1,000 and
// 150 active → max(100, 150) = 150 plans this pass, 300 the next; with
// limit 40 (the pass's budget nearly spent), 40.
func (s *Service) deployment(w *projections.Workload, limit int) []runner.Decision {
	owned := s.c.OwnedPods(w.UID)
	cause := causeOf(w)
	var out []runner.Decision
	if w.Deleted {
		for _, p := range owned {
			if len(out) >= limit {
				break
			}
			if !p.Deleting {
				out = append(out, deletion(p, "deployment deleted", cause))
			}
		}
		return out
	}
	spec := w.Object.Deployment()
	if spec == nil {
		return nil
	}
	hash := manifest.TemplateHash(spec.Template)
	var active []*projections.Pod
	for _, p := range owned {
		switch {
		case p.Deleting:
		case len(out) >= limit && (p.TemplateHash != hash || p.Terminal()):
			// Deleted in a later pass; not active meanwhile.
		case p.TemplateHash != hash:
			out = append(out, deletion(p, "pod template changed", cause))
		case p.Removed:
			out = append(out, deletion(p, "pod removed by node "+p.Node+" with no deletion decision", cause))
		case p.Terminal():
			out = append(out, deletion(p, "pod "+p.Phase(), cause))
		default:
			active = append(active, p)
		}
	}
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
			for s.indexTaken(w, hash, n) {
				n++
			}
			out = append(out, s.plan(w, hash, spec.Template, n, cause))
			n++
		}
	case len(active) > want:
		sort.SliceStable(active, func(i, j int) bool { return scaleDownFirst(active[i], active[j]) })
		for _, p := range active[:min(len(active)-want, limit-len(out))] {
			out = append(out, deletion(p, "scaled down", cause))
		}
	}
	return out
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

func (s *Service) barePod(w *projections.Workload) []runner.Decision {
	cause := causeOf(w)
	if w.Deleted {
		var out []runner.Decision
		for _, p := range s.c.OwnedPods(w.UID) {
			if !p.Deleting {
				out = append(out, deletion(p, "pod deleted", cause))
			}
		}
		return out
	}
	if w.PodsPlanned > 0 || w.Object.Pod() == nil {
		return nil // a bare pod is planned once; its node restarts its containers
	}
	if old := s.c.Pods[projections.Key(w.Namespace, w.Name)]; old != nil && old.UID != w.UID {
		return nil // a former pod of the same name is still stopping; wait for it
	}
	tmpl := manifest.PodTemplateSpec{
		Metadata: manifest.TemplateMeta{Labels: w.Object.Metadata.Labels, Annotations: w.Object.Metadata.Annotations},
		Spec:     *w.Object.Pod(),
	}
	uid := w.UID
	msgID := "plan/" + uid
	return []runner.Decision{{
		Subject: events.PodDecisionSubject(w.Namespace, w.Name),
		Event: &events.PodPlanned{Namespace: w.Namespace, Name: w.Name, UID: uid,
			Owner:  &events.OwnerRef{Kind: "pod", Name: w.Name, UID: w.UID},
			Labels: tmpl.Metadata.Labels, Annotations: tmpl.Metadata.Annotations, Spec: tmpl.Spec},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.DecisionSeq(w.Namespace, w.Name)),
	}}
}

// plan makes the n-th pod of a Deployment incarnation. Its name and uid are
// derived from (workload uid, n), so deciding again after a crash yields the
// same pod and the log's deduplication drops the copy.
func (s *Service) plan(w *projections.Workload, hash string, t manifest.PodTemplateSpec, n int64, cause events.Envelope) runner.Decision {
	name := PodName(w.Name, hash, w.UID, n)
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
func (s *Service) indexTaken(w *projections.Workload, hash string, n int64) bool {
	if s.c.Gone(podUID(w.UID, n)) {
		return true
	}
	return s.c.Pods[projections.Key(w.Namespace, PodName(w.Name, hash, w.UID, n))] != nil
}

func podUID(workloadUID string, n int64) string {
	return events.DeriveID(fmt.Sprintf("pod/%s/%d", workloadUID, n))
}

// PodName is <workload>-<template hash>-<5 chars>, cut to a DNS-1123 label.
func PodName(workload, hash, uid string, n int64) string {
	sum := sha256.New()
	sum.Write([]byte(uid))
	_ = binary.Write(sum, binary.BigEndian, n)
	b := sum.Sum(nil)
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // like Kubernetes: no vowels, no look-alikes
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[int(b[i])%len(alphabet)]
	}
	prefix := workload + "-" + hash
	if max := 63 - 6; len(prefix) > max {
		prefix = prefix[:max]
	}
	return prefix + "-" + string(suffix)
}

// deletion stops a pod: on the pod's subject, expecting its newest decision
// (so it cannot cross a binding it has not seen), copied to its node when it
// is bound there.
func deletion(p *projections.Pod, reason string, cause events.Envelope) runner.Decision {
	msgID := fmt.Sprintf("delete/%s/%d", p.UID, p.Epoch)
	d := runner.Decision{
		Subject:       events.PodDecisionSubject(p.Namespace, p.Name),
		Event:         &events.PodDeleted{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: p.Node, Epoch: p.Epoch, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, p.Namespace+"/"+p.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(p.LastDecisionSeq),
	}
	if p.Node != "" {
		d.CopyTo = []string{events.NodePodSubject(p.Node, p.Namespace, p.Name)}
	}
	return d
}

// causeOf makes an envelope standing for the workload's newest accepted
// verdict, so pods trace back to the intent that asked for them.
func causeOf(w *projections.Workload) events.Envelope {
	return events.Envelope{ID: w.CauseID, CorrelationID: w.CorrelationID, Actor: w.Actor}
}
