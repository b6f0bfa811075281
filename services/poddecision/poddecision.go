// Package poddecision builds the decisions every controller makes about a
// pod it owns (delete it, let it go), so that the replica and job services
// make them the same way: on the pod's own subject, expecting its newest
// decision, with message ids derived from the pod. It is not a service.
package poddecision

import (
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Delete stops a pod: on the pod's subject, expecting its newest decision
// (so it cannot cross a binding it has not seen), copied to its node when
// it is bound there. source is the deciding service's name.
func Delete(p *projections.Pod, reason string, cause events.Envelope, source string) runner.Decision {
	msgID := fmt.Sprintf("delete/%s/%d", p.UID, p.Epoch)
	d := runner.Decision{
		Subject:       events.PodDecisionSubject(p.Namespace, p.Name),
		Event:         &events.PodDeleted{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Node: p.Node, Epoch: p.Epoch, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), source, p.Namespace+"/"+p.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(p.LastDecisionSeq),
	}
	if p.Node != "" {
		d.CopyTo = []string{events.NodePodSubject(p.Node, p.Namespace, p.Name)}
	}
	return d
}

// Release lets a pod of the workload w go (its owner deleted with
// propagation Orphan, or its labels no longer match): it keeps running
// with no controller.
func Release(p *projections.Pod, w *projections.Workload, reason string, cause events.Envelope, source string) runner.Decision {
	msgID := fmt.Sprintf("release/%s/%s/%d", p.UID, w.UID, p.LastDecisionSeq)
	return runner.Decision{
		Subject:       events.PodDecisionSubject(p.Namespace, p.Name),
		Event:         &events.PodReleased{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Owner: w.UID, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), source, p.Namespace+"/"+p.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(p.LastDecisionSeq),
	}
}
