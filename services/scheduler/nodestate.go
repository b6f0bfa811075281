package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/placement"
	"github.com/gantry-sh/gantry/projections"
)

// NodeState is one node as the scheduler sees it: what it offers, what the
// pods bound to it request, and those pods. The Service keeps one per node,
// updated as records are applied; a pass adds the pods it places and takes
// them off again when it ends.
type NodeState struct {
	Name string
	// Ready: the health service decided the node Ready (before any
	// decision, heard from within projections.NodeLostAfter of the pass's
	// now; see ready).
	Ready bool
	// Unschedulable: cordoned; takes no new pods.
	Unschedulable bool
	// Labels are the node's labels plus kubernetes.io/hostname (its name)
	// when the node does not set it.
	Labels map[string]string
	Taints []manifest.Taint
	// doms caches the node's domain for each topology key, by key number
	// (see domains); filled as keys are asked for, emptied when the labels
	// change.
	doms []int32

	info          events.NodeInfo
	view          placement.NodeView         // what placement rules see, built once per change
	ruleMemo      map[*placement.Rule]string // placement rule → reason ("" passes), until the node changes
	known         bool                       // the fold knows the node (else it only holds pods bound to a name)
	lastHeartbeat time.Time
	state         *projections.NodeState // the fold's decided state, nil before any
	idx           int                    // position in the Service's node order

	allocCPU, allocMem int64
	usedCPU, usedMem   int64
	maxPods            int64 // -1: no limit
	pods               int64
	ext                []extResource // every other resource, by name

	ports []portUse
	bound []*PodInfo // pods counted here: bound and not terminal, deleting ones included

	hardTaintReasons []string // reason per NoSchedule/NoExecute taint, in order
	hardTaints       []manifest.Taint
	softTaints       []manifest.Taint // PreferNoSchedule
}

type extResource struct {
	name        string
	alloc, used int64
}

type portUse struct {
	port hostPort
	n    int
}

// newNodeState is a node the scheduler has heard of by name only.
func newNodeState(name string) *NodeState {
	return &NodeState{Name: name, maxPods: -1, Labels: map[string]string{manifest.HostnameTopologyKey: name}}
}

// NewNodeState is a ready node described by info, holding no pods.
func NewNodeState(info events.NodeInfo) *NodeState {
	n := newNodeState(info.Name)
	n.known, n.Ready = true, true
	n.setInfo(info)
	return n
}

// ready is whether the node takes pods at now: the health service's newest
// decision, or, on a node it has not decided (a cluster run without it),
// the heartbeat clock projections.Node.Ready falls back to.
func (n *NodeState) ready(now time.Time) bool {
	if n.state != nil {
		return n.state.Ready
	}
	return now.Sub(n.lastHeartbeat) < projections.NodeLostAfter
}

// sameInfo reports whether a heartbeat changes nothing the scheduler reads.
func sameInfo(a, b events.NodeInfo) bool {
	return maps.Equal(a.Allocatable, b.Allocatable) && maps.Equal(a.Labels, b.Labels) &&
		maps.Equal(a.Capacity, b.Capacity) && slices.Equal(a.Taints, b.Taints)
}

