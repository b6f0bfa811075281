package projections

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Workload is an object of any applied kind, accepted from a user's intent
// or decided by a controller on behalf of its owner, and its history.
type Workload struct {
	Kind       string          `json:"kind"` // deployment, pod
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	UID        string          `json:"uid"`
	Generation int64           `json:"generation"`
	Object     manifest.Object `json:"object"`
	Deleted    bool            `json:"deleted,omitempty"`
	// Orphan: deleted with propagation Orphan; what it owns is released,
	// not deleted.
	Orphan bool `json:"orphan,omitempty"`
	// DeleteGracePeriodSeconds and DeleteForce: a Pod deleted with
	// --grace-period or --force.
	DeleteGracePeriodSeconds *int64    `json:"deleteGracePeriodSeconds,omitempty"`
	DeleteForce              bool      `json:"deleteForce,omitempty"`
	CreatedAt                time.Time `json:"createdAt"`
	UpdatedAt                time.Time `json:"updatedAt"`
	PodsPlanned              int64     `json:"podsPlanned"` // pods ever planned for this uid
	// Owner is the workload whose controller made this one (a
	// Deployment's ReplicaSet, a CronJob's Job); nil for one a user applied.
	Owner *events.OwnerRef `json:"owner,omitempty"`
	// CauseID, CorrelationID and Actor come from the newest verdict, so the
	// decisions taken for the workload trace back to its intent.
	CauseID       string         `json:"causeID"`
	CorrelationID string         `json:"correlationID"`
	Actor         string         `json:"actor,omitempty"`
	Status        WorkloadStatus `json:"status"`
	// RevisionActor and RevisionAt: for a Deployment's ReplicaSet, who
	// caused its revision (deployment.kubernetes.io/revision) and when it
	// was decided: the envelope of the decision that set it, which carries
	// the actor of the Deployment's intent.
	RevisionActor string    `json:"revisionActor,omitempty"`
	RevisionAt    time.Time `json:"revisionAt,omitzero"`
	Seqs          Seqs      `json:"seqs"`
	// LastDecisionSeq is the last sequence on its events.WorkloadSubject,
	// the fence every controller decision about it expects.
	LastDecisionSeq uint64 `json:"lastDecisionSeq,omitempty"`

	// decided is what controllers decided of its status (conditions,
	// times); Status adds it to what the pods say.
	decided WorkloadStatus
}

// WorkloadStatus is the status every kind's read-model record carries.
type WorkloadStatus = manifest.WorkloadStatus

// WorkloadKey indexes workloads.
func WorkloadKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (c *Cluster) applyAccepted(r events.Record, e *events.AdmissionAccepted) {
	if e.Op == events.OpEvict {
		return // a pod's eviction: its PodDeleted, stored with it, is what counts
	}
	key := WorkloadKey(e.Kind, e.Namespace, e.Name)
	w := c.Workloads[key]
	if e.Op == events.OpDelete {
		if w != nil && w.UID == e.UID {
			w.Deleted = true
			w.Orphan = e.Propagation == events.PropagateOrphan
			w.DeleteGracePeriodSeconds, w.DeleteForce = e.GracePeriodSeconds, e.Force
			w.cause(r.Envelope)
			w.UpdatedAt = r.Envelope.Time
			c.touchWorkload(w, r)
			c.settleDeleted(w, r)
		}
		return
	}
	var obj manifest.Object
	if err := json.Unmarshal(e.Object, &obj); err != nil {
		return // admission only accepts objects that decode; nothing to fold
	}
	if w == nil || w.UID != e.UID {
		if w != nil {
			// Applied again while the deleted incarnation still had pods
			// (before its controller deleted them): that one is gone, and
			// what it still owns is deleted as what lost its owner is
			// (a StatefulSet's pods would otherwise hold their names).
			c.goneW[w.UID] = true
			for pkey := range c.byOwner[w.UID] {
				mark(c.Dirty.Pods, pkey, r)
			}
		}
		w = &Workload{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, UID: e.UID, CreatedAt: r.Envelope.Time, Seqs: Seqs{},
			LastDecisionSeq: c.wdecSeq[key]}
		c.Workloads[key] = w
	}
	w.Generation = e.Generation
	w.Object = obj
	w.Deleted = false
	w.UpdatedAt = r.Envelope.Time
	w.cause(r.Envelope)
	c.touchWorkload(w, r)
}

