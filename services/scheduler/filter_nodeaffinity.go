package scheduler

// NameNodeAffinity names the NodeAffinity filter and scorer.
const NameNodeAffinity = "NodeAffinity"

const reasonAffinity = "node(s) didn't match Pod's node affinity/selector"

// NodeAffinity refuses nodes whose labels do not satisfy the pod's
// nodeSelector (every pair) and required node affinity (any term, each term
// every requirement).
type NodeAffinity struct{}

// Name implements Filter.
func (NodeAffinity) Name() string { return NameNodeAffinity }

// Relevant implements Filter.
func (NodeAffinity) Relevant(p *PodInfo) bool { return p.hasAffinity() }

// Filter implements Filter.
func (NodeAffinity) Filter(p *PodInfo, n *NodeState) string {
	if !p.matchesAffinity(n) {
		return reasonAffinity
	}
	return ""
}
