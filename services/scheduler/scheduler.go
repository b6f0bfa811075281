// Package scheduler decides which node runs which pod. Placement is a
// pipeline: cheap filters first, then scorers; every rejection and score has
// a name, and those names become the reasons carried by PodBound and
// PodUnschedulable.
package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "scheduler"

// Filter is one feasibility check of a pod against a node. It returns "" when
// the node passes and a reason ("Insufficient memory") when it does not.
type Filter interface {
	Name() string
	Filter(p *projections.Pod, n *NodeState) string
}

// Scorer rates a feasible node from 0 to 100.
type Scorer interface {
	Name() string
	Score(p *projections.Pod, n *NodeState) int64
}

// Service binds pending pods to nodes.
type Service struct {
	c       *projections.Cluster
	filters []Filter
	scorers []Scorer
}

// New returns a scheduler with the default pipeline: ready, pod count and
// resource fit; scored by spreading a workload's pods, then by free room.
func New() *Service {
	return &Service{
		c:       projections.NewCluster(),
		filters: []Filter{NodeReady{}, PodCount{}, ResourceFit{}},
		scorers: []Scorer{WorkloadSpread{}, LeastAllocated{}},
	}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions},
		{Stream: events.StreamObservations, Filters: []string{events.SubjectObsPodAll}},
		{Stream: events.StreamHeartbeats},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service: place every pending pod, oldest first,
// against one node index updated as it goes, so a pass never over-commits.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.c.ClearDirty()
	nodes := Index(s.c, now)
	var out []runner.Decision
	for _, p := range s.c.SortedPods() {
		if p.Node != "" || p.Deleting {
			continue
		}
		if d, ok := s.place(p, nodes); ok {
			out = append(out, d)
		}
	}
	return out
}

func (s *Service) place(p *projections.Pod, nodes []*NodeState) (runner.Decision, bool) {
	reasons := map[string]int{}
	var best *NodeState
	var bestScores []events.Score
	var bestTotal int64 = -1
	feasible := 0
	for _, n := range nodes {
		if r := s.filter(p, n); r != "" {
			reasons[r]++
			continue
		}
		feasible++
		scores := make([]events.Score, len(s.scorers))
		var total int64
		for i, sc := range s.scorers {
			v := sc.Score(p, n)
			scores[i] = events.Score{Name: sc.Name(), Score: v}
			total += v
		}
		if total > bestTotal { // ties go to the first node by name
			best, bestScores, bestTotal = n, scores, total
		}
	}
	if best == nil {
		msg := Unschedulable(len(nodes), reasons)
		if msg == p.Unschedulable {
			return runner.Decision{}, false // said already; retried when something changes
		}
		msgID := fmt.Sprintf("unschedulable/%s/%d", p.UID, p.UnschedulableCount+1)
		return runner.Decision{
			Subject: events.PodDecisionSubject(p.Namespace, p.Name),
			Event:   &events.PodUnschedulable{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Message: msg, Reasons: reasons},
			Meta:    p.Cause().Caused(events.DeriveID(msgID), Name, p.Namespace+"/"+p.Name, time.Time{}),
			MsgID:   msgID,
		}, true
	}
	best.Add(p)
	epoch := p.Epoch + 1
	msgID := fmt.Sprintf("bind/%s/%d", p.UID, epoch)
	names := make([]string, len(s.filters))
	for i, f := range s.filters {
		names[i] = f.Name()
	}
	return runner.Decision{
		Subject: events.NodePodSubject(best.Name, p.Namespace, p.Name),
		Event: &events.PodBound{Pod: planned(p), Node: best.Name, Epoch: epoch,
			Filters: names, Scores: bestScores, Feasible: feasible},
		Meta:  p.Cause().Caused(events.DeriveID(msgID), Name, p.Namespace+"/"+p.Name, time.Time{}),
		MsgID: msgID,
		// One binding per pod across every node: the expectation covers
		// gantry.node.*.pod.<ns>.<name>, so a second scheduler racing on the
		// same pod is refused by the log.
		ExpectLastSeq: bus.Expect(p.LastNodeSeq),
		ExpectOn:      events.NodePodFilter(p.Namespace, p.Name),
	}, true
}

func (s *Service) filter(p *projections.Pod, n *NodeState) string {
	for _, f := range s.filters {
		if r := f.Filter(p, n); r != "" {
			return r
		}
	}
	return ""
}

// Unschedulable words a failed placement like Kubernetes does:
// "0/3 nodes are available: 2 Insufficient memory, 1 node(s) were not ready."
func Unschedulable(total int, reasons map[string]int) string {
	if total == 0 {
		return "0/0 nodes are available: no nodes registered."
	}
	keys := make([]string, 0, len(reasons))
	for r := range reasons {
		keys = append(keys, r)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", reasons[k], k)
	}
	return fmt.Sprintf("0/%d nodes are available: %s.", total, strings.Join(parts, ", "))
}

func planned(p *projections.Pod) events.PodPlanned {
	return events.PodPlanned{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Owner: p.Owner,
		TemplateHash: p.TemplateHash, Labels: p.Labels, Annotations: p.Annotations, Spec: p.Spec}
}
