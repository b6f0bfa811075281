package scheduler

// NodeAffinityPreferred scores a node by the preferred node affinity terms
// it matches: 100 × (weights of the matching terms) / (weights of all terms).
type NodeAffinityPreferred struct{}

// Name implements Scorer.
func (NodeAffinityPreferred) Name() string { return NameNodeAffinity }

// Relevant implements Scorer.
func (NodeAffinityPreferred) Relevant(p *PodInfo) bool { return p.preferredTotal > 0 }

// Score implements Scorer.
func (NodeAffinityPreferred) Score(p *PodInfo, n *NodeState) int64 {
	if p.preferredTotal <= 0 {
		return 0
	}
	var got int64
	for _, t := range p.preferred {
		if t.Weight > 0 && t.Preference.Matches(n.Labels) {
			got += int64(t.Weight)
		}
	}
	return got * 100 / p.preferredTotal
}
