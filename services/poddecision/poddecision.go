// Package poddecision builds what every controller decides about the pods
// it owns (their names and uids; deleting one, letting one go), so that
// the replica and job services make them the same way: on the pod's own
// subject, expecting its newest decision, with names, uids and message ids
// derived from the pod's owner and ordinal. It is not a service.
package poddecision

import (
	"crypto/sha256"
	"encoding/binary"
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

// UID is the uid of the n-th pod a workload incarnation ever planned:
// derived from (workload uid, n), so deciding again after a crash gives the
// same pod and the log drops the copy.
func UID(workloadUID string, n int64) string {
	return events.DeriveID(fmt.Sprintf("pod/%s/%d", workloadUID, n))
}

// Name is <base>-<5 characters>, the characters drawn from (uid, n) as
// Kubernetes draws a generated name's (no vowels, no look-alikes), base cut
// so the name is a DNS-1123 label of at most 63.
func Name(base, uid string, n int64) string {
	sum := sha256.New()
	sum.Write([]byte(uid))
	_ = binary.Write(sum, binary.BigEndian, n)
	return WithSuffix(base, sum.Sum(nil))
}

// WithSuffix is base, cut to 57 characters, then '-' and 5 characters
// drawn from b (at least 5 bytes).
func WithSuffix(base string, b []byte) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	suffix := make([]byte, 5)
	for i := range suffix {
		suffix[i] = alphabet[int(b[i])%len(alphabet)]
	}
	if max := 63 - 6; len(base) > max {
		base = base[:max]
	}
	return base + "-" + string(suffix)
}

// Cascade is what a deleted workload w decides for the pods it owns: each
// deleted, or released when w was deleted with propagation Orphan; at most
// limit decisions, pods already being deleted left alone.
func Cascade(w *projections.Workload, owned []*projections.Pod, cause events.Envelope, source string, limit int) []runner.Decision {
	var out []runner.Decision
	for _, p := range owned {
		switch {
		case len(out) >= limit:
			return out
		case p.Deleting:
		case w.Orphan:
			out = append(out, Release(p, w, w.Kind+" deleted with propagation Orphan", cause, source))
		default:
			out = append(out, Delete(p, w.Kind+" deleted", cause, source))
		}
	}
	return out
}

// DeleteObject deletes an object a controller owns (a Deployment's
// ReplicaSet), on the object's subject, expecting its newest decision. The
// message id is derived from its uid, so two services deciding it (the
// rollout service for a deleted Deployment, the replica service for a
// ReplicaSet whose owner is gone) store it once.
func DeleteObject(w *projections.Workload, reason string, cause events.Envelope, source string) runner.Decision {
	msgID := w.Kind + "-deleted/" + w.UID
	return runner.Decision{
		Subject:       events.WorkloadSubject(w.Namespace, w.Kind, w.Name),
		Event:         &events.WorkloadDeleted{Kind: w.Kind, Namespace: w.Namespace, Name: w.Name, UID: w.UID, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), source, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(w.LastDecisionSeq),
	}
}
