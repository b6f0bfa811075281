package events

// Service addresses: the endpoints service allocates a Service's virtual
// IP (from the service CIDR) and node ports, and releases them when the
// Service is deleted. Every allocation and release is on one subject,
// SubjectServiceAlloc, each expecting that subject's newest sequence: the
// allocator decides from everything given so far, so the log never holds
// one address given twice, even when a crashed allocator decides again.

// TypeServiceAllocated is the type of ServiceAllocated.
const TypeServiceAllocated = "gantry.service.allocated.v1"

// SubjectServiceAlloc is where every Service's allocation is decided.
const SubjectServiceAlloc = "gantry.decision.svcalloc"

// ServiceAllocated: the Service (uid) has ClusterIP and NodePorts (by the
// index of its ports; 0 where it has none), and, for a LoadBalancer, is
// served on Ingress (the nodes' addresses); or, Released, has nothing any
// more (it was deleted, or changed so that it needs less). Refused says
// why what it asks cannot be given (an address in use, a CIDR exhausted);
// nothing is held for it then.
type ServiceAllocated struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	UID       string   `json:"uid"`
	ClusterIP string   `json:"clusterIP,omitempty"`
	NodePorts []int32  `json:"nodePorts,omitempty"`
	Ingress   []string `json:"ingress,omitempty"`
	Released  bool     `json:"released,omitempty"`
	Refused   string   `json:"refused,omitempty"`
}

func (ServiceAllocated) Type() string { return TypeServiceAllocated }
