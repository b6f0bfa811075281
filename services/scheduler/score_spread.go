package scheduler

import "github.com/gantry-sh/gantry/projections"

// WorkloadSpread prefers nodes with fewer pods of the same workload, so the
// replicas of a Deployment land on different nodes.
type WorkloadSpread struct{}

// Name implements Scorer.
func (WorkloadSpread) Name() string { return "WorkloadSpread" }

// Score implements Scorer: 100 for a node with none of the workload's pods,
// 100/(k+1) for one with k of them.
func (WorkloadSpread) Score(p *projections.Pod, n *NodeState) int64 {
	if p.Owner == nil {
		return 100
	}
	return 100 / int64(n.Owners[p.Owner.UID]+1)
}
