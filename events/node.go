package events

import (
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Node types.
const (
	TypeNodeRegistered = "gantry.node.registered.v1"
	TypeNodeHeartbeat  = "gantry.node.heartbeat.v1"
	TypeNodeCordoned   = "gantry.node.cordoned.v1"
	TypeIntentCordon   = "gantry.intent.cordon.v1"
	TypeNodeState      = "gantry.node.statedecided.v1"
)

// IntentCordon asks for a node to take no new pods (Unschedulable) or to
// take them again. Nodes are cluster-wide: the intent's subject uses the
// namespace token ClusterScope.
type IntentCordon struct {
	Node          string `json:"node"`
	Unschedulable bool   `json:"unschedulable"`
}

func (IntentCordon) Type() string { return TypeIntentCordon }

// NodeCordoned: admission accepted a cordon or uncordon; the scheduler
// places no new pod on an unschedulable node.
type NodeCordoned struct {
	Node          string `json:"node"`
	Unschedulable bool   `json:"unschedulable"`
	IntentSeq     uint64 `json:"intentSeq"`
	IntentID      string `json:"intentId"`
}

func (NodeCordoned) Type() string { return TypeNodeCordoned }

// NodeInfo is what a node says about itself: capacity, labels, addresses.
// Capacity and Allocatable are in base units: cpu in millicores, memory in
// bytes, pods as a count.
type NodeInfo struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Capacity    map[string]int64  `json:"capacity"`
	Allocatable map[string]int64  `json:"allocatable"`
	PodCIDR     string            `json:"podCIDR,omitempty"`
	Address     string            `json:"address,omitempty"`
	Runtime     string            `json:"runtime"` // containerd, simulated
	Version     string            `json:"version,omitempty"`
	Taints      []manifest.Taint  `json:"taints,omitempty"`
	// CreatedAt is when the node first registered. Its agent carries it
	// over from its last registration, so the node keeps its creation time
	// across restarts of its agent and of the control plane, as a
	// Kubernetes Node keeps its creationTimestamp. Absent from the reports
	// of agents older than the field.
	CreatedAt *time.Time `json:"createdAt,omitempty"`
	// FenceAfterMillis is the agent's promise: when the log has not
	// acknowledged its heartbeat for this long, it stops every pod it runs
	// (0: it does not fence). The control plane evicts a lost node's pods
	// no sooner than this (and a margin) after its last heartbeat, so a
	// replacement never runs beside a copy the node still runs.
	FenceAfterMillis int64 `json:"fenceAfterMillis,omitempty"`
	// SealKey is the node's own public key (sealed.PublicKey.String): the
	// Secrets its pods use are delivered sealed to it. Absent from agents
	// older than the field, which are given no Secret.
	SealKey string `json:"sealKey,omitempty"`
}

// NodeRegistered: a node agent started and announced itself. Its envelope's
// actor is the node (node/<name>), and its causation and correlation ids
// are the id of the agent's run, new each time the agent starts (like a
// Kubernetes node's bootID), so each registration says which run made it.
type NodeRegistered struct {
	Node NodeInfo `json:"node"`
}

func (NodeRegistered) Type() string { return TypeNodeRegistered }

// NodeHeartbeat: a node is alive. It repeats the node's info, so the
// heartbeat stream alone (one message per node) is enough to know every node.
type NodeHeartbeat struct {
	Node NodeInfo `json:"node"`
	Pods int      `json:"pods"`
}

func (NodeHeartbeat) Type() string { return TypeNodeHeartbeat }

// NodeStateDecided: the health service decided whether a node is Ready,
// from how long ago it was last heard from. Only changes are decided: the
// node's newest decision is its state until the next one. Reason and
// Message say why, as a Kubernetes node condition does ("NodeStatusUnknown",
// "node agent stopped posting heartbeats (none for 40s)"); LastHeartbeat is
// the newest heartbeat the service had seen when it decided. Stored on
// NodeStateSubject(node), the decision's fence.
type NodeStateDecided struct {
	Node          string    `json:"node"`
	Ready         bool      `json:"ready"`
	Reason        string    `json:"reason,omitempty"`
	Message       string    `json:"message,omitempty"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	// Taints are the node's taints while in this state, added by the
	// decision (node.kubernetes.io/unreachable NoSchedule and NoExecute
	// while NotReady): a pod tolerating the NoExecute one for
	// tolerationSeconds is evicted that long after the decision.
	Taints []manifest.Taint `json:"taints,omitempty"`
}

func (NodeStateDecided) Type() string { return TypeNodeState }

// Resource names in NodeInfo capacity and pod requests.
const (
	ResourceCPU    = "cpu"    // millicores
	ResourceMemory = "memory" // bytes
	ResourcePods   = "pods"
)
