package scheduler

import (
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// LeastAllocated prefers nodes with the most room left once the pod is on
// them: the mean free share of cpu and memory, 0 to 100.
type LeastAllocated struct{}

// Name implements Scorer.
func (LeastAllocated) Name() string { return "LeastAllocated" }

// Score implements Scorer.
func (LeastAllocated) Score(p *projections.Pod, n *NodeState) int64 {
	cpu, mem := p.Requests()
	return (freeShare(n, events.ResourceCPU, cpu) + freeShare(n, events.ResourceMemory, mem)) / 2
}

func freeShare(n *NodeState, resource string, req int64) int64 {
	alloc := n.Allocatable[resource]
	if alloc <= 0 {
		return 0
	}
	free := alloc - n.Requested[resource] - req
	if free < 0 {
		return 0
	}
	return free * 100 / alloc
}
