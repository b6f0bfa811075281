package scheduler

// NameResourceFit names the ResourceFit filter.
const NameResourceFit = "ResourceFit"

const (
	reasonCPU    = "Insufficient cpu"
	reasonMemory = "Insufficient memory"
)

// ResourceFit refuses nodes without room for every resource the pod
// requests: cpu, memory and extended resources the nodes declare
// (example.com/gpu). Requests are never over-committed: what the pods bound
// to a node request (deleting ones included, until their node removes them)
// plus this pod's request must stay within the node's allocatable. A node
// that does not declare a resource has none of it. The reason names the
// first short resource: cpu, memory, then extended ones by name.
type ResourceFit struct{}

// Name implements Filter.
func (ResourceFit) Name() string { return NameResourceFit }

// Relevant implements Filter: a pod that requests nothing fits any node.
func (ResourceFit) Relevant(p *PodInfo) bool { return !p.bestEffort }

// Filter implements Filter.
func (ResourceFit) Filter(p *PodInfo, n *NodeState) string {
	if p.cpu > 0 && p.cpu > n.allocCPU-n.usedCPU {
		return reasonCPU
	}
	if p.mem > 0 && p.mem > n.allocMem-n.usedMem {
		return reasonMemory
	}
	for i, e := range p.ext {
		if e.value > n.Free(e.name) {
			return p.extReasons[i]
		}
	}
	return ""
}
