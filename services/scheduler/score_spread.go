package scheduler

// NameWorkloadSpread names the WorkloadSpread scorer.
const NameWorkloadSpread = "WorkloadSpread"

// WorkloadSpread prefers nodes with fewer pods of the same workload, so the
// replicas of a Deployment land on different nodes.
type WorkloadSpread struct{}

// Name implements Scorer.
func (WorkloadSpread) Name() string { return NameWorkloadSpread }

// Relevant implements Scorer: pods without an owner have nothing to spread.
func (WorkloadSpread) Relevant(p *PodInfo) bool { return p.owner != "" }

// Score implements Scorer: 100 for a node with none of the workload's pods,
// 100/(k+1) for one with k of them.
func (WorkloadSpread) Score(p *PodInfo, n *NodeState) int64 {
	if p.owner == "" {
		return 100
	}
	return 100 / int64(p.prep.owned[n]+1)
}
