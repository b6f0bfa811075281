package admission_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/identity"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
)

// signing is a world whose admission knows one user, alice, by her key.
func signing(t *testing.T) (*world, nkeys.KeyPair) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	w := newWorld(t)
	w.svc.Users = identity.Users{pub: "alice"}
	return w, kp
}

// signed is r signed by kp at now, its claimed actor claimed.
func signed(t *testing.T, r events.Record, kp nkeys.KeyPair, claimed string) events.Record {
	t.Helper()
	r.Envelope.Time, r.Envelope.Actor = now, claimed
	if err := events.Sign(&r.Envelope, kp); err != nil {
		t.Fatal(err)
	}
	return r
}

// unauthorized checks the intent is refused as Unauthorized, the refusal
// naming why.
func (w *world) unauthorized(r events.Record, why string) {
	w.t.Helper()
	e, ok := w.verdictOn(r).(*events.AdmissionRejected)
	if !ok {
		w.t.Fatalf("forged intent %d accepted; want refused: %s", r.Seq, why)
	}
	if e.Code != events.RejectUnauthorized || len(e.Reasons) != 1 || !strings.Contains(e.Reasons[0], why) {
		w.t.Errorf("refusal = %s %v, want Unauthorized naming %q", e.Code, e.Reasons, why)
	}
}

// A signed intent is accepted, its verdict's actor the signer's name
// whatever actor the client wrote.
func TestSignedIntentIsAcceptedAsItsSigner(t *testing.T) {
	w, kp := signing(t)
	r := signed(t, w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1")), kp, "mallory")
	w.apply(r)
	for _, d := range w.settle() {
		if a, ok := d.Event.(*events.AdmissionAccepted); ok && a.IntentSeq == r.Seq {
			if d.Meta.Actor != "alice" {
				t.Errorf("verdict's actor = %q, want the signer alice", d.Meta.Actor)
			}
			return
		}
	}
	t.Fatal("signed intent not accepted")
}

// Each forgery is refused, the refusal naming why.
func TestForgedIntentsAreRefused(t *testing.T) {
	dep := pt.Deployment(ns, "x", 1, "nginx:1")
	t.Run("unsigned", func(t *testing.T) {
		w, _ := signing(t)
		w.unauthorized(w.l.IntentApplyObject(dep), "not signed")
	})
	t.Run("unknown key", func(t *testing.T) {
		w, _ := signing(t)
		stranger, _ := nkeys.CreateUser()
		w.unauthorized(signed(t, w.l.IntentApplyObject(dep), stranger, "alice"), "not a known user")
	})
	t.Run("body changed after signing", func(t *testing.T) {
		w, kp := signing(t)
		r := signed(t, w.l.IntentApplyObject(dep), kp, "alice")
		r.Envelope.Data = []byte(strings.Replace(string(r.Envelope.Data), "nginx:1", "evil:1", 1))
		w.unauthorized(r, "changed after it was signed")
	})
	t.Run("actor changed after signing", func(t *testing.T) {
		w, kp := signing(t)
		r := signed(t, w.l.IntentApplyObject(dep), kp, "alice")
		r.Envelope.Actor = "admin"
		w.unauthorized(r, "changed after it was signed")
	})
	t.Run("replayed id", func(t *testing.T) {
		w, kp := signing(t)
		first := signed(t, w.l.IntentApplyObject(dep), kp, "alice")
		w.accepted(first)
		again := w.l.IntentDelete("deployment", ns, "x") // a new sequence: the same envelope stored again
		again.Envelope = first.Envelope
		again.Event = first.Event
		w.unauthorized(again, "replay")
	})
	t.Run("replayed late", func(t *testing.T) {
		w, kp := signing(t)
		r := w.l.IntentApplyObject(dep)
		r.Envelope.Time = now.Add(-admission.SignatureWindow - time.Second)
		if err := events.Sign(&r.Envelope, kp); err != nil {
			t.Fatal(err)
		}
		w.unauthorized(r, "replay")
	})
}

// A replay is known after a restart: a new service folding the log refuses
// it, the first intent's id read back from the log.
func TestReplayIsRefusedAfterRestart(t *testing.T) {
	w, kp := signing(t)
	first := signed(t, w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1")), kp, "alice")
	w.accepted(first)
	users := w.svc.Users
	fresh := newWorld(t)
	fresh.l, fresh.svc.Users = w.l, users
	fresh.apply(first)
	fresh.apply(w.l.Records...)
	again := w.l.IntentDelete("deployment", ns, "x")
	again.Envelope, again.Event = first.Envelope, first.Event
	fresh.unauthorized(again, "replay")
}

// The verified admin is in system:masters; any other signer is judged by
// RBAC as the name it signs with.
func TestSignedActorIsWhomRBACJudges(t *testing.T) {
	w := enforcing(t)
	adminKey, _ := nkeys.CreateUser()
	bobKey, _ := nkeys.CreateUser()
	ap, _ := adminKey.PublicKey()
	bp, _ := bobKey.PublicKey()
	w.svc.Users = identity.Users{ap: identity.Admin, bp: "bob"}
	w.accepted(signed(t, w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1")), adminKey, "whoever"))
	e, ok := w.verdictOn(signed(t, w.l.IntentApplyObject(pt.Deployment(ns, "y", 1, "nginx:1")), bobKey, authz.Masters)).(*events.AdmissionRejected)
	if !ok || e.Code != events.RejectForbidden || !strings.Contains(e.Reasons[0], `"bob"`) {
		t.Fatalf("bob's intent: %+v, want Forbidden for bob", e)
	}
}
