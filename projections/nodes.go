package projections

import (
	"slices"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// NodeLostAfter is how long a node may go without a heartbeat before it is
// not ready.
const NodeLostAfter = 40 * time.Second

// Node is a node as its heartbeats describe it.
type Node struct {
	Info events.NodeInfo `json:"info"`
	// Unschedulable: cordoned (gantry node cordon); no new pods land here.
	Unschedulable bool `json:"unschedulable,omitempty"`
	// RegisteredAt is when the node was created (its first registration),
	// kept across restarts: it is the node's AGE.
	RegisteredAt  time.Time `json:"registeredAt"`
	LastHeartbeat time.Time `json:"lastHeartbeat"`
	// State is the health service's newest decision on whether the node is
	// Ready; nil while none exists.
	State *NodeState `json:"state,omitempty"`
	Seqs  Seqs       `json:"seqs"`
}

// NodeState is a node's state as the health service decided it.
type NodeState struct {
	Ready   bool   `json:"ready"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Since is when it was decided: the condition's last transition, and
	// when its Taints were added.
	Since time.Time `json:"since"`
	// LastHeartbeat is the newest heartbeat the decision had seen.
	LastHeartbeat time.Time        `json:"lastHeartbeat"`
	Taints        []manifest.Taint `json:"taints,omitempty"`
}

// Taints are the node's own taints and those its state adds.
func (n *Node) Taints() []manifest.Taint {
	if n.State == nil || len(n.State.Taints) == 0 {
		return n.Info.Taints
	}
	return append(slices.Clip(n.Info.Taints), n.State.Taints...)
}

// created notes when the node was created: the creation time its report
// carries, or, from agents older than that field, the report's time. The
// earliest wins, whatever order the streams interleave in, so a node
// re-registering after a restart of its agent or of the control plane keeps
// its creation time (and its AGE).
func (n *Node) created(info events.NodeInfo, at time.Time) {
	if info.CreatedAt != nil {
		at = *info.CreatedAt
	}
	if n.RegisteredAt.IsZero() || at.Before(n.RegisteredAt) {
		n.RegisteredAt = at.UTC()
	}
}

// Ready reports whether the node is Ready: the health service's newest
// decision. Before any decision exists (a log written before the service,
// or a cluster run without it: gantry serve --services without health), it
// falls back to the heartbeat clock: heard from within NodeLostAfter of now.
func (n *Node) Ready(now time.Time) bool {
	if n.State != nil {
		return n.State.Ready
	}
	return now.Sub(n.LastHeartbeat) < NodeLostAfter
}

func (c *Cluster) node(name string) *Node {
	n := c.Nodes[name]
	if n == nil {
		// A cordon can come before the node's first heartbeat.
		n = &Node{Info: events.NodeInfo{Name: name}, Seqs: Seqs{}}
		c.Nodes[name] = n
	}
	return n
}

func (c *Cluster) touchNode(n *Node, r events.Record) {
	n.Seqs[r.Stream] = r.Seq
	mark(c.Dirty.Nodes, n.Info.Name, r)
}

// applyNode folds a node's registration, heartbeat, cordon or state.
func (c *Cluster) applyNode(r events.Record, e events.Event) {
	at := r.Envelope.Time
	switch e := e.(type) {
	case *events.NodeRegistered:
		n := c.node(e.Node.Name)
		n.Info = e.Node
		n.created(e.Node, at)
		c.touchNode(n, r)
	case *events.NodeCordoned:
		n := c.node(e.Node)
		n.Unschedulable = e.Unschedulable
		c.touchNode(n, r)
	case *events.NodeStateDecided:
		n := c.node(e.Node)
		n.State = &NodeState{Ready: e.Ready, Reason: e.Reason, Message: e.Message, Since: at.UTC(),
			LastHeartbeat: e.LastHeartbeat, Taints: e.Taints}
		c.touchNode(n, r)
		for key := range c.nodePods[e.Node] {
			if p := c.Pods[key]; p != nil {
				p.NodeNotReadySince = nil
				if !e.Ready {
					since := n.State.Since
					p.NodeNotReadySince = &since
				}
				c.touchPod(p, r)
			}
		}
	case *events.NodeHeartbeat:
		n := c.node(e.Node.Name)
		n.Info = e.Node
		n.created(e.Node, at)
		if at.After(n.LastHeartbeat) {
			n.LastHeartbeat = at
		}
		c.touchNode(n, r)
	}
}
