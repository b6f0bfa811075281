package replica

import (
	"fmt"
	"sort"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/poddecision"
	"github.com/gantry-sh/gantry/services/runner"
)

// DefaultToleration is how long a pod that says nothing of it tolerates its
// node's node.kubernetes.io/unreachable NoExecute taint (Kubernetes'
// DefaultTolerationSeconds admission gives 300 s): with the health
// service's 5 s grace, a lost node's pods are replaced about 7 s after its
// last heartbeat, when their agent has fenced itself (5 s + a 1 s margin).
const DefaultToleration = 2 * time.Second

// FenceMargin is how long after a node's agent promised to have stopped its
// pods (its last heartbeat plus its FenceAfterMillis) the control plane
// still waits before it finishes their deletion: the time to stop them.
const FenceMargin = time.Second

// ReasonNodeLost is the reason of a deletion the control plane finished for
// a node it knows lost: an eviction by the node's NoExecute taint, or a
// deletion its node could not confirm.
const ReasonNodeLost = "NodeLost"

// Eviction, as Kubernetes' taint manager does it, with the deletion
// finished by the control plane (no pod stuck in Terminating):
//
//   - A node the health service decided NotReady carries the
//     node.kubernetes.io/unreachable NoExecute taint from that decision's
//     time (Since). A pod on it that tolerates the taint without
//     tolerationSeconds stays (a DaemonSet's); otherwise it is evicted at
//     Since plus its smallest matching tolerationSeconds, or plus
//     DefaultToleration when none matches.
//   - Never before the node's agent has fenced itself: its last heartbeat
//     plus its FenceAfterMillis plus FenceMargin. An agent that announces
//     no fencing is evicted by the toleration alone, as in Kubernetes.
//   - A pod already being deleted on the lost node is finished at that
//     fence time (or at Since when the node does not fence).
//   - The eviction is a PodDeleted with Force (the read models forget the
//     pod; the pod's controller replaces it at once), copied to the node's
//     subject so a returning agent stops the pod if it has not already.
//
// Worked example: n1's last heartbeat at 12:00:00, FenceAfterMillis 5000;
// decided NotReady at 12:00:05. Its pod a (no toleration) is evicted at
// max(12:00:05 + 2 s, 12:00:00 + 5 s + 1 s) = 12:00:07; its pod b
// (tolerationSeconds: 0) at 12:00:06; its DaemonSet pod never.
//
// Work: lost maps each lost node to when it is next due; a pass looks only
// at the nodes due and at most PassBudget of their pods.

// noteNode keeps lost up to date for a node that changed (index).
func (s *Service) noteNode(name string) {
	if evicting(s.c.Nodes[name]) {
		s.lost[name] = time.Time{} // due at once: the pass works out when
		return
	}
	delete(s.lost, name)
}

// noteLostPod looks again at a lost node one of whose pods changed (index).
func (s *Service) noteLostPod(p *projections.Pod) {
	if p == nil || p.Node == "" {
		return
	}
	if _, ok := s.lost[p.Node]; ok || evicting(s.c.Nodes[p.Node]) {
		s.lost[p.Node] = time.Time{}
	}
}

// evicting reports a node whose state carries a NoExecute taint.
func evicting(n *projections.Node) bool {
	if n == nil || n.State == nil || n.State.Ready {
		return false
	}
	for _, t := range n.State.Taints {
		if t.Effect == manifest.TaintNoExecute {
			return true
		}
	}
	return false
}

// NextWake implements runner.Waker: when the next eviction is due.
func (s *Service) NextWake() time.Time { return s.nextEviction }

