package scheduler

import "github.com/gantry-sh/gantry/events/manifest"

// NameNodeUnschedulable names the NodeUnschedulable filter.
const NameNodeUnschedulable = "NodeUnschedulable"

const reasonCordoned = "node(s) were unschedulable"

// unschedulableTaint is the taint Kubernetes puts on a cordoned node. A pod
// that tolerates it (a DaemonSet's pods do: the replica service adds the
// toleration, as Kubernetes' DaemonSet controller does) lands there anyway.
var unschedulableTaint = manifest.Taint{Key: "node.kubernetes.io/unschedulable", Effect: manifest.TaintNoSchedule}

// NodeUnschedulable refuses cordoned nodes: they keep their pods and take no
// new ones, but for pods that tolerate node.kubernetes.io/unschedulable
// (NoSchedule), as Kubernetes' NodeUnschedulable plugin lets them through.
type NodeUnschedulable struct{}

// Name implements Filter.
func (NodeUnschedulable) Name() string { return NameNodeUnschedulable }

// Relevant implements Filter.
func (NodeUnschedulable) Relevant(*PodInfo) bool { return true }

// Filter implements Filter.
func (NodeUnschedulable) Filter(p *PodInfo, n *NodeState) string {
	if n.Unschedulable && !tolerated(p.tolerations, unschedulableTaint) {
		return reasonCordoned
	}
	return ""
}
