package scheduler

// NamePodCount names the PodCount filter.
const NamePodCount = "PodCount"

const reasonTooManyPods = "Too many pods"

// PodCount refuses nodes that already run as many pods as they allow (their
// allocatable "pods"; no limit when they give none).
type PodCount struct{}

// Name implements Filter.
func (PodCount) Name() string { return NamePodCount }

// Relevant implements Filter.
func (PodCount) Relevant(*PodInfo) bool { return true }

// Filter implements Filter.
func (PodCount) Filter(_ *PodInfo, n *NodeState) string {
	if n.maxPods >= 0 && n.pods+1 > n.maxPods {
		return reasonTooManyPods
	}
	return ""
}
