package scheduler

import (
	"fmt"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/services/runner"
)

// Preemption. A pending pod of priority P that fits no node may evict pods
// of strictly lower priority from one node:
//
//  1. Candidate nodes are those the pod failed on only for reasons that
//     removing pods can cure (PodCount, ResourceFit, HostPorts,
//     PodAntiAffinity, TopologySpread); a node it fails for being not ready,
//     cordoned, tainted, unmatched by its selectors or its placement rule is
//     not one.
//  2. On each candidate, take off every pod of priority < P that is not
//     already deleting, and every deleting pod (they are on their way out
//     and are not victims). If the pod still does not pass every filter, the
//     node is out. Otherwise put the pods back one at a time, the most
//     important first (highest priority, then pods with requests before
//     best-effort ones, then oldest), keeping each one that still leaves the
//     pod passing: the pods left off are the victims, a set none of which
//     can be spared. Pods of priority >= P are never victims.
//  3. Pick the node with the fewest victims, then the lowest highest victim
//     priority, then the first by name.
//
// The victims keep their room until their node has removed them (the fold
// keeps deleting pods counted), so the pod cannot bind in the same batch:
// binding onto room that is still occupied would over-commit the node. Like
// Kubernetes (nominatedNodeName), the batch holds the victims' PodDeleted
// (reason "preempted", PreemptedBy the pod, each expecting the victim's last
// node sequence) and the pod's PodUnschedulable "preempting N pod(s) on node
// X", all under one Atomic key preempt/<pod-uid>/<epoch>: stored together or
// not at all. Until it binds, the pod holds that room against pods of its
// priority or lower, and it does not preempt again while its victims are
// stopping. When a victim's removal is applied, the pod is examined again
// and binds like any other pod, usually on that node.

// resolvable reports a filter whose refusal removing pods can cure.
func resolvable(f Filter) bool {
	switch f.(type) {
	case PodCount, ResourceFit, HostPorts, PodAntiAffinity, TopologySpread:
		return true
	}
	return false
}

// preempt picks the node and the victims, or returns nil.
func (cy *cycle) preempt(pi *PodInfo) (*NodeState, []*PodInfo) {
	s := cy.s
	if !s.anyBelow(pi.priority) {
		return nil, nil
	}
	var best *NodeState
	var bestTop int32
	cy.bestVictims = cy.bestVictims[:0]
	for j, n := range s.order {
		fi := cy.failed[j]
		if fi < 0 || !resolvable(cy.filters[fi]) {
			continue
		}
		victims := cy.victimsOn(pi, n)
		if len(victims) == 0 {
			continue
		}
		top := victims[0].priority
		for _, v := range victims[1:] {
			top = max(top, v.priority)
		}
		if best == nil || len(victims) < len(cy.bestVictims) || (len(victims) == len(cy.bestVictims) && top < bestTop) {
			best, bestTop = n, top
			cy.bestVictims = append(cy.bestVictims[:0], victims...)
		}
	}
	if best == nil {
		return nil, nil
	}
	// The victims, in a stable order: by name.
	sort.Slice(cy.bestVictims, func(i, j int) bool { return cy.bestVictims[i].key < cy.bestVictims[j].key })
	return best, cy.bestVictims
}

func (s *Service) anyBelow(p int32) bool {
	for q := range s.priorities {
		if q < p {
			return true
		}
	}
	return false
}

// victimsOn is the smallest set of lower-priority pods on n, found as the
// package comment says, whose removal lets pi pass every filter; nil when
// no such set exists. The node is left as it was.
func (cy *cycle) victimsOn(pi *PodInfo, n *NodeState) []*PodInfo {
	cands, leaving := cy.cands[:0], cy.leaving[:0]
	for _, q := range n.bound {
		switch {
		case q.deleting:
			leaving = append(leaving, q)
		case q.priority < pi.priority && q.pod.Node != "":
			cands = append(cands, q)
		}
	}
	cy.cands, cy.leaving = cands, leaving
	if len(cands) == 0 {
		return nil
	}
	// Least important first: lowest priority, best-effort, newest.
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		if a.bestEffort != b.bestEffort {
			return a.bestEffort
		}
		if a.seq != b.seq {
			return a.seq > b.seq
		}
		return a.key < b.key
	})
	for _, q := range leaving {
		cy.takeOff(pi, n, q)
	}
	defer func() {
		for _, q := range leaving {
			cy.putBack(pi, n, q)
		}
	}()
	for _, q := range cands {
		cy.takeOff(pi, n, q)
	}
	if fi, _ := cy.filter(pi, n); fi >= 0 {
		for _, q := range cands {
			cy.putBack(pi, n, q)
		}
		return nil
	}
	// Reprieve the most important first.
	victims := cy.victims[:0]
	for i := len(cands) - 1; i >= 0; i-- {
		q := cands[i]
		cy.putBack(pi, n, q)
		if fi, _ := cy.filter(pi, n); fi >= 0 {
			cy.takeOff(pi, n, q)
			victims = append(victims, q)
		}
	}
	for _, q := range victims {
		cy.putBack(pi, n, q)
	}
	cy.victims = victims
	return victims
}

// takeOff removes q from n as far as pi's filters can tell.
func (cy *cycle) takeOff(pi *PodInfo, n *NodeState, q *PodInfo) {
	n.remove(q)
	pi.adjust(n, q, -1)
}

func (cy *cycle) putBack(pi *PodInfo, n *NodeState, q *PodInfo) {
	n.add(q)
	pi.adjust(n, q, 1)
}

// eviction is the PodDeleted that stops victim v so that pi can run.
func eviction(pi, v *PodInfo, atomic string) runner.Decision {
	vp := v.pod
	msgID := fmt.Sprintf("delete/%s/%d", vp.UID, vp.Epoch)
	return runner.Decision{
		Subject: events.PodDecisionSubject(vp.Namespace, vp.Name),
		Event: &events.PodDeleted{Namespace: vp.Namespace, Name: vp.Name, UID: vp.UID, Node: vp.Node,
			Epoch: vp.Epoch, Reason: ReasonPreempted, PreemptedBy: pi.key},
		Meta:          pi.pod.Cause().Caused(events.DeriveID(msgID), Name, vp.Namespace+"/"+vp.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(vp.LastDecisionSeq),
		CopyTo:        []string{events.NodePodSubject(vp.Node, vp.Namespace, vp.Name)},
		Atomic:        atomic,
	}
}

// ReasonPreempted is the PodDeleted reason of an eviction.
const ReasonPreempted = "preempted"
