package scheduler

// PodAntiAffinityPreferred scores a node by the preferred anti-affinity
// terms it satisfies, that is whose topology domain holds no pod the term
// selects: 100 × (weights of the satisfied terms) / (weights of all terms).
type PodAntiAffinityPreferred struct{}

// Name implements Scorer.
func (PodAntiAffinityPreferred) Name() string { return NamePodAntiAffinity }

// Relevant implements Scorer.
func (PodAntiAffinityPreferred) Relevant(p *PodInfo) bool { return p.antiPreferredTotal > 0 }

// Score implements Scorer.
func (PodAntiAffinityPreferred) Score(p *PodInfo, n *NodeState) int64 {
	if p.antiPreferredTotal <= 0 {
		return 0
	}
	got := p.antiPreferredTotal
	for i, t := range p.antiPreferred {
		if t.Weight > 0 && p.prep.antiSoft[i].on(n) > 0 {
			got -= int64(t.Weight)
		}
	}
	return got * 100 / p.antiPreferredTotal
}
