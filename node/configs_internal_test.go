package node

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/sealed"
)

func deliver(t *testing.T, js jetstream.JetStream, e *events.ConfigDelivered) {
	t.Helper()
	id := fmt.Sprintf("cfg/%s/%s/%s/%d/%v/%v", e.Node, e.Kind, e.Name, e.Revision, e.Exists, e.Withdrawn)
	env, err := events.Seal(e, events.Meta{ID: events.DeriveID(id), Source: "configdist", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	o := bus.Outgoing{Subject: events.NodeConfigSubject(e.Node, e.Namespace, e.Kind, e.Name), Envelope: env, MsgID: id}
	if _, err := bus.PublishOne(context.Background(), js, o); err != nil {
		t.Fatal(err)
	}
}

// The deliveries addressed to the node fill its store (a Secret opened with
// the node's key), a withdrawal empties it, another node's are not taken,
// and an agent started again restores the same from the log.
func TestConfigsTakenAndRestored(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kp, err := sealed.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(map[string][]byte{"password": []byte("s3cret")})
	box, err := sealed.Seal(kp.Public, plain)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "configmap", Name: "web", Exists: true, Revision: 7,
		Data: map[string][]byte{"index.html": []byte("v1")}})
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "secret", Name: "db", Exists: true, Revision: 8, Sealed: &box})
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "configmap", Name: "missing", Revision: 0})
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "configmap", Name: "old", Exists: true, Revision: 3,
		Data: map[string][]byte{"k": []byte("v")}})
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "configmap", Name: "old", Withdrawn: true})
	deliver(t, conn.JS, &events.ConfigDelivered{Node: "n2", Namespace: "default", Kind: "configmap", Name: "theirs", Exists: true, Revision: 9})

	check := func(a *Agent) {
		t.Helper()
		web, ok := a.Configs().Config(ConfigRef{Namespace: "default", Kind: "configmap", Name: "web"})
		if !ok || !web.Exists || web.Revision != 7 || string(web.Data["index.html"]) != "v1" {
			t.Errorf("web: %+v, %v", web, ok)
		}
		db, ok := a.Configs().Config(ConfigRef{Namespace: "default", Kind: "secret", Name: "db"})
		if !ok || !db.Exists || db.Revision != 8 || string(db.Data["password"]) != "s3cret" {
			t.Errorf("db: %+v, %v", db, ok)
		}
		missing, ok := a.Configs().Config(ConfigRef{Namespace: "default", Kind: "configmap", Name: "missing"})
		if !ok || missing.Exists {
			t.Errorf("missing: %+v, %v; want known not to exist", missing, ok)
		}
		if _, ok := a.Configs().Config(ConfigRef{Namespace: "default", Kind: "configmap", Name: "old"}); ok {
			t.Error("a withdrawn ConfigMap is still known")
		}
		if _, ok := a.Configs().Config(ConfigRef{Namespace: "default", Kind: "configmap", Name: "theirs"}); ok {
			t.Error("another node's delivery was taken")
		}
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	a := New(Config{Name: "n1", SealKey: &kp}, nil, conn, log)
	if err := a.restore(ctx); err != nil {
		t.Fatal(err)
	}
	check(a)
	select {
	case <-a.kicks:
	default:
		t.Error("a changed delivery did not ask for a reconcile")
	}

	// An older delivery read again (a redelivery) changes nothing.
	a.takeConfig(&events.ConfigDelivered{Node: "n1", Namespace: "default", Kind: "configmap", Name: "web", Exists: true, Revision: 2,
		Data: map[string][]byte{"index.html": []byte("v0")}}, 1)
	check(a)

	// The agent starts again: the log gives it the same.
	again := New(Config{Name: "n1", SealKey: &kp}, nil, conn, log)
	if err := again.restore(ctx); err != nil {
		t.Fatal(err)
	}
	check(again)

	// With another key (its key file lost), the Secret is not readable:
	// unknown until delivered sealed to the new key.
	other, _ := sealed.NewKeyPair()
	lost := New(Config{Name: "n1", SealKey: &other}, nil, conn, log)
	if err := lost.restore(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := lost.Configs().Config(ConfigRef{Namespace: "default", Kind: "secret", Name: "db"}); ok {
		t.Error("a Secret sealed to another key is known")
	}
}
