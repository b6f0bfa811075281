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
	pod      string // the pod's key
	uid      string
	// lastSeq, for a deletion, is the pod's newest decision when it was
	// made: any later one on the pod's subject is this one or supersedes it.
	lastSeq  uint64
	deletion bool
	at       time.Time
}

// shown reports whether the fold c shows the assumed decision (or what
// superseded it).
func (a assumption) shown(c *projections.Cluster) bool {
	p := c.Pods[a.pod]
	if !a.deletion {
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
			a.pod, a.uid = projections.Key(e.Namespace, e.Name), e.UID
			a.workload = projections.WorkloadKey(e.Owner.Kind, e.Namespace, e.Owner.Name)
		case *events.PodDeleted:
			a.pod, a.uid, a.deletion = projections.Key(e.Namespace, e.Name), e.UID, true
			p := s.c.Pods[a.pod]
			if p == nil {
				continue
			}
			a.lastSeq = p.LastDecisionSeq
			if !stranded(p) && p.Owner != nil {
				a.workload = projections.WorkloadKey(p.Owner.Kind, p.Namespace, p.Owner.Name)
			}
		default:
			continue
		}
		if _, ok := s.assumed[a.msgID]; ok {
			continue
		}
		s.assumed[a.msgID] = a
		s.assumedOn[a.pod] = append(s.assumedOn[a.pod], a.msgID)
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
	ids := slices.DeleteFunc(s.assumedOn[a.pod], func(id string) bool { return id == msgID })
	if len(ids) == 0 {
		delete(s.assumedOn, a.pod)
	} else {
		s.assumedOn[a.pod] = ids
	}
	count, key := s.busyP, a.pod
	if a.workload != "" {
		count, key = s.busyW, a.workload
	}
	if count[key]--; count[key] <= 0 {
		delete(count, key)
	}
}

// readBack drops the assumptions on the pod a record about it now shows
// (decisions on a pod are all on its subject).
func (s *Service) readBack(r events.Record) {
	if len(s.assumed) == 0 {
		return
	}
	ns, name, ok := events.PodOfDecisionSubject(r.Subject)
	if !ok {
		return
	}
	for _, id := range slices.Clone(s.assumedOn[projections.Key(ns, name)]) {
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
