// Package health is the service that decides whether each node is Ready: a
// node's state is a decision in the log (events.NodeStateDecided), not a
// clock each reader works out from heartbeat times.
package health

import (
	"container/heap"
	"fmt"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "health"

// DefaultGrace is how long a node may go unheard before it is decided
// NotReady (Kubernetes' node-monitor-grace-period, 40 s there). Node agents
// heartbeat every second (node.DefaultHeartbeat), so 5 s is four or five
// missed beats; with the pods' default toleration of the unreachable taint
// (2 s, replica.DefaultToleration) a lost node's pods are replaced about
// 7 s after its last heartbeat (B3 in BENCHMARKS.md).
const DefaultGrace = 5 * time.Second

// PassBudget bounds the decisions of one pass; the nodes a pass leaves out
// are pending for the next. 5,000 decides for every node of a cluster of
// 5,000 in one pass (the first pass over a log written before the service
// existed, or a network partition).
const PassBudget = 5000

// The reasons of a decision, as a Kubernetes node condition's.
const (
	ReasonReady   = "NodeAgentReady"
	ReasonUnknown = "NodeStatusUnknown"
)

// UnreachableTaints are what a NotReady decision puts on its node, as
// Kubernetes' node lifecycle controller does: no new pods (NoSchedule), and
// the pods there evicted once their toleration of it runs out (NoExecute:
// the replica service's eviction).
var UnreachableTaints = []manifest.Taint{
	{Key: manifest.TaintNodeUnreachable, Effect: manifest.TaintNoSchedule},
	{Key: manifest.TaintNodeUnreachable, Effect: manifest.TaintNoExecute},
}

// Service decides each node's state from how long ago it was last heard
// from (a heartbeat, or its registration):
//
//   - Ready when heard from within Grace of the pass's now, NotReady
//     otherwise (Reason NodeStatusUnknown, "node agent stopped posting
//     heartbeats (none for 5s)", as Kubernetes' "Kubelet stopped posting
//     node status.").
//   - Only changes are decided: a node is decided when it has no decision
//     yet or when its state differs from its newest decision. With Grace
//     5 s, a node beating every second is decided Ready once; if it falls
//     silent after its heartbeat at 12:00:00, the first pass at or after
//     12:00:05 decides NotReady once; its next heartbeat decides Ready.
//   - Each decision expects the last sequence on the node's state subject
//     (events.NodeStateSubject), and its message id is derived from (node,
//     that sequence, ready): a restarted service that replays decides the
//     same decision, which the log refuses as a duplicate, and a replay
//     that finds every state as decided decides nothing.
//   - A pass examines only the nodes due (decided Ready and unheard for
//     Grace: a min-heap of deadlines, so 5,000 nodes cost nothing between
//     deadlines) and the pending ones (not Ready, or undecided, and heard
//     from since; or decided and not yet read back), at most PassBudget
//     decisions.
//   - After a start, a node decided Ready counts as heard from at the first
//     pass, as Kubernetes' node lifecycle controller does when it starts:
//     heartbeats live in memory, so a control plane down for longer than
//     Grace would otherwise decide every node NotReady before their
//     heartbeats come back. A node that died meanwhile is decided NotReady
//     Grace after the start.
type Service struct {
	// Grace is how long a node may go unheard before it is NotReady
	// (default DefaultGrace).
	Grace time.Duration
	// Budget bounds the decisions of a pass (default PassBudget).
	Budget int

	nodes   map[string]*node
	due     deadlines        // nodes decided Ready, by deadline
	pending map[string]*node // nodes to examine at the next pass
	started time.Time        // the first pass's now
	newest  time.Time        // the newest heartbeat or registration of any node
}

// node is what the service knows of one node.
type node struct {
	name      string
	heardAt   time.Time // newest heartbeat or registration
	causeID   string    // the envelope id of the newest heartbeat or registration
	decided   bool      // a decision exists
	ready     bool      // the newest decision's state
	lastSeq   uint64    // the last sequence on its state subject
	deadline  time.Time // while in due: when it is NotReady unless heard from
	heapIndex int       // position in due, -1 when not in it
}

// New returns a health service with the defaults.
func New() *Service {
	return &Service{Grace: DefaultGrace, Budget: PassBudget, nodes: map[string]*node{}, pending: map[string]*node{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: heartbeats, registrations and its own
// decisions.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamHeartbeats},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsNodeAll}},
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectNodeStateAll}},
	}
}

func (s *Service) node(name string) *node {
	n := s.nodes[name]
	if n == nil {
		n = &node{name: name, heapIndex: -1}
		s.nodes[name] = n
	}
	return n
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) {
	switch e := r.Event.(type) {
	case *events.NodeHeartbeat:
		s.heard(s.node(e.Node.Name), r.Envelope.Time, r.Envelope.ID)
	case *events.NodeRegistered:
		s.heard(s.node(e.Node.Name), r.Envelope.Time, r.Envelope.ID)
	case *events.NodeStateDecided:
		n := s.node(e.Node)
		n.decided, n.ready, n.lastSeq = true, e.Ready, r.Seq
		if e.LastHeartbeat.After(n.heardAt) {
			n.heardAt = e.LastHeartbeat // the heartbeats are gone after a restart of the log
		}
		s.schedule(n)
		s.pending[n.name] = n // heard from while the decision was being stored?
	}
}

