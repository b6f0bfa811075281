package projections

import (
	"encoding/json"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Workload is an accepted object (Deployment or bare Pod) and its history.
type Workload struct {
	Kind        string          `json:"kind"` // deployment, pod
	Namespace   string          `json:"namespace"`
	Name        string          `json:"name"`
	UID         string          `json:"uid"`
	Generation  int64           `json:"generation"`
	Object      manifest.Object `json:"object"`
	Deleted     bool            `json:"deleted,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	PodsPlanned int64           `json:"podsPlanned"` // pods ever planned for this uid
	// Owner is the workload whose controller made this one (a
	// Deployment's ReplicaSet, a CronJob's Job); nil for one a user applied.
	Owner *events.OwnerRef `json:"owner,omitempty"`
	// CauseID, CorrelationID and Actor come from the newest verdict, so the
	// decisions taken for the workload trace back to its intent.
	CauseID       string         `json:"causeID"`
	CorrelationID string         `json:"correlationID"`
	Actor         string         `json:"actor,omitempty"`
	Status        WorkloadStatus `json:"status"`
	Seqs          Seqs           `json:"seqs"`
}

// WorkloadStatus is the status every kind's read-model record carries.
type WorkloadStatus = manifest.WorkloadStatus

// WorkloadKey indexes workloads.
func WorkloadKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

func (c *Cluster) applyAccepted(r events.Record, e *events.AdmissionAccepted) {
	key := WorkloadKey(e.Kind, e.Namespace, e.Name)
	w := c.Workloads[key]
	if e.Op == events.OpDelete {
		if w != nil && w.UID == e.UID {
			w.Deleted = true
			w.cause(r.Envelope)
			w.UpdatedAt = r.Envelope.Time
			c.touchWorkload(w, r)
		}
		return
	}
	var obj manifest.Object
	if err := json.Unmarshal(e.Object, &obj); err != nil {
		return // admission only accepts objects that decode; nothing to fold
	}
	if w == nil || w.UID != e.UID {
		w = &Workload{Kind: e.Kind, Namespace: e.Namespace, Name: e.Name, UID: e.UID, CreatedAt: r.Envelope.Time, Seqs: Seqs{}}
		c.Workloads[key] = w
	}
	w.Generation = e.Generation
	w.Object = obj
	w.Deleted = false
	w.UpdatedAt = r.Envelope.Time
	w.cause(r.Envelope)
	c.touchWorkload(w, r)
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
	mark(c.Dirty.Workloads, WorkloadKey(w.Kind, w.Namespace, w.Name), r)
}

// Status computes a Deployment's status from its pods.
func (c *Cluster) Status(w *Workload) WorkloadStatus {
	st := WorkloadStatus{ObservedGeneration: w.Generation}
	var hash string
	if t := w.Object.PodTemplate(); t != nil {
		hash = manifest.TemplateHash(*t)
	}
	for _, p := range c.OwnedPods(w.UID) {
		if p.Deleting || p.Terminal() {
			continue
		}
		st.Replicas++
		if p.TemplateHash == hash {
			st.UpdatedReplicas++
		}
		if p.Ready() {
			st.ReadyReplicas++
			st.AvailableReplicas++
		}
	}
	return st
}
