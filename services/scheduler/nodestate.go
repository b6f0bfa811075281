package scheduler

import (
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// NodeState is one node as the scheduler sees it during a pass: what it
// offers and what the pods bound to it request.
type NodeState struct {
	Name        string
	Ready       bool
	Allocatable map[string]int64
	Requested   map[string]int64
	// Owners counts the pods of each workload uid on the node.
	Owners map[string]int
}

// Index builds the node states from the fold. Pods that are bound and not
// yet removed count against their node, deleting ones included, so a node is
// never over-committed while a pod is still stopping.
func Index(c *projections.Cluster, now time.Time) []*NodeState {
	byName := map[string]*NodeState{}
	out := make([]*NodeState, 0, len(c.Nodes))
	for _, n := range c.SortedNodes() {
		ns := &NodeState{Name: n.Info.Name, Ready: n.Ready(now), Allocatable: n.Info.Allocatable,
			Requested: map[string]int64{}, Owners: map[string]int{}}
		byName[ns.Name] = ns
		out = append(out, ns)
	}
	for _, p := range c.Pods {
		if p.Node == "" || p.Terminal() {
			continue
		}
		if ns := byName[p.Node]; ns != nil {
			ns.Add(p)
		}
	}
	return out
}

// Add counts a pod against the node.
func (n *NodeState) Add(p *projections.Pod) {
	cpu, mem := p.Requests()
	n.Requested[events.ResourceCPU] += cpu
	n.Requested[events.ResourceMemory] += mem
	n.Requested[events.ResourcePods]++
	if p.Owner != nil {
		n.Owners[p.Owner.UID]++
	}
}

// Free is what is left of a resource.
func (n *NodeState) Free(resource string) int64 {
	return n.Allocatable[resource] - n.Requested[resource]
}
