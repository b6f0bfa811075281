package scheduler

import (
	"fmt"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// NameVolumeBinding names the VolumeBinding filter.
const NameVolumeBinding = "VolumeBinding"

// Reasons, in Kubernetes' words (VolumeBinding, VolumeRestrictions).
const (
	reasonVolumeNode       = "node(s) had volume node affinity conflict"
	reasonUnboundImmediate = "pod has unbound immediate PersistentVolumeClaims"
)

// ClaimState is what placement needs of one claim.
type ClaimState struct {
	Exists bool
	// Bound: to a volume on Node ("" when any node can use it).
	Bound bool
	Node  string
	// Immediate: not bound, and its class binds at once rather than for
	// its first pod: the pod waits for the binding.
	Immediate bool
	// On counts, by node, the pods counted there that mount it: a claim
	// not bound yet follows its first pod (WaitForFirstConsumer).
	On map[*NodeState]int
}

// ClaimLookup finds a pod's claims.
type ClaimLookup interface {
	Claim(ns, name string) ClaimState
}

// VolumeBinding refuses nodes a pod's PersistentVolumeClaims keep it off:
// a claim that does not exist refuses every node (persistentvolumeclaim
// "x" not found; the pod stays Pending, as in Kubernetes); a claim bound to
// a local volume admits only the volume's node; a claim not bound yet
// admits only the node another pod mounting it was placed on (its volume
// will be made there), any node otherwise; an Immediate claim not bound
// yet refuses every node until it is.
type VolumeBinding struct{ Claims ClaimLookup }

// Name implements Filter.
func (VolumeBinding) Name() string { return NameVolumeBinding }

// Relevant implements Filter.
func (f VolumeBinding) Relevant(p *PodInfo) bool { return len(p.claims) > 0 && f.Claims != nil }

// Filter implements Filter.
func (f VolumeBinding) Filter(p *PodInfo, n *NodeState) string {
	for _, c := range p.claims {
		st := f.Claims.Claim(p.namespace, c)
		switch {
		case !st.Exists:
			return fmt.Sprintf("persistentvolumeclaim %q not found", c)
		case st.Bound:
			if st.Node != "" && st.Node != n.Name {
				return reasonVolumeNode
			}
		case st.Immediate:
			return reasonUnboundImmediate
		case len(st.On) > 0 && st.On[n] == 0:
			return reasonVolumeNode
		}
	}
	return ""
}

// claimIndex counts, by claim key (ns/name), the pods counted on each
// node that mount it.
type claimIndex map[string]map[*NodeState]int

func (ix claimIndex) add(p *PodInfo, n *NodeState, delta int) {
	for _, c := range p.claims {
		key := p.namespace + "/" + c
		m := ix[key]
		if m == nil {
			m = map[*NodeState]int{}
			ix[key] = m
		}
		if m[n] += delta; m[n] <= 0 {
			delete(m, n)
		}
		if len(m) == 0 {
			delete(ix, key)
		}
	}
}

// storageKind reports the kinds whose changes can let a pod's claims fit.
func storageKind(kind string) bool {
	return kind == "persistentvolumeclaim" || kind == "persistentvolume" || kind == "storageclass"
}

// Claim implements ClaimLookup from the scheduler's fold.
func (s *Service) Claim(ns, name string) ClaimState {
	w := s.c.Workloads[projections.WorkloadKey("persistentvolumeclaim", ns, name)]
	if w == nil || w.Deleted || w.Object.PersistentVolumeClaim() == nil {
		return ClaimState{}
	}
	st := ClaimState{Exists: true, On: s.claimNodes[ns+"/"+name]}
	if _, node, ok := s.c.ClaimVolume(ns, name); ok {
		st.Bound, st.Node = true, node
		return st
	}
	spec := w.Object.PersistentVolumeClaim()
	if spec.StorageClassName == nil {
		return st // the default class's (local-path: for its first pod)
	}
	// A class that binds at once, or no class object (volumes made by
	// hand), binds before placement, as Kubernetes.
	c := s.c.Workloads[projections.WorkloadKey("storageclass", events.ClusterScope, spec.ClassName())]
	st.Immediate = c == nil || c.Deleted || c.Object.StorageClass() == nil ||
		c.Object.StorageClass().BindingMode() == manifest.VolumeBindingImmediate
	return st
}
