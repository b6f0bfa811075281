package scheduler

// NamePodAntiAffinity names the PodAntiAffinity filter and scorer.
const NamePodAntiAffinity = "PodAntiAffinity"

const (
	reasonAnti         = "node(s) didn't match pod anti-affinity rules"
	reasonExistingAnti = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// PodAntiAffinity refuses nodes whose topology domain (the node itself for
// kubernetes.io/hostname) already holds a pod, in the pod's namespace, that a
// required anti-affinity term of the pod selects; and, as Kubernetes does,
// nodes in a domain holding a pod whose own required anti-affinity selects
// this pod. A node without the term's topology key is not refused. The
// counts per domain are worked out once per pod (prepare).
type PodAntiAffinity struct{}

// Name implements Filter.
func (PodAntiAffinity) Name() string { return NamePodAntiAffinity }

// Relevant implements Filter.
func (PodAntiAffinity) Relevant(p *PodInfo) bool {
	return len(p.antiRequired) > 0 || len(p.prep.sym) > 0
}

// Filter implements Filter.
func (PodAntiAffinity) Filter(p *PodInfo, n *NodeState) string {
	for i := range p.prep.anti {
		if p.prep.anti[i].on(n) > 0 {
			return reasonAnti
		}
	}
	for i := range p.prep.sym {
		if p.prep.sym[i].on(n) > 0 {
			return reasonExistingAnti
		}
	}
	return ""
}
