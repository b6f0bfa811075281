package scheduler

// NameTopologySpread names the TopologySpread filter and scorer.
const NameTopologySpread = "TopologySpread"

const (
	reasonSpread      = "node(s) didn't match pod topology spread constraints"
	reasonSpreadLabel = reasonSpread + " (missing required label)"
)

// TopologySpread enforces the pod's DoNotSchedule topology spread
// constraints as Kubernetes computes them. For each constraint, count the
// pods matching its selector (in the pod's namespace, deleting ones left
// out) in each domain of its topology key, over the eligible nodes: those
// that satisfy the pod's node selector and affinity and carry the key. min
// is the smallest count over those domains, empty ones included. Placing
// the pod in domain d must keep
//
//	count(d) + self - min <= maxSkew
//
// where self is 1 when the pod matches the selector itself. Worked example,
// maxSkew 1 over zones a, b, c holding 2, 1, 1 matching pods: min is 1; zone a
// gives 2+1-1 = 2 > 1 and is refused, zones b and c give 1+1-1 = 1 and pass.
// A node without the key is refused ("missing required label").
type TopologySpread struct{}

// Name implements Filter.
func (TopologySpread) Name() string { return NameTopologySpread }

// Relevant implements Filter.
func (TopologySpread) Relevant(p *PodInfo) bool { return len(p.spreadHard) > 0 }

// Filter implements Filter.
func (TopologySpread) Filter(p *PodInfo, n *NodeState) string {
	for i := range p.prep.spreadHard {
		s := &p.prep.spreadHard[i]
		d := n.domain(s.key)
		if d < 0 {
			return reasonSpreadLabel
		}
		if s.counts.at(d)+s.self-s.min > s.maxSkew {
			return reasonSpread
		}
	}
	return ""
}
