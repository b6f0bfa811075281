package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// Through gantry up's NATS, with its identities: the CLI's signed intent
// is accepted as the admin's; intents forged with the admin's own
// connection (unsigned, an unknown key, changed after signing, replayed)
// are refused as Unauthorized, each refusal in the log naming why.
func TestForgedIntentsAreRefusedThroughUp(t *testing.T) {
	up := startUp(t, "sign-test", "")
	if code, out, errOut := runGantry("create", "configmap", "good", "--from-literal", "a=b"); code != 0 {
		t.Fatalf("create configmap: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runGantry("events", "--actor", "admin", "--stream", "decisions")
	if code != 0 || !strings.Contains(out, "default/good") {
		t.Fatalf("events --actor admin: exit %d, want the verdict on default/good\n%s%s", code, out, errOut)
	}
	conn, err := bus.Connect(up.url, "forger", nats.UserCredentials(filepath.Join(up.dataDir, "identity", "creds", "admin.creds")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	adminKey := seedOf(t, filepath.Join(up.dataDir, "identity", "creds", "admin.creds"))
	stranger, _ := nkeys.CreateUser()

	seal := func(name string, kp nkeys.KeyPair) events.Envelope {
		env, err := events.Seal(&events.IntentApplied{Kind: "configmap", Namespace: "default", Name: name,
			Object: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"a":"b"}}`)},
			events.Meta{ID: events.NewID(), Source: "cli", Subject: "default/" + name, Time: time.Now(), Actor: "admin"})
		if err != nil {
			t.Fatal(err)
		}
		if kp != nil {
			if err := events.Sign(&env, kp); err != nil {
				t.Fatal(err)
			}
		}
		return env
	}
	publish := func(env events.Envelope) uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		name := strings.TrimPrefix(env.Subject, "default/")
		res, err := bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: events.IntentSubject("default", "configmap", name),
			Envelope: env, MsgID: events.NewID()}) // a new message id: JetStream's dedup does not catch a replay
		if err != nil {
			t.Fatal(err)
		}
		return res.Seq
	}
	refused := func(what string, seq uint64, why string) {
		t.Helper()
		clitest.Eventually(t, "the verdict on "+what, func() bool {
			for _, v := range storedEvents(t, conn.JS, events.StreamDecisions, events.SubjectAdmissionAll) {
				ev, err := v.Decode()
				if err != nil {
					continue
				}
				switch e := ev.(type) {
				case *events.AdmissionAccepted:
					if e.IntentSeq == seq {
						t.Fatalf("%s accepted", what)
					}
				case *events.AdmissionRejected:
					if e.IntentSeq == seq {
						if e.Code != events.RejectUnauthorized || !strings.Contains(strings.Join(e.Reasons, ";"), why) {
							t.Fatalf("%s: refused %s %v, want Unauthorized naming %q", what, e.Code, e.Reasons, why)
						}
						return true
					}
				}
			}
			return false
		})
	}

	refused("an unsigned intent", publish(seal("unsigned", nil)), "not signed")
	refused("an unknown key's intent", publish(seal("stranger", stranger)), "not a known user")
	changed := seal("changed", adminKey)
	changed.Data = []byte(strings.Replace(string(changed.Data), `"a":"b"`, `"a":"evil"`, 1))
	refused("a changed intent", publish(changed), "changed after it was signed")
	// A replay of the admin's own signed intent: the first is judged, the
	// copy refused.
	orig := seal("replayed", adminKey)
	first := publish(orig)
	clitest.Eventually(t, "the first intent's verdict", func() bool {
		for _, v := range storedEvents(t, conn.JS, events.StreamDecisions, events.SubjectAdmissionAll) {
			if ev, _ := v.Decode(); ev != nil {
				if a, ok := ev.(*events.AdmissionAccepted); ok && a.IntentSeq == first {
					return true
				}
			}
		}
		return false
	})
	refused("a replayed intent", publish(orig), "replay")
}

// seedOf is the user key in a credentials file.
func seedOf(t *testing.T, path string) nkeys.KeyPair {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}
