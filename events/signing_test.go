package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/gantry-sh/gantry/events"
)

// A signature survives the envelope's trip through the log (encode,
// decode), and any change of a signed field breaks it.
func TestSignatureSurvivesTheLogAndCatchesChanges(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	env, err := events.Seal(&events.IntentApplied{Kind: "configmap", Namespace: "default", Name: "c",
		Object: []byte(`{"data": {"html": "<b>&</b>"}}`)},
		events.Meta{ID: "id-1", Source: "cli", Subject: "default/c", Time: time.Now(), Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Sign(&env, kp); err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.VerifySignature(got); err != nil {
		t.Fatalf("signature of an unchanged envelope: %v", err)
	}
	for name, change := range map[string]func(*events.Envelope){
		"id":      func(e *events.Envelope) { e.ID = "id-2" },
		"actor":   func(e *events.Envelope) { e.Actor = "admin" },
		"subject": func(e *events.Envelope) { e.Subject = "default/d" },
		"time":    func(e *events.Envelope) { e.Time = e.Time.Add(time.Second) },
		"data":    func(e *events.Envelope) { e.Data = []byte(`{"kind":"configmap"}`) },
		"type":    func(e *events.Envelope) { e.Type = "gantry.intent.deleted.v1" },
	} {
		e := got
		change(&e)
		if err := events.VerifySignature(e); err == nil {
			t.Errorf("%s changed after signing: the signature still verifies", name)
		}
	}
	got.Signature = ""
	if err := events.VerifySignature(got); !errors.Is(err, events.ErrUnsigned) {
		t.Errorf("unsigned: %v, want ErrUnsigned", err)
	}
}
