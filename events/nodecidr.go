package events

import "fmt"

// Pod CIDRs: a node asks the control plane for its pod subnet before it
// makes its pods' network (NodeCIDRRequested, optionally naming the one it
// wants), and the ipam service allocates one from the cluster CIDR
// (NodeCIDRAllocated). Every allocation is on one subject,
// SubjectNodeCIDRAlloc, each expecting that subject's newest sequence, so
// no subnet is ever given to two nodes, even by an allocator that crashed
// and decided again.

// Types of the pod CIDR events.
const (
	TypeNodeCIDRRequested = "gantry.node.cidrrequested.v1"
	TypeNodeCIDRAllocated = "gantry.node.cidrallocated.v1"
)

// SubjectNodeCIDRAlloc is where every node's pod CIDR is decided;
// SubjectObsNodeCIDRAll matches the nodes' requests.
const (
	SubjectNodeCIDRAlloc  = "gantry.decision.nodecidr"
	SubjectObsNodeCIDRAll = "gantry.obs.*.cidr"
)

// ObsNodeCIDRSubject is where a node asks for its pod CIDR.
func ObsNodeCIDRSubject(node string) string { return fmt.Sprintf("gantry.obs.%s.cidr", node) }

// NodeCIDRRequested: a node asks for its pod CIDR; Requested, when set, is
// the one it was configured with (honoured if free).
type NodeCIDRRequested struct {
	Node      string `json:"node"`
	Requested string `json:"requested,omitempty"`
}

func (NodeCIDRRequested) Type() string { return TypeNodeCIDRRequested }

// NodeCIDRAllocated: the node's pod CIDR, or why none could be given
// (Refused: the one it asked for is another node's, or the cluster CIDR is
// full).
type NodeCIDRAllocated struct {
	Node    string `json:"node"`
	PodCIDR string `json:"podCIDR,omitempty"`
	Refused string `json:"refused,omitempty"`
	// RequestSeq is the sequence of the request answered (observations).
	RequestSeq uint64 `json:"requestSeq"`
}

func (NodeCIDRAllocated) Type() string { return TypeNodeCIDRAllocated }