// applyDecided folds an object a controller made or changed on behalf of
// its owner, as applyAccepted folds one a user applied.
func (c *Cluster) applyDecided(r events.Record, e *events.WorkloadDecided) {
	var obj manifest.Object
	if err := json.Unmarshal(e.Object, &obj); err != nil {
		return // a controller decides only objects that encode; nothing to fold
	}
	key := WorkloadKey(e.Kind, e.Namespace, e.Name)
	w := c.Workloads[key]
	if w == nil || w.UID != e.UID {
		w = &Workload{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, UID: e.UID, CreatedAt: r.Envelope.Time, Seqs: Seqs{},
			LastDecisionSeq: c.wdecSeq[key]}
		c.Workloads[key] = w
	}
	if e.Generation < w.Generation {
		return
	}
	w.Generation = e.Generation
	if rev := obj.Metadata.Annotations[manifest.RevisionAnnotation]; rev != "" && rev != w.Object.Metadata.Annotations[manifest.RevisionAnnotation] {
		w.RevisionActor, w.RevisionAt = r.Envelope.Actor, r.Envelope.Time
	}
	w.Object = obj
	if w.Owner != nil && (e.Owner == nil || e.Owner.UID != w.Owner.UID) {
		delete(c.ownedW[w.Owner.UID], key) // released by its owner
		if o := c.ownerWorkload(w.Owner, w.Namespace); o != nil {
			defer c.settleDeleted(o, r) // a deleted owner that released the last of what it owned (a StatefulSet its retained claims)
		}
	}
	w.Owner = e.Owner
	w.Deleted = false
	w.UpdatedAt = r.Envelope.Time
	w.cause(r.Envelope)
	if e.Owner != nil {
		set := c.ownedW[e.Owner.UID]
		if set == nil {
			set = map[string]bool{}
			c.ownedW[e.Owner.UID] = set
		}
		set[key] = true
	}
	c.touchWorkload(w, r)
}

// applyWorkloadDeleted folds a controller's deletion of an object it owns.
func (c *Cluster) applyWorkloadDeleted(r events.Record, e *events.WorkloadDeleted) {
	w := c.Workloads[WorkloadKey(e.Kind, e.Namespace, e.Name)]
	if w == nil || w.UID != e.UID || w.Deleted {
		return
	}
	w.Deleted = true
	w.UpdatedAt = r.Envelope.Time
	w.cause(r.Envelope)
	c.touchWorkload(w, r)
	c.settleDeleted(w, r)
}

// applyWorkloadStatus folds what a controller decided of an object's
// status: each field set replaces the fold's, a condition the one of its
// type.
func (c *Cluster) applyWorkloadStatus(r events.Record, e *events.WorkloadStatusDecided) {
	w := c.Workloads[WorkloadKey(e.Kind, e.Namespace, e.Name)]
	if w == nil || w.UID != e.UID {
		return
	}
	d := &w.decided
	for _, cond := range e.Conditions {
		replaced := false
		for i := range d.Conditions {
			if d.Conditions[i].Type == cond.Type {
				d.Conditions[i], replaced = cond, true
			}
		}
		if !replaced {
			d.Conditions = append(d.Conditions, cond)
		}
	}
	if e.StartTime != nil {
		d.StartTime = e.StartTime
	}
	if e.CompletionTime != nil {
		d.CompletionTime = e.CompletionTime
	}
	if e.LastScheduleTime != nil {
		d.LastScheduleTime = e.LastScheduleTime
	}
	if e.Desired != nil {
		d.Desired = *e.Desired
	}
	if e.FailedIndexes != nil {
		d.FailedIndexes = *e.FailedIndexes
	}
	if e.Rollout != nil {
		r := *e.Rollout
		d.Rollout = &r
	}
	c.touchWorkload(w, r)
}

// WorkloadOfSubject names the workload (its WorkloadKey) an
// events.WorkloadSubject is about: gantry.decision.workload.<ns>.<kind>.<name>
// (a name may hold dots; a namespace and a kind token do not).
func WorkloadOfSubject(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, "gantry.decision.workload.")
	if !ok {
		return "", false
	}
	ns, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	kind, name, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	return WorkloadKey(kind, ns, name), true
}

