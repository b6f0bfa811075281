package scheduler

// NameTaintToleration names the TaintToleration filter and scorer.
const NameTaintToleration = "TaintToleration"

// TaintToleration refuses nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate; the reason names the first such taint, as Kubernetes
// does: "node(s) had untolerated taint {dedicated: gpu}". PreferNoSchedule
// taints only lower a node's score (TaintTolerationScore).
type TaintToleration struct{}

// Name implements Filter.
func (TaintToleration) Name() string { return NameTaintToleration }

// Relevant implements Filter: any node may carry a taint.
func (TaintToleration) Relevant(*PodInfo) bool { return true }

// Filter implements Filter.
func (TaintToleration) Filter(p *PodInfo, n *NodeState) string {
	for i, t := range n.hardTaints {
		if !tolerated(p.tolerations, t) {
			return n.hardTaintReasons[i]
		}
	}
	return ""
}
