package scheduler

// NameNodeReady names the NodeReady filter.
const NameNodeReady = "NodeReady"

const reasonNotReady = "node(s) were not ready"

// NodeReady refuses nodes that have not sent a heartbeat recently.
type NodeReady struct{}

// Name implements Filter.
func (NodeReady) Name() string { return NameNodeReady }

// Relevant implements Filter.
func (NodeReady) Relevant(*PodInfo) bool { return true }

// Filter implements Filter.
func (NodeReady) Filter(_ *PodInfo, n *NodeState) string {
	if !n.Ready {
		return reasonNotReady
	}
	return ""
}
