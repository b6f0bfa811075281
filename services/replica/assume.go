package replica

import (
	"slices"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// AssumeFor bounds how long a workload waits for its own decisions to come
// back while the service reads nothing more, before Decide examines it
// again regardless; AssumeAtMost bounds it however much the service reads.
// Either only matters for a decision that cannot come back (outside the
// service's filters, or aged out): one stored earlier shows in the fold
// already. The wait is measured from the last progress, as the runner's
// expectations are: in B1 the replica read its own 46,000 plans back for
// longer than 10 s, and a plain 10 s deadline planned 28,000 of them again
// (all refused as duplicates, at 51 s of publishing).
const (
	AssumeFor    = 10 * time.Second
	AssumeAtMost = time.Minute
)

// The replica's decisions are Assumed (runner.Assumer): the runner stores a
// pass in the background and calls Decide again at once, so intents that
// arrive while a pass is being stored are planned without waiting for it
// (at 500 pods/s a pass took 20 ms to store at the median, 94 ms at the
// 99th percentile). A workload, or a stranded pod, with decisions still on
// their way is left alone, pending, until the fold shows them: then it is
// examined as if the runner had waited, and decides the same. So no pod is
// planned twice, and no decision depends on one not yet read back.

// assumption is a decision of a pass being stored.
type assumption struct {
	msgID    string
	workload string // the workload it is for; "" for a stranded pod
	pod      string // the pod's key, for a decision on a pod
	uid      string
	// object is the kind, namespace and name of the object a decision on a
	// WorkloadSubject is about (a Deployment's ReplicaSet, a DaemonSet's
	// status).
	object [3]string
	// lastSeq, for a decision on an existing pod (deletion, adoption,
	// release) or on an object's subject, is the newest decision on that
	// subject when it was made: any later one is this one or supersedes it.
	lastSeq uint64
	plan    bool
	at      time.Time
	// planned is a plan's pod, charged to its namespace's quotas until the
	// fold shows it (see quotaPass).
	planned *events.PodPlanned
}

// target is what the assumption waits on: a pod key, or "w:" and a
// workload key.
func (a assumption) target() string {
	if a.pod != "" {
		return a.pod
	}
	return "w:" + projections.WorkloadKey(a.object[0], a.object[1], a.object[2])
}

// shown reports whether the fold c shows the assumed decision (or what
// superseded it).
func (a assumption) shown(c *projections.Cluster) bool {
	if a.pod == "" {
		return c.WorkloadDecisionSeq(a.object[0], a.object[1], a.object[2]) != a.lastSeq
	}
	p := c.Pods[a.pod]
	if a.plan {
		return c.Gone(a.uid) || p != nil && p.UID == a.uid
	}
	return p == nil || p.UID != a.uid || p.LastDecisionSeq != a.lastSeq
}

// Assume implements runner.Assumer.
func (s *Service) Assume(ds []runner.Decision) {
	for _, d := range ds {
		if !d.Assumed {
			continue
		}
		a := assumption{msgID: d.MsgID, at: s.now}
		switch e := d.Event.(type) {
		case *events.PodPlanned:
			a.pod, a.uid, a.plan, a.planned = projections.Key(e.Namespace, e.Name), e.UID, true, e
			a.workload = projections.WorkloadKey(e.Owner.Kind, e.Namespace, e.Owner.Name)
		case *events.PodDeleted:
			a.pod, a.uid = projections.Key(e.Namespace, e.Name), e.UID
			p := s.c.Pods[a.pod]
			if p == nil {
				continue
			}
			a.lastSeq = p.LastDecisionSeq
			if !stranded(p) && p.Owner != nil {
				a.workload = projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)
			}
		case *events.PodAdopted:
			a.pod, a.uid = projections.Key(e.Namespace, e.Name), e.UID
			p := s.c.Pods[a.pod]
			if p == nil {
				continue
			}
			a.lastSeq = p.LastDecisionSeq
			a.workload = projections.WorkloadKey(e.Owner.Kind, e.Namespace, e.Owner.Name)
		case *events.PodReleased:
			a.pod, a.uid = projections.Key(e.Namespace, e.Name), e.UID
			p := s.c.Pods[a.pod]
			if p == nil || p.Owner == nil {
				continue
			}
			a.lastSeq = p.LastDecisionSeq
			a.workload = projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)
		case *events.WorkloadDecided:
			// The decider is its owner; for a release (no owner now), the
			// owner the fold still shows.
			a.object = [3]string{e.Kind, e.Namespace, e.Name}
			owner := e.Owner
			if w := s.c.Workloads[projections.WorkloadKey(e.Kind, e.Namespace, e.Name)]; owner == nil && w != nil {
				owner = w.Owner
			}
			if owner == nil {
				continue
			}
			a.workload = projections.WorkloadKey(owner.Kind, e.Namespace, owner.Name)
			a.lastSeq = s.c.WorkloadDecisionSeq(e.Kind, e.Namespace, e.Name)
		case *events.WorkloadDeleted:
			a.object = [3]string{e.Kind, e.Namespace, e.Name}
			w := s.c.Workloads[projections.WorkloadKey(e.Kind, e.Namespace, e.Name)]
			switch {
			case w == nil:
				continue
			case w.Owner == nil:
				// A user's object, deleted by its deleted Namespace's
				// controller: the Namespace waits for it.
				a.workload = projections.WorkloadKey("namespace", events.ClusterScope, e.Namespace)
			default:
				a.workload = projections.WorkloadKey(w.Owner.Kind, e.Namespace, w.Owner.Name)
			}
			a.lastSeq = s.c.WorkloadDecisionSeq(e.Kind, e.Namespace, e.Name)
		case *events.WorkloadStatusDecided:
			a.object = [3]string{e.Kind, e.Namespace, e.Name}
			a.workload = projections.WorkloadKey(e.Kind, e.Namespace, e.Name)
			a.lastSeq = s.c.WorkloadDecisionSeq(e.Kind, e.Namespace, e.Name)
		default:
			continue
		}
		if _, ok := s.assumed[a.msgID]; ok {
			continue
		}
		s.assumed[a.msgID] = a
		s.assumedOn[a.target()] = append(s.assumedOn[a.target()], a.msgID)
		if a.workload != "" {
			s.busyW[a.workload]++
		} else {
			s.busyP[a.pod]++
		}
	}
}

