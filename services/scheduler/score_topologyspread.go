package scheduler

// TopologySpreadScore prefers, for each ScheduleAnyway spread constraint,
// the domains holding the fewest matching pods: 100 × (max − count) / (max −
// min) over the constraint's domains (100 when they are even), 0 for a node
// without the topology key; the mean over the constraints.
type TopologySpreadScore struct{}

// Name implements Scorer.
func (TopologySpreadScore) Name() string { return NameTopologySpread }

// Relevant implements Scorer.
func (TopologySpreadScore) Relevant(p *PodInfo) bool { return len(p.spreadSoft) > 0 }

// Score implements Scorer.
func (TopologySpreadScore) Score(p *PodInfo, n *NodeState) int64 {
	if len(p.prep.spreadSoft) == 0 {
		return 0
	}
	var sum int64
	for i := range p.prep.spreadSoft {
		s := &p.prep.spreadSoft[i]
		d := n.domain(s.key)
		switch {
		case d < 0:
		case s.max == s.min:
			sum += 100
		default:
			sum += int64(s.max-s.counts.at(d)) * 100 / int64(s.max-s.min)
		}
	}
	return sum / int64(len(p.prep.spreadSoft))
}
