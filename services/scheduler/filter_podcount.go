package scheduler

import (
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// PodCount refuses nodes that already run as many pods as they allow.
type PodCount struct{}

// Name implements Filter.
func (PodCount) Name() string { return "PodCount" }

// Filter implements Filter.
func (PodCount) Filter(_ *projections.Pod, n *NodeState) string {
	if max, ok := n.Allocatable[events.ResourcePods]; ok && n.Requested[events.ResourcePods]+1 > max {
		return "Too many pods"
	}
	return ""
}
