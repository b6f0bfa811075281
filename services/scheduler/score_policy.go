package scheduler

// Scoring policy names (Config.Policy).
const (
	PolicyBinPack = "binpack" // MostAllocated: fill nodes before using new ones (the default)
	PolicySpread  = "spread"  // LeastAllocated: keep the most room on every node
)

// Names of the policy scorers.
const (
	NameMostAllocated  = "MostAllocated"
	NameLeastAllocated = "LeastAllocated"
)

// MostAllocated (bin packing) prefers the fullest nodes: the mean, over cpu
// and memory, of the share a node would have allocated once the pod is on
// it, 0 to 100. A node offering none of a resource scores 0 for it.
type MostAllocated struct{}

// Name implements Scorer.
func (MostAllocated) Name() string { return NameMostAllocated }

// Relevant implements Scorer.
func (MostAllocated) Relevant(*PodInfo) bool { return true }

// Score implements Scorer.
func (MostAllocated) Score(p *PodInfo, n *NodeState) int64 {
	return (usedShare(n.allocCPU, n.usedCPU+p.cpu) + usedShare(n.allocMem, n.usedMem+p.mem)) / 2
}

// LeastAllocated (spreading) prefers the emptiest nodes: the mean, over cpu
// and memory, of the share a node would have free once the pod is on it.
type LeastAllocated struct{}

// Name implements Scorer.
func (LeastAllocated) Name() string { return NameLeastAllocated }

// Relevant implements Scorer.
func (LeastAllocated) Relevant(*PodInfo) bool { return true }

// Score implements Scorer.
func (LeastAllocated) Score(p *PodInfo, n *NodeState) int64 {
	return (freeShare(n.allocCPU, n.usedCPU+p.cpu) + freeShare(n.allocMem, n.usedMem+p.mem)) / 2
}

// usedShare is used/alloc in percent, within [0, 100].
func usedShare(alloc, used int64) int64 {
	if alloc <= 0 || used <= 0 {
		return 0
	}
	if used >= alloc {
		return 100
	}
	return used * 100 / alloc
}

// freeShare is (alloc-used)/alloc in percent, within [0, 100].
func freeShare(alloc, used int64) int64 {
	if alloc <= 0 {
		return 0
	}
	if used <= 0 {
		return 100
	}
	if used >= alloc {
		return 0
	}
	return (alloc - used) * 100 / alloc
}