// workloadFence notes the newest sequence on a workload's subject, for the
// workload of that key now and any later incarnation.
func (c *Cluster) workloadFence(key string, seq uint64) {
	c.wdecSeq[key] = seq
	if w := c.Workloads[key]; w != nil {
		w.LastDecisionSeq = seq
	}
}

// WorkloadDecisionSeq is the newest sequence on the WorkloadSubject of the
// workload kind/ns/name, of this incarnation or an earlier one (0: none): a
// controller's first decision of an object expects it.
func (c *Cluster) WorkloadDecisionSeq(kind, ns, name string) uint64 {
	return c.wdecSeq[WorkloadKey(kind, ns, name)]
}

// Decided is what controllers decided of the workload's status.
func (w *Workload) Decided() WorkloadStatus { return w.decided }

// OwnedWorkloads returns the objects a workload incarnation's controller
// made (deleted ones included), by key order.
func (c *Cluster) OwnedWorkloads(uid string) []*Workload {
	set := c.ownedW[uid]
	out := make([]*Workload, 0, len(set))
	for key := range set {
		if w := c.Workloads[key]; w != nil && w.Owner != nil && w.Owner.UID == uid {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// OwnerOf is the workload that owns w (made it), or nil.
func (c *Cluster) OwnerOf(w *Workload) *Workload {
	if w.Owner == nil {
		return nil
	}
	return c.ownerWorkload(w.Owner, w.Namespace)
}

// Cause is an envelope standing for the workload's newest verdict or
// decision, to derive the metadata of decisions about it: they trace back
// to the intent and actor that asked for it.
func (w *Workload) Cause() events.Envelope {
	return events.Envelope{ID: w.CauseID, CorrelationID: w.CorrelationID, Actor: w.Actor}
}

func (w *Workload) cause(e events.Envelope) {
	w.CauseID, w.CorrelationID, w.Actor = e.ID, e.CorrelationID, e.Actor
}

func (c *Cluster) ownerWorkload(o *events.OwnerRef, ns string) *Workload {
	w := c.Workloads[WorkloadKey(o.Kind, ns, o.Name)]
	if w == nil || w.UID != o.UID {
		return nil
	}
	return w
}

// OwnedCount is how many pods a workload incarnation has (deleting ones
// included), without listing them.
func (c *Cluster) OwnedCount(uid string) int { return len(c.byOwner[uid]) }

// OwnedPods returns the pods of a workload incarnation, in planning order.
func (c *Cluster) OwnedPods(uid string) []*Pod {
	set := c.byOwner[uid]
	out := make([]*Pod, 0, len(set))
	for key := range set {
		if p := c.Pods[key]; p != nil {
			out = append(out, p)
		}
	}
	sortPods(out)
	return out
}

func (c *Cluster) touchWorkload(w *Workload, r events.Record) {
	w.Seqs[r.Stream] = r.Seq
	key := WorkloadKey(w.Kind, w.Namespace, w.Name)
	index(c.nsObjects, w.Namespace, key)
	if w.Kind == "namespace" {
		c.deletedNS[w.Name] = w.Deleted
	}
	c.noteQuota(w)
	c.noteBudget(w)
	c.touchQuotas(w.Namespace, r)
	c.touchBudgets(w.Namespace, r)
	c.markWorkload(w, r)
	c.touchDeletedNamespace(w.Namespace, r)
}

// Status computes a workload's status: what its pods say (those it owns,
// and those of the objects it owns: a Deployment's through its
// ReplicaSets), and what its controllers decided.
//
// Replicas counts pods neither terminal nor being deleted, UpdatedReplicas
// those of them made from the workload's current pod template, Ready those
// ready, and Available those ready for a Deployment's minReadySeconds by
// the fold's clock (its newest record). Succeeded and Failed count every pod that ever
// ended so, each once (a Job's pods are counted even after they are gone).
func (c *Cluster) Status(w *Workload) WorkloadStatus {
	st := w.decided
	st.Conditions = append([]manifest.Condition(nil), w.decided.Conditions...)
	st.ObservedGeneration = w.Generation
	var hash string
	if t := w.Object.PodTemplate(); t != nil {
		hash = manifest.TemplateHash(*t)
	}
	var minReady time.Duration
	if d := w.Object.Deployment(); d != nil {
		minReady = time.Duration(d.MinReadySeconds) * time.Second
	}
	if ss := w.Object.StatefulSet(); ss != nil {
		minReady = time.Duration(ss.MinReadySeconds) * time.Second
	}
	count := func(uid string) {
		for key := range c.byOwner[uid] { // counted: no order needed
			p := c.Pods[key]
			if p == nil || p.Deleting || p.Terminal() {
				continue
			}
			st.Replicas++
			if p.TemplateHash == hash {
				st.UpdatedReplicas++
			}
			if p.Ready() {
				st.ReadyReplicas++
			}
			if p.AvailableAt(minReady, c.latest) {
				st.AvailableReplicas++
			}
		}
		var done []int
		for _, t := range c.ended[uid] {
			if !t.Succeeded {
				st.Failed++
				continue
			}
			st.Succeeded++
			if t.Index >= 0 {
				done = append(done, t.Index)
			}
		}
		if len(done) > 0 {
			st.CompletedIndexes = FormatIndexes(done)
		}
	}
	switch w.Kind {
	case "resourcequota":
		st.Used = c.Usage(w.Namespace)
	case "poddisruptionbudget":
		b := c.Budget(w, nil)
		st.Budget = &b
	}
	count(w.UID)
	for _, o := range c.OwnedWorkloads(w.UID) {
		if !o.Deleted {
			st.Owned = append(st.Owned, o.Name)
			if _, done := o.decided.Finished(); !done {
				st.Active = append(st.Active, o.Name)
			}
		}
		if o.Kind == "replicaset" {
			count(o.UID)
			if !o.Deleted {
				st.Revision = max(st.Revision, manifest.RevisionOf(o.Object.Metadata.Annotations))
			}
		}
	}
	return st
}

// Ended is a pod of a workload that ended, Succeeded or Failed: kept by its
// owner's uid after the pod is gone, so that what ended is counted once.
type Ended struct {
	Name       string
	UID        string
	Succeeded  bool
	Index      int // the Job completion index, -1 without one
	ExitCodes  map[string]int32
	FinishedAt time.Time // its containers' latest end (zero: not reported)
	// Stopped: a deletion had been decided when it ended (a Job's pod
	// stopped on suspend or past its deadline, not a failure of its own).
	Stopped    bool
	PlannedSeq uint64
}

// EndedPods lists the pods of a workload incarnation that ended, each once
// (those still in the fold and those gone), in planning order: what a Job
// counts once its pods are gone.
func (c *Cluster) EndedPods(uid string) []Ended {
	set := c.ended[uid]
	out := make([]Ended, 0, len(set))
	for _, e := range set {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].PlannedSeq != out[j].PlannedSeq {
			return out[i].PlannedSeq < out[j].PlannedSeq
		}
		return out[i].UID < out[j].UID
	})
	return out
}

// EndOf reads a pod's end from its node's report: the exit code of each
// terminated container that has one, and when the last of them finished.
func EndOf(st *events.PodStatusObserved) (codes map[string]int32, at time.Time) {
	if st == nil {
		return nil, time.Time{}
	}
	for _, cs := range st.Containers {
		if cs.State != events.ContainerTerminated {
			continue
		}
		if cs.ExitCode != nil {
			if codes == nil {
				codes = map[string]int32{}
			}
			codes[cs.Name] = *cs.ExitCode
		}
		if cs.FinishedAt != nil && cs.FinishedAt.After(at) {
			at = *cs.FinishedAt
		}
	}
	return codes, at
}

// ended reports a node's report of a pod that ended.
func ended(e *events.PodStatusObserved) bool {
	return e.Phase == events.PhaseSucceeded || e.Phase == events.PhaseFailed
}

// noteEnded counts a pod of a workload whose node reported it ended. Only
// a node's report counts, not the Failed a removal makes of a pod
// (markRemoved): the report is counted when it is folded onto its pod, or
// when the pod's plan is read after it (endedEarly), so every reader counts
// the same pods whatever order it reads the streams in.
func (c *Cluster) noteEnded(p *Pod, e *events.PodStatusObserved) {
	if ended(e) {
		c.countEnded(p, e.Phase == events.PhaseSucceeded)
	}
}

// countEnded counts a pod that ended, once per uid (a node never reports a
// terminal pod running again).
func (c *Cluster) countEnded(p *Pod, succeeded bool) {
	if p.Owner == nil {
		return
	}
	set := c.ended[p.Owner.UID]
	if set == nil {
		set = map[string]Ended{}
		c.ended[p.Owner.UID] = set
	}
	if _, ok := set[p.UID]; !ok {
		codes, at := EndOf(p.Status)
		set[p.UID] = Ended{Name: p.Name, UID: p.UID, Succeeded: succeeded, Index: CompletionIndex(p.Annotations),
			ExitCodes: codes, FinishedAt: at, Stopped: p.Deleting, PlannedSeq: p.PlannedSeq}
	}
}

// CompletionIndex is a Job pod's completion index from its annotation, or
// -1.
func CompletionIndex(annotations map[string]string) int {
	v, ok := annotations[manifest.JobCompletionIndexAnnotation]
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// FormatIndexes writes indexes as Kubernetes' completedIndexes does:
// sorted, runs joined ("0-2,5,7-9").
func FormatIndexes(idx []int) string {
	idx = slices.Clone(idx)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}

// index adds key to the set of group in m.
func index(m map[string]map[string]bool, group, key string) {
	set := m[group]
	if set == nil {
		set = map[string]bool{}
		m[group] = set
	}
	set[key] = true
}

// markWorkload records that r changed w's record, and its owners': an
// owner's status counts what it owns (a Deployment the pods of its
// ReplicaSets, a CronJob its active Jobs). Ownership is at most two deep.
func (c *Cluster) markWorkload(w *Workload, r events.Record) {
	for depth := 0; w != nil && depth < 3; depth++ {
		mark(c.Dirty.Workloads, WorkloadKey(w.Kind, w.Namespace, w.Name), r)
		w = c.OwnerOf(w)
	}
}

// touchDeletedNamespace marks a deleted Namespace changed when something in
// it changed: its deletion's progress is what its controller looks at.
func (c *Cluster) touchDeletedNamespace(ns string, r events.Record) {
	if !c.deletedNS[ns] {
		return // the common case, without building a key
	}
	key := WorkloadKey("namespace", events.ClusterScope, ns)
	if w := c.Workloads[key]; w != nil && w.Deleted {
		mark(c.Dirty.Workloads, key, r)
	}
}

// settleDeleted forgets a deleted workload once it owns nothing, neither
// pods nor objects, as the fold forgets a pod its node removed: a
// CronJob's Jobs or a Deployment's old ReplicaSets, deleted, must not
// hold memory forever. A tombstone of its uid stays (WorkloadGone), so a
// controller can delete what a racing decision made for it later. Its
// owner, if deleted too, may then be forgotten in turn. A Namespace is
// kept: its controller reads it to the end.
func (c *Cluster) settleDeleted(w *Workload, r events.Record) {
	if w == nil || !w.Deleted || w.Kind == "namespace" || len(c.byOwner[w.UID]) > 0 || len(c.ownedW[w.UID]) > 0 {
		return
	}
	key := WorkloadKey(w.Kind, w.Namespace, w.Name)
	if c.Workloads[key] != w {
		return
	}
	if p := c.Pods[Key(w.Namespace, w.Name)]; w.Kind == "pod" && p != nil && p.UID == w.UID {
		return // a bare Pod's pod, adopted by a ReplicaSet, is still its to delete
	}
	delete(c.Workloads, key)
	delete(c.nsObjects[w.Namespace], key)
	delete(c.ended, w.UID)
	delete(c.byOwner, w.UID)
	delete(c.ownedW, w.UID)
	c.goneW[w.UID] = true
	mark(c.Dirty.Workloads, key, r) // the read model drops its record
	c.touchQuotas(w.Namespace, r)
	c.touchBudgets(w.Namespace, r)
	c.touchDeletedNamespace(w.Namespace, r)
	if w.Owner != nil {
		delete(c.ownedW[w.Owner.UID], key)
		if o := c.ownerWorkload(w.Owner, w.Namespace); o != nil {
			c.markWorkload(o, r)
			c.settleDeleted(o, r)
		}
	}
}

// WorkloadGone reports a workload uid that was deleted and is forgotten.
func (c *Cluster) WorkloadGone(uid string) bool { return c.goneW[uid] }
