package admission

import (
	"encoding/json"
	"reflect"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Authorization: every intent is authorized for its envelope's actor
// before anything else is judged (events/authz decides, over the RBAC
// objects of admission's fold). A refusal is Kubernetes' Forbidden, kept
// in the log with its reason. The verb an intent is authorized as:
//
//	apply of an object that does not exist (or create)  create
//	apply of an existing object (set image, rollout
//	restart|undo|pause|resume, edit)                      patch
//	apply that changes only spec.replicas (scale)         patch, or update on <plural>/scale
//	delete                                                delete
//	eviction (drain)                                      create on pods/eviction
//	cordon, uncordon                                      patch on nodes
//
// Until the cluster enforces RBAC (authz.Enforced) every actor is in
// system:masters (authz.GroupsOf), so nothing is refused.

// noteRBAC keeps the policy and the mode in step with the fold after a
// record on the object of kind in ns named name.
func (s *Service) noteRBAC(kind, ns, name string) {
	if kind == "configmap" && ns == authz.ModeNamespace && name == authz.ModeConfigMap {
		s.modeKnown = true
		s.enforced = false
		if w := s.c.Workloads[projections.WorkloadKey(kind, ns, name)]; w != nil && !w.Deleted {
			if cm := w.Object.ConfigMap(); cm != nil {
				s.enforced = authz.Enforced(cm.Data)
			}
		}
		return
	}
	if !authz.IsRBACKind(kind) {
		return
	}
	w := s.c.Workloads[projections.WorkloadKey(kind, ns, name)]
	if w == nil || w.Deleted {
		s.policy.Remove(kind, ns, name)
		return
	}
	s.policy.Put(w.Object, ns)
}

// Enforced reports whether the cluster enforces RBAC: its mode ConfigMap
// says so, or, before the ConfigMap is made, the service was started to
// enforce (Authorization).
func (s *Service) Enforced() bool {
	if s.modeKnown {
		return s.enforced
	}
	return s.Authorization == authz.ModeRBAC
}

// requestOf is what an intent asks, for the authorizer.
func (s *Service) requestOf(p pendingIntent, kind, ns, name string) authz.Request {
	r := authz.Request{User: p.env.Actor, Groups: authz.GroupsOf(p.env.Actor, s.Enforced()), Name: name}
	if s.Users != nil && p.env.Actor == identity.Admin {
		r.Groups = []string{authz.Masters, authz.Authenticated} // the verified admin (signing.go)
	}
	if ns != events.ClusterScope {
		r.Namespace = ns
	}
	r.Resource = kind
	if k, ok := manifest.KindOfToken(kind); ok {
		r.APIGroup, r.Resource = k.Group(), k.Plural
	}
	switch e := p.ev.(type) {
	case *events.IntentApplied:
		_, made := s.made[kind+"/"+ns+"/"+name]
		r.Verb = authz.VerbCreate
		if !e.Create && (s.object(kind, ns, name).exists || made) {
			r.Verb = authz.VerbPatch
		}
	case *events.IntentDeleted:
		r.Verb = authz.VerbDelete
	case *events.IntentEvict:
		r.Verb, r.Resource, r.APIGroup, r.Subresource = authz.VerbCreate, "pods", "", "eviction"
	case *events.IntentCordon:
		r.Verb, r.Resource, r.APIGroup = authz.VerbPatch, "nodes", ""
	}
	return r
}

// authorize refuses an intent its actor may not make: the verdict, and
// true; or false when it is allowed and judged as before.
func (s *Service) authorize(p pendingIntent, kind, ns, name string) (runner.Decision, bool) {
	r := s.requestOf(p, kind, ns, name)
	dec := s.policy.Authorize(r)
	if dec.Allowed {
		return runner.Decision{}, false
	}
	if e, ok := p.ev.(*events.IntentApplied); ok && r.Verb == authz.VerbPatch && s.isScale(kind, ns, name, e) {
		sr := r
		sr.Verb, sr.Subresource = authz.VerbUpdate, "scale"
		if s.policy.Authorize(sr).Allowed {
			return runner.Decision{}, false
		}
	}
	return s.refusal(p, kind, ns, name, events.RejectForbidden, dec.Reason), true
}

// refusal is the verdict refusing an intent with code and reason.
func (s *Service) refusal(p pendingIntent, kind, ns, name, code, reason string) runner.Decision {
	op := ""
	switch p.ev.(type) {
	case *events.IntentApplied:
		op = events.OpApply
	case *events.IntentDeleted:
		op = events.OpDelete
	case *events.IntentEvict:
		op = events.OpEvict
	case *events.IntentCordon:
		op = opCordon
	}
	msgID := VerdictMsgID(p.seq, p.env.ID)
	expect := bus.Expect(s.object(kind, ns, name).lastSeq)
	if op == opCordon {
		expect = nil // a node's sequence is its decision subject's, not this one's
	}
	return runner.Decision{
		Subject: events.AdmissionSubject(scopeToken(ns), kind, safeToken(name)),
		Event: &events.AdmissionRejected{IntentSeq: p.seq, IntentID: p.env.ID, Op: op, Kind: kind, Namespace: ns, Name: name,
			Reasons: []string{reason}, Code: code},
		Meta:          p.env.Caused(events.DeriveID(msgID), Name, ns+"/"+name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: expect,
		Assumed:       true,
	}
}

// opCordon is the op of a cordon's or uncordon's refusal.
const opCordon = "cordon"

// scaled are the kinds with a scale subresource.
var scaled = map[string]bool{"deployment": true, "replicaset": true, "statefulset": true}

// isScale reports an apply that changes nothing of the accepted object but
// spec.replicas: what `gantry scale` writes, authorized as Kubernetes
// authorizes a scale (update on <plural>/scale). Admission compares the
// objects itself, so an intent cannot pass for a scale.
func (s *Service) isScale(kind, ns, name string, e *events.IntentApplied) bool {
	o := s.object(kind, ns, name)
	if !scaled[kind] || !o.exists {
		return false
	}
	obj, err := manifest.DecodeObject(e.Object)
	if err != nil {
		return false
	}
	obj.Defaults()
	b, err := json.Marshal(obj)
	if err != nil {
		return false
	}
	var now, was map[string]any
	if json.Unmarshal(b, &now) != nil || json.Unmarshal(o.canonical, &was) != nil {
		return false
	}
	for _, m := range []map[string]any{now, was} {
		if spec, ok := m["spec"].(map[string]any); ok {
			delete(spec, "replicas")
		}
	}
	return reflect.DeepEqual(now, was)
}

// roleRefChanged refuses a binding's new roleRef, in Kubernetes' words:
// a binding's role cannot change (delete it and make it again).
func roleRefChanged(accepted json.RawMessage, obj manifest.Object) string {
	b := obj.Binding()
	if b == nil {
		return ""
	}
	var was manifest.Object
	if json.Unmarshal(accepted, &was) != nil || was.Binding() == nil || was.Binding().RoleRef == b.RoleRef {
		return ""
	}
	return "roleRef: Invalid value: " + mustJSON(b.RoleRef) + ": cannot change roleRef"
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// changesAuthorization reports an intent on an RBAC object or on the
// cluster's mode: every intent after it waits for its verdict.
func changesAuthorization(kind, ns, name string) bool {
	return authz.IsRBACKind(kind) || (kind == "configmap" && ns == authz.ModeNamespace && name == authz.ModeConfigMap)
}

// bootstrapsAuthorization reports bootstrap decisions that make RBAC
// objects or the mode, not read back yet.
func bootstrapsAuthorization(ds []runner.Decision) bool {
	for _, d := range ds {
		if e, ok := d.Event.(*events.WorkloadDecided); ok && changesAuthorization(e.Kind, e.Namespace, e.Name) {
			return true
		}
	}
	return false
}

// scopeToken is safeToken for a namespace, the cluster scope included.
func scopeToken(ns string) string {
	if ns == events.ClusterScope {
		return ns
	}
	return safeToken(ns)
}
