package replica

import (
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// AssumeFor bounds how long a workload waits for its own decisions to come
// back before Decide examines it again regardless (a decision the log
// stored earlier and that was read back before it was made again: nothing
// new will come back for it).
const AssumeFor = 10 * time.Second

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
		s.assumed[a.msgID] = a
	}
}

// Forget implements runner.Assumer: a decision the log did not store. Its
// workload (or pod), pending all along, is examined again at the next
// Decide once nothing else of it is on its way.
func (s *Service) Forget(d runner.Decision) { delete(s.assumed, d.MsgID) }

// busy drops the assumptions the fold now shows, or that are older than
// AssumeFor, and returns the workloads and pods still waiting for theirs.
func (s *Service) busy(now time.Time) (workloads, pods map[string]bool) {
	if len(s.assumed) == 0 {
		return nil, nil
	}
	workloads, pods = map[string]bool{}, map[string]bool{}
	for id, a := range s.assumed {
		if a.shown(s.c) || now.Sub(a.at) >= AssumeFor || now.Before(a.at) {
			delete(s.assumed, id)
			continue
		}
		if a.workload != "" {
			workloads[a.workload] = true
		} else {
			pods[a.pod] = true
		}
	}
	return workloads, pods
}
