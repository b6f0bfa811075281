package admission

import (
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/runner"
)

// cordon judges `gantry node cordon|uncordon`: a valid node name is
// accepted as a NodeCordoned fact on the node's decision subject. Cordoning
// a node that has not registered yet is allowed (it takes effect when it
// does), as a node may be cordoned ahead of maintenance.
func (s *Service) cordon(p pendingIntent, e *events.IntentCordon, o *object) runner.Decision {
	msgID := VerdictMsgID(p.seq, p.env.ID)
	meta := p.env.Caused(events.DeriveID(msgID), Name, e.Node, time.Time{})
	if fe := manifest.ValidateName("node", e.Node); fe != nil {
		return runner.Decision{
			Subject: events.AdmissionSubject(events.ClusterScope, "node", safeToken(e.Node)),
			Event: &events.AdmissionRejected{IntentSeq: p.seq, IntentID: p.env.ID, Op: "cordon", Kind: "node",
				Namespace: events.ClusterScope, Name: e.Node, Reasons: []string{fe.Error()}},
			Meta: meta, MsgID: msgID,
		}
	}
	return runner.Decision{
		Subject:       events.NodeDecisionSubject(e.Node),
		Event:         &events.NodeCordoned{Node: e.Node, Unschedulable: e.Unschedulable, IntentSeq: p.seq, IntentID: p.env.ID},
		Meta:          meta,
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(o.lastSeq),
	}
}

// safeToken keeps a rejected name from breaking the subject it is filed under.
func safeToken(name string) string {
	if manifest.ValidateName("name", name) == nil {
		return name
	}
	return "invalid"
}