// heard notes a node heard from at at.
func (s *Service) heard(n *node, at time.Time, id string) {
	if !at.After(n.heardAt) {
		return
	}
	n.heardAt, n.causeID = at, id
	if at.After(s.newest) {
		s.newest = at
	}
	if n.decided && n.ready {
		s.schedule(n) // only its deadline moves
		return
	}
	s.pending[n.name] = n
}

// lastHeard is when the service counts n as last heard from: after a start,
// a node decided Ready counts as heard at the first pass.
func (s *Service) lastHeard(n *node) time.Time {
	if n.decided && n.ready && s.started.After(n.heardAt) {
		return s.started
	}
	return n.heardAt
}

// schedule keeps n in due, at its deadline, while it is decided Ready.
func (s *Service) schedule(n *node) {
	if !n.decided || !n.ready {
		if n.heapIndex >= 0 {
			heap.Remove(&s.due, n.heapIndex)
		}
		return
	}
	n.deadline = s.lastHeard(n).Add(s.Grace)
	if n.heapIndex >= 0 {
		heap.Fix(&s.due, n.heapIndex)
	} else {
		heap.Push(&s.due, n)
	}
}

// Decide implements runner.Service.
func (s *Service) Decide(now time.Time) []runner.Decision {
	if s.started.IsZero() {
		s.started = now
	}
	for len(s.due) > 0 && !s.due[0].deadline.After(now) {
		n := heap.Pop(&s.due).(*node)
		s.pending[n.name] = n
	}
	if len(s.pending) == 0 {
		return nil
	}
	clock := s.clock(now)
	names := make([]string, 0, len(s.pending))
	for name := range s.pending {
		names = append(names, name)
	}
	sort.Strings(names)
	budget := s.Budget
	if budget <= 0 {
		budget = PassBudget
	}
	var out []runner.Decision
	for _, name := range names {
		n := s.pending[name]
		ready := !n.heardAt.IsZero() && clock.Sub(s.lastHeard(n)) < s.Grace
		if n.decided && n.ready == ready {
			delete(s.pending, name) // as decided: nothing to say
			s.schedule(n)
			if n.ready && !n.deadline.After(now) {
				// Due by the wall clock, not by the log's: look again
				// when it would be due by the log's, or sooner, as the
				// log's clock jumps when the service catches up.
				n.deadline = now.Add(min(s.Grace-clock.Sub(s.lastHeard(n)), LogSlack/4))
				heap.Fix(&s.due, n.heapIndex)
			}
			continue
		}
		if len(out) == budget {
			continue // pending for the next pass
		}
		// It stays pending until its decision is read back (Apply), so a
		// decision the log did not store is decided again.
		out = append(out, s.decision(n, ready))
	}
	return out
}

// NextWake implements runner.Waker: the earliest deadline of a node decided
// Ready.
func (s *Service) NextWake() time.Time {
	if len(s.due) == 0 {
		return time.Time{}
	}
	return s.due[0].deadline
}

// LogSlack is how far past the newest heartbeat the service has read it
// counts silence, while it hears from some node: about one heartbeat.
const LogSlack = time.Second

// clock is the time silence is measured at: now, unless the service is
// behind the log (the newest heartbeat it has read from any node is older
// than now by more than LogSlack, yet younger than Grace), when it is that
// heartbeat's time plus LogSlack. A service that reads heartbeats late, or
// agents that all beat late (one starved process running thousands of
// simulated nodes), then decide no node NotReady, while a node silent
// among others that beat is still decided NotReady on time. When no node
// at all was heard from for Grace (every node lost, or a one-node
// cluster's node), silence is measured by now.
func (s *Service) clock(now time.Time) time.Time {
	if s.newest.IsZero() || now.Sub(s.newest) >= s.Grace {
		return now
	}
	if log := s.newest.Add(LogSlack); log.Before(now) {
		return log
	}
	return now
}

// decision is n's new state.
func (s *Service) decision(n *node, ready bool) runner.Decision {
	e := &events.NodeStateDecided{Node: n.name, Ready: ready, Reason: ReasonReady,
		Message: "node agent is posting heartbeats", LastHeartbeat: n.heardAt}
	if !ready {
		e.Reason = ReasonUnknown
		e.Message = fmt.Sprintf("node agent stopped posting heartbeats (none for %s)", s.Grace)
		e.Taints = UnreachableTaints
	}
	msgID := fmt.Sprintf("nodestate/%s/%d/%t", n.name, n.lastSeq, ready)
	return runner.Decision{
		Subject: events.NodeStateSubject(n.name),
		Event:   e,
		Meta: events.Meta{ID: events.DeriveID(msgID), Source: Name, Subject: events.ClusterScope + "/" + n.name,
			Actor: Name, CausationID: n.causeID},
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(n.lastSeq),
	}
}

// deadlines is a min-heap of nodes by deadline (container/heap).
type deadlines []*node

func (d deadlines) Len() int { return len(d) }
func (d deadlines) Less(i, j int) bool {
	if !d[i].deadline.Equal(d[j].deadline) {
		return d[i].deadline.Before(d[j].deadline)
	}
	return d[i].name < d[j].name
}
func (d deadlines) Swap(i, j int) {
	d[i], d[j] = d[j], d[i]
	d[i].heapIndex, d[j].heapIndex = i, j
}
func (d *deadlines) Push(x any) {
	n := x.(*node)
	n.heapIndex = len(*d)
	*d = append(*d, n)
}
func (d *deadlines) Pop() any {
	old := *d
	n := old[len(old)-1]
	old[len(old)-1] = nil
	n.heapIndex = -1
	*d = old[:len(old)-1]
	return n
}