// evictions decides the evictions due at now, at most budget of them.
func (s *Service) evictions(now time.Time, budget int) []runner.Decision {
	defer func() {
		s.nextEviction = time.Time{}
		for _, due := range s.lost {
			if s.nextEviction.IsZero() || due.Before(s.nextEviction) {
				s.nextEviction = due
			}
		}
	}()
	names := make([]string, 0)
	for name, due := range s.lost {
		if !due.After(now) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []runner.Decision
	for _, name := range names {
		n := s.c.Nodes[name]
		if !evicting(n) {
			delete(s.lost, name)
			continue
		}
		var next time.Time // the earliest eviction still to come
		decided := len(out)
		for _, key := range s.c.PodKeysOn(name) {
			p := s.c.Pods[key]
			if p == nil || p.Node != name {
				continue
			}
			if s.busyP[key] > 0 {
				decided = -1 // a decision on its way: look again, in case the log does not store it
				continue
			}
			at, ok := s.evictAt(p, n)
			switch {
			case !ok:
			case at.After(now):
				if next.IsZero() || at.Before(next) {
					next = at
				}
			case len(out) >= budget:
				next = now // the rest next pass
			default:
				out = append(out, s.eviction(p, n, at))
			}
		}
		if len(out) > decided && (next.IsZero() || next.After(now.Add(time.Second))) {
			next = now.Add(time.Second) // to decide again what the log did not store
		}
		if next.IsZero() {
			delete(s.lost, name) // nothing left to evict until something changes
			continue
		}
		s.lost[name] = next
	}
	return out
}

// evictAt is when p, on the lost node n, is evicted; false: never (it
// tolerates the taint forever, or has ended).
func (s *Service) evictAt(p *projections.Pod, n *projections.Node) (time.Time, bool) {
	fenced := n.State.Since
	if ms := n.Info.FenceAfterMillis; ms > 0 {
		fenced = later(fenced, n.State.LastHeartbeat.Add(time.Duration(ms)*time.Millisecond+FenceMargin))
	}
	if p.Deleting {
		return fenced, true
	}
	if p.Terminal() {
		return time.Time{}, false
	}
	tol, ok := s.toleration(p.Spec, n.State.Taints)
	if !ok {
		return time.Time{}, false
	}
	return later(n.State.Since.Add(tol), fenced), true
}

// toleration is how long a pod with spec tolerates the NoExecute taints;
// false: forever.
func (s *Service) toleration(spec manifest.PodSpec, taints []manifest.Taint) (time.Duration, bool) {
	least, forever := time.Duration(-1), false
	for _, t := range taints {
		if t.Effect != manifest.TaintNoExecute {
			continue
		}
		matched := false
		for _, tol := range spec.Tolerations {
			if !tol.Tolerates(t) {
				continue
			}
			matched = true
			if tol.TolerationSeconds == nil {
				forever = true
				continue
			}
			d := time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second
			if least < 0 || d < least {
				least = d
			}
		}
		if !matched {
			d := s.DefaultToleration
			if least < 0 || d < least {
				least = d
			}
		}
	}
	if least < 0 {
		return 0, !forever
	}
	return least, true
}

// eviction finishes p's deletion without its node.
func (s *Service) eviction(p *projections.Pod, n *projections.Node, at time.Time) runner.Decision {
	d := poddecision.Delete(p, ReasonNodeLost, p.Cause(), Name)
	e := d.Event.(*events.PodDeleted)
	e.Force = true
	what := "evicted: its toleration of " + manifest.TaintNodeUnreachable + " ran out"
	if p.Deleting {
		what = "deletion finished without the node"
	}
	e.Message = fmt.Sprintf("node %s is NotReady since %s (%s); %s at %s",
		n.Info.Name, n.State.Since.UTC().Format(time.RFC3339), n.State.Message, what, at.UTC().Format(time.RFC3339))
	if ms := n.Info.FenceAfterMillis; ms > 0 {
		e.Message += fmt.Sprintf(", after its agent stopped its pods (it does when unheard for %s)", time.Duration(ms)*time.Millisecond)
	}
	d.MsgID = fmt.Sprintf("evict/%s/%d", p.UID, p.Epoch)
	d.Meta.ID = events.DeriveID(d.MsgID)
	return d
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
