// Package projections holds Gantry's pure folds over the log. A fold has no
// I/O, no clock and no randomness: replaying the same records gives the same
// state, and a record at or below the applied sequence is a no-op.
package projections

import (
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
)

// Cluster is the shared view of workloads, pods and nodes, folded from the
// decisions, observations and heartbeats streams.
type Cluster struct {
	Applied   map[string]uint64 // stream → last applied sequence
	Workloads map[string]*Workload
	Pods      map[string]*Pod
	Nodes     map[string]*Node

	// statuses holds the newest report of each pod by key; a report can be
	// applied before the decision that planned its pod (streams interleave).
	statuses map[string]*events.PodStatusObserved
	statSeq  map[string]uint64 // pod key → observations sequence of its status
	// readyAt is, by pod key, when its node's reports last began to say it
	// ready, and how often they stopped (see readiness).
	readyAt map[string]readiness
	// latest is the newest envelope time folded: the fold's clock, for
	// what depends on time (a pod available after minReadySeconds).
	latest  time.Time
	removed map[string]removal // pod uid → the newest binding a node removed (kept, like gone)
	// decSeq is the last sequence on gantry.decision.pod.<ns>.<name> by pod
	// key, kept across incarnations: a pod re-created under the same name
	// must expect the old one's decisions.
	decSeq map[string]uint64
	// wdecSeq is the last sequence on events.WorkloadSubject by workload
	// key, kept across incarnations like decSeq.
	wdecSeq map[string]uint64
	// volumes is what the storage service decided of each volume, by
	// name, kept after the volume object goes (see storage.go).
	volumes map[string]VolumeBinding
	gone    map[string]bool // pod uid → deleted and forgotten (tombstone)
	goneW   map[string]bool // workload uid → deleted and forgotten (tombstone)
	byOwner map[string]map[string]bool
	// ownedW names, by owner uid, the workloads a controller made for it;
	// ended the pods of each workload uid that ended (kept when they go).
	ownedW map[string]map[string]bool
	ended  map[string]map[string]Ended
	// quotas, budgets, nsPods and nsObjects index each namespace's
	// ResourceQuotas, PodDisruptionBudgets, pods and objects by key, for
	// quota usage and budgets' status.
	quotas, budgets, nsPods, nsObjects map[string]map[string]bool
	// nodePods indexes the pods by the node of their newest binding.
	nodePods map[string]map[string]bool
	// deletedNS names the Namespaces deleted and kept (their controller
	// reads them to the end).
	deletedNS map[string]bool
	// endedEarly holds, by pod uid, reports of pods that ended read before
	// their plan (Succeeded: true).
	endedEarly map[string]bool
	// allocs is what the endpoints service gave each Service (by uid), and
	// AllocSeq the newest sequence on events.SubjectServiceAlloc, the fence
	// of the next allocation.
	allocs   map[string]Allocation
	AllocSeq uint64

	// Dirty names what changed since the last ClearDirty.
	Dirty Changes
}

// NewCluster returns an empty fold.
func NewCluster() *Cluster {
	return &Cluster{Applied: map[string]uint64{}, Workloads: map[string]*Workload{},
		Pods: map[string]*Pod{}, Nodes: map[string]*Node{}, statuses: map[string]*events.PodStatusObserved{}, statSeq: map[string]uint64{}, readyAt: map[string]readiness{}, decSeq: map[string]uint64{}, wdecSeq: map[string]uint64{},
		removed: map[string]removal{}, gone: map[string]bool{}, goneW: map[string]bool{}, byOwner: map[string]map[string]bool{},
		ownedW: map[string]map[string]bool{}, ended: map[string]map[string]Ended{}, endedEarly: map[string]bool{},
		quotas: map[string]map[string]bool{}, budgets: map[string]map[string]bool{}, nsPods: map[string]map[string]bool{}, nsObjects: map[string]map[string]bool{}, nodePods: map[string]map[string]bool{}, deletedNS: map[string]bool{},
		allocs: map[string]Allocation{}, Dirty: newChanges()}
}

// Seqs is the position in each stream a read-model record reflects.
type Seqs map[string]uint64

// Key is how pods and workloads are indexed: "<ns>/<name>" (pods) or
// "<kind>/<ns>/<name>" (workloads).
func Key(ns, name string) string { return ns + "/" + name }

// Apply folds one record. Records at or below the applied sequence of their
// stream are ignored, so replay is idempotent.
func (c *Cluster) Apply(r events.Record) {
	if r.Seq <= c.Applied[r.Stream] {
		return
	}
	c.Applied[r.Stream] = r.Seq
	if r.Envelope.Time.After(c.latest) {
		c.latest = r.Envelope.Time
	}
	if strings.HasPrefix(r.Subject, "gantry.node.") {
		return // a copy for a node agent; the original is on the pod's subject
	}
	if ns, name, ok := events.PodOfDecisionSubject(r.Subject); ok {
		defer c.fence(ns, name, r.Seq)
	}
	if key, ok := WorkloadOfSubject(r.Subject); ok {
		defer c.workloadFence(key, r.Seq)
	}
	switch e := r.Event.(type) {
	case *events.AdmissionAccepted:
		c.applyAccepted(r, e)
	case *events.WorkloadDecided:
		c.applyDecided(r, e)
	case *events.WorkloadDeleted:
		c.applyWorkloadDeleted(r, e)
	case *events.WorkloadStatusDecided:
		c.applyWorkloadStatus(r, e)
	case *events.ServiceAllocated:
		c.applyServiceAllocated(r, e)
	case *events.VolumeDecided:
		c.applyVolumeDecided(r, e)
	case *events.SecretResealed:
		c.applyResealed(r, e)
	case *events.PodPlanned:
		c.applyPlanned(r, e)
	case *events.PodBound:
		c.applyBound(r, e)
	case *events.PodUnschedulable:
		if p := c.Pods[Key(e.Namespace, e.Name)]; p != nil && p.UID == e.UID {
			p.Unschedulable = e.Message
			p.UnschedulableCount++
			c.touchPod(p, r)
		}
	case *events.PodDeleted:
		c.applyDeleted(r, e)
	case *events.PodStatusObserved:
		c.applyStatus(r, e)
	case *events.PodRemoved:
		c.applyRemoved(r, e)
	case *events.PodReleased:
		c.applyReleased(r, e)
	case *events.PodAdopted:
		c.applyAdopted(r, e)
	case *events.NodeRegistered, *events.NodeCordoned, *events.NodeHeartbeat, *events.NodeStateDecided:
		c.applyNode(r, e)
	}
}

// ClearDirty forgets what changed.
func (c *Cluster) ClearDirty() { c.Dirty.clear() }
