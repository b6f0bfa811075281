package scheduler

// TaintTolerationScore prefers nodes with fewer PreferNoSchedule taints the
// pod does not tolerate: 100 for none, 100/(k+1) for k of them.
type TaintTolerationScore struct{}

// Name implements Scorer.
func (TaintTolerationScore) Name() string { return NameTaintToleration }

// Relevant implements Scorer: only when some node has such a taint.
func (TaintTolerationScore) Relevant(p *PodInfo) bool { return p.prep.softTaints }

// Score implements Scorer.
func (TaintTolerationScore) Score(p *PodInfo, n *NodeState) int64 {
	k := 0
	for _, t := range n.softTaints {
		if !tolerated(p.tolerations, t) {
			k++
		}
	}
	return 100 / int64(k+1)
}