// setInfo takes what the node reports: labels, taints, allocatable.
func (n *NodeState) setInfo(info events.NodeInfo) {
	n.info = info
	n.view = placement.View(info)
	n.ruleMemo = nil
	n.doms = n.doms[:0]
	n.Labels = make(map[string]string, len(info.Labels)+1)
	maps.Copy(n.Labels, info.Labels)
	if _, ok := n.Labels[manifest.HostnameTopologyKey]; !ok {
		n.Labels[manifest.HostnameTopologyKey] = n.Name
	}
	n.Taints = info.Taints
	n.hardTaints, n.hardTaintReasons, n.softTaints = nil, nil, nil
	for _, t := range info.Taints {
		switch t.Effect {
		case manifest.TaintNoSchedule, manifest.TaintNoExecute:
			n.hardTaints = append(n.hardTaints, t)
			n.hardTaintReasons = append(n.hardTaintReasons, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
		case manifest.TaintPreferNoSchedule:
			n.softTaints = append(n.softTaints, t)
		}
	}
	n.allocCPU = info.Allocatable[events.ResourceCPU]
	n.allocMem = info.Allocatable[events.ResourceMemory]
	n.maxPods = -1
	if max, ok := info.Allocatable[events.ResourcePods]; ok {
		n.maxPods = max
	}
	for i := range n.ext {
		n.ext[i].alloc = 0
	}
	for name, v := range info.Allocatable {
		switch name {
		case events.ResourceCPU, events.ResourceMemory, events.ResourcePods:
			continue
		}
		n.extEntry(name).alloc = v
	}
	// Drop what is neither offered nor used.
	n.ext = slices.DeleteFunc(n.ext, func(e extResource) bool { return e.alloc == 0 && e.used == 0 })
}

// extEntry finds or adds an extended resource, keeping them sorted by name.
func (n *NodeState) extEntry(name string) *extResource {
	i := sort.Search(len(n.ext), func(i int) bool { return n.ext[i].name >= name })
	if i == len(n.ext) || n.ext[i].name != name {
		n.ext = slices.Insert(n.ext, i, extResource{name: name})
	}
	return &n.ext[i]
}

// Allocatable is what the node offers of a resource.
func (n *NodeState) Allocatable(resource string) int64 {
	alloc, _ := n.amounts(resource)
	return alloc
}

// Requested is what the pods counted on the node request of a resource.
func (n *NodeState) Requested(resource string) int64 {
	_, used := n.amounts(resource)
	return used
}

// amounts is what the node offers of a resource and what its pods request.
func (n *NodeState) amounts(resource string) (alloc, used int64) {
	switch resource {
	case events.ResourceCPU:
		return n.allocCPU, n.usedCPU
	case events.ResourceMemory:
		return n.allocMem, n.usedMem
	case events.ResourcePods:
		return n.maxPods, n.pods
	}
	for _, e := range n.ext {
		if e.name == resource {
			return e.alloc, e.used
		}
	}
	return 0, 0
}

// Free is what is left of a resource.
func (n *NodeState) Free(resource string) int64 {
	alloc, used := n.amounts(resource)
	return alloc - used
}

// add counts a pod against the node.
func (n *NodeState) add(p *PodInfo) {
	n.usedCPU = addSat(n.usedCPU, p.cpu)
	n.usedMem = addSat(n.usedMem, p.mem)
	n.pods++
	for _, q := range p.ext {
		e := n.extEntry(q.name)
		e.used = addSat(e.used, q.value)
	}
	for _, hp := range p.ports {
		n.addPort(hp)
	}
	p.node, p.slot = n, len(n.bound)
	n.bound = append(n.bound, p)
}

// remove takes back what add counted.
func (n *NodeState) remove(p *PodInfo) {
	n.usedCPU -= p.cpu
	n.usedMem -= p.mem
	n.pods--
	for _, q := range p.ext {
		n.extEntry(q.name).used -= q.value
	}
	for _, hp := range p.ports {
		n.removePort(hp)
	}
	last := n.bound[len(n.bound)-1]
	n.bound[p.slot] = last
	last.slot = p.slot
	n.bound[len(n.bound)-1] = nil
	n.bound = n.bound[:len(n.bound)-1]
	p.node, p.slot = nil, -1
}

func (n *NodeState) addPort(hp hostPort) {
	for i := range n.ports {
		if n.ports[i].port == hp {
			n.ports[i].n++
			return
		}
	}
	n.ports = append(n.ports, portUse{port: hp, n: 1})
}

func (n *NodeState) removePort(hp hostPort) {
	for i := range n.ports {
		if n.ports[i].port == hp {
			if n.ports[i].n--; n.ports[i].n == 0 {
				n.ports = slices.Delete(n.ports, i, i+1)
			}
			return
		}
	}
}

// portTaken reports a host port some pod on the node holds.
func (n *NodeState) portTaken(hp hostPort) bool {
	for i := range n.ports {
		if n.ports[i].port == hp {
			return true
		}
	}
	return false
}