// Forget implements runner.Assumer: a decision the log did not store. Its
// workload (or pod), pending all along, is examined again at the next
// Decide once nothing else of it is on its way.
func (s *Service) Forget(d runner.Decision) { s.release(d.MsgID) }

// release drops an assumption.
func (s *Service) release(msgID string) {
	a, ok := s.assumed[msgID]
	if !ok {
		return
	}
	delete(s.assumed, msgID)
	ids := slices.DeleteFunc(s.assumedOn[a.target()], func(id string) bool { return id == msgID })
	if len(ids) == 0 {
		delete(s.assumedOn, a.target())
	} else {
		s.assumedOn[a.target()] = ids
	}
	count, key := s.busyP, a.pod
	if a.workload != "" {
		count, key = s.busyW, a.workload
	}
	if count[key]--; count[key] <= 0 {
		delete(count, key)
	}
}

// readBack drops the assumptions on the pod or object a record about it now
// shows (decisions on a pod are all on its subject, those on an object on
// its WorkloadSubject).
func (s *Service) readBack(r events.Record) {
	if len(s.assumed) == 0 {
		return
	}
	var target string
	if ns, name, ok := events.PodOfDecisionSubject(r.Subject); ok {
		target = projections.Key(ns, name)
	} else if key, ok := projections.WorkloadOfSubject(r.Subject); ok {
		target = "w:" + key
	} else {
		return
	}
	for _, id := range slices.Clone(s.assumedOn[target]) {
		if s.assumed[id].shown(s.c) {
			s.release(id)
		}
	}
}

// expire drops, at most once a second, the assumptions waited for too long
// (AssumeFor without progress, AssumeAtMost in all).
func (s *Service) expire(now time.Time) {
	if s.applies != s.progress {
		s.progress, s.progressAt = s.applies, now
	}
	if len(s.assumed) == 0 || (now.Sub(s.expired) < time.Second && !now.Before(s.expired)) {
		return
	}
	s.expired = now
	for id, a := range s.assumed {
		waited := now.Sub(a.at)
		if !s.progressAt.Before(a.at) {
			waited = now.Sub(s.progressAt)
		}
		if a.shown(s.c) || waited >= AssumeFor || now.Sub(a.at) >= AssumeAtMost || now.Before(a.at) {
			s.release(id)
		}
	}
}
