package scheduler

import "github.com/gantry-sh/gantry/projections"

// NodeReady refuses nodes that have not sent a heartbeat recently.
type NodeReady struct{}

// Name implements Filter.
func (NodeReady) Name() string { return "NodeReady" }

// Filter implements Filter.
func (NodeReady) Filter(_ *projections.Pod, n *NodeState) string {
	if !n.Ready {
		return "node(s) were not ready"
	}
	return ""
}
