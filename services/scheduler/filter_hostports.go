package scheduler

// NameHostPorts names the HostPorts filter.
const NameHostPorts = "HostPorts"

const reasonPorts = "node(s) didn't have free ports for the requested pod ports"

// HostPorts refuses nodes where a pod already holds one of the host ports
// (same protocol and port) the pod asks for.
type HostPorts struct{}

// Name implements Filter.
func (HostPorts) Name() string { return NameHostPorts }

// Relevant implements Filter.
func (HostPorts) Relevant(p *PodInfo) bool { return len(p.ports) > 0 }

// Filter implements Filter.
func (HostPorts) Filter(p *PodInfo, n *NodeState) string {
	for _, hp := range p.ports {
		if n.portTaken(hp) {
			return reasonPorts
		}
	}
	return ""
}
