package scheduler

// NameNodeUnschedulable names the NodeUnschedulable filter.
const NameNodeUnschedulable = "NodeUnschedulable"

const reasonCordoned = "node(s) were unschedulable"

// NodeUnschedulable refuses cordoned nodes: they keep their pods and take no
// new ones.
type NodeUnschedulable struct{}

// Name implements Filter.
func (NodeUnschedulable) Name() string { return NameNodeUnschedulable }

// Relevant implements Filter.
func (NodeUnschedulable) Relevant(*PodInfo) bool { return true }

// Filter implements Filter.
func (NodeUnschedulable) Filter(_ *PodInfo, n *NodeState) string {
	if n.Unschedulable {
		return reasonCordoned
	}
	return ""
}
