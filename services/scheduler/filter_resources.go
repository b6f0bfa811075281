package scheduler

import (
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// ResourceFit refuses nodes without room for the pod's cpu and memory
// requests.
type ResourceFit struct{}

// Name implements Filter.
func (ResourceFit) Name() string { return "ResourceFit" }

// Filter implements Filter.
func (ResourceFit) Filter(p *projections.Pod, n *NodeState) string {
	cpu, mem := p.Requests()
	if cpu > 0 && cpu > n.Free(events.ResourceCPU) {
		return "Insufficient cpu"
	}
	if mem > 0 && mem > n.Free(events.ResourceMemory) {
		return "Insufficient memory"
	}
	return ""
}
