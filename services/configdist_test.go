package services_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/services"
)

// A Secret used by a pod on node-a goes to node-a only, sealed to its key:
// its agent opens it, node-b (which runs no pod using it) is told nothing,
// and no message of any stream holds the value, in the clear or in base64.
// A ConfigMap the pod mounts follows its updates; both are forgotten once
// the pod is gone.
func TestSecretGoesSealedToItsPodsNodeOnly(t *testing.T) {
	ring, err := sealed.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, ctx := startPlane(t, nil, services.Config{Keyring: ring})
	agents := map[string]*node.Agent{}
	for i, name := range []string{"node-a", "node-b"} {
		agents[name] = c.startAgent(ctx, name, fmt.Sprintf("10.42.%d.0/24", i))
	}

	value := []byte("byte-for-byte-s3cret-value-42")
	plain, _ := json.Marshal(map[string][]byte{"password": value})
	box, err := sealed.Seal(ring.Current(), plain)
	if err != nil {
		t.Fatal(err)
	}
	secret := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindSecret, Metadata: manifest.ObjectMeta{Name: "db", Namespace: "default"},
		Spec: &manifest.SecretSpec{Type: "Opaque", Sealed: &manifest.SealedData{Keys: map[string]int{"password": len(value)}, Box: box}}}
	// Stored as admission's verdict: the manifest decoder does not read a
	// sealed box's bytes yet (the Secret kind's own work), and this test is
	// about what happens after.
	c.acceptDirectly(t, secret)
	if v := c.verdict(c.apply(webConfig("v1"))); v.Type() != events.TypeAdmissionAccepted {
		t.Fatalf("configmap refused: %+v", v)
	}
	pod := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindPod, Metadata: manifest.ObjectMeta{Name: "app", Namespace: "default"},
		Spec: &manifest.PodSpec{NodeSelector: map[string]string{"kubernetes.io/hostname": "node-a"},
			Volumes: []manifest.Volume{{Name: "web", ConfigMap: &manifest.ConfigMapVolumeSource{Name: "web"}}},
			Containers: []manifest.Container{{Name: "app", Image: "busybox", Env: []manifest.EnvVar{{Name: "PASSWORD",
				ValueFrom: &manifest.EnvVarSource{SecretKeyRef: &manifest.SecretKeySelector{Name: "db", Key: "password"}}}}}}}}
	c.applyObject(t, pod)

	ref := node.ConfigRef{Namespace: "default", Kind: "secret", Name: "db"}
	web := node.ConfigRef{Namespace: "default", Kind: "configmap", Name: "web"}
	c.eventually("node-a's agent to hold the Secret and the ConfigMap", func() bool {
		o, ok := agents["node-a"].Configs().Config(ref)
		w, wok := agents["node-a"].Configs().Config(web)
		return ok && o.Exists && bytes.Equal(o.Data["password"], value) && wok && string(w.Data["index.html"]) == "v1"
	})
	if recs := c.records(events.StreamDecisions, "gantry.node.node-b.config.>"); len(recs) != 0 {
		t.Fatalf("node-b, which runs no pod using the Secret, was given %d deliveries", len(recs))
	}
	if _, ok := agents["node-b"].Configs().Config(ref); ok {
		t.Fatal("node-b's agent knows the Secret")
	}

	// Every stream, the read models' buckets too, byte for byte.
	needles := [][]byte{value, []byte(base64.StdEncoding.EncodeToString(value))}
	names := c.conn.JS.StreamNames(ctx)
	searched := 0
	for name := range names.Name() {
		for _, m := range rawMessages(t, c.conn, name) {
			searched++
			for _, n := range needles {
				if bytes.Contains(m.Data, n) {
					t.Fatalf("stream %s, subject %s holds the Secret's value (%q)", name, m.Subject, n)
				}
			}
		}
	}
	if err := names.Err(); err != nil || searched == 0 {
		t.Fatalf("searched %d messages: %v", searched, err)
	}

	// The ConfigMap changes: node-a is given its new revision.
	first, _ := agents["node-a"].Configs().Config(web)
	if v := c.verdict(c.apply(webConfig("v2"))); v.Type() != events.TypeAdmissionAccepted {
		t.Fatalf("configmap update refused: %+v", v)
	}
	c.eventually("node-a to hold the ConfigMap's new revision", func() bool {
		o, ok := agents["node-a"].Configs().Config(web)
		return ok && o.Revision > first.Revision && string(o.Data["index.html"]) == "v2"
	})

	// The pod goes: node-a is told to forget both, and does.
	c.submit(events.IntentSubject("default", "pod", "app"), &events.IntentDeleted{Kind: "pod", Namespace: "default", Name: "app"})
	c.eventually("node-a to forget the Secret and the ConfigMap", func() bool {
		_, secretKnown := agents["node-a"].Configs().Config(ref)
		_, webKnown := agents["node-a"].Configs().Config(web)
		return !secretKnown && !webKnown
	})
	if recs := c.records(events.StreamDecisions, "gantry.node.node-b.config.>"); len(recs) != 0 {
		t.Fatalf("node-b was given %d deliveries", len(recs))
	}
}

func webConfig(content string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  index.html: %s
`, content)
}

// startAgent starts a simulated node agent (with its own key; opts change
// its config) and returns it once it follows its decisions.
func (c *cluster) startAgent(ctx context.Context, name, cidr string, opts ...func(*node.Config)) *node.Agent {
	c.t.Helper()
	rt, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: cidr})
	if err != nil {
		c.t.Fatal(err)
	}
	c.rts[name] = rt
	nc, err := bus.Connect(c.url, "node-"+name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	ready := make(chan struct{})
	cfg := node.Config{Name: name, PodCIDR: cidr, HeartbeatEvery: time.Second, ResyncEvery: 100 * time.Millisecond,
		KeyDir: c.t.TempDir(), Ready: func() { close(ready) }}
	for _, o := range opts {
		o(&cfg)
	}
	a := node.New(cfg, rt, nc, c.log)
	go a.Run(ctx)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("node %s not ready", name)
	}
	return a
}

// applyObject submits o as the CLI would and waits for it to be accepted.
func (c *cluster) applyObject(t *testing.T, o manifest.Object) {
	t.Helper()
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	kind := o.Info().Token
	id := c.submit(events.IntentSubject(o.Metadata.Namespace, kind, o.Metadata.Name),
		&events.IntentApplied{Kind: kind, Namespace: o.Metadata.Namespace, Name: o.Metadata.Name, Object: raw})
	if v := c.verdict(id); v.Type() != events.TypeAdmissionAccepted {
		t.Fatalf("%s %s refused: %+v", kind, o.Metadata.Name, v)
	}
}

// acceptDirectly stores o's apply verdict as admission would, without an
// intent.
func (c *cluster) acceptDirectly(t *testing.T, o manifest.Object) {
	t.Helper()
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	kind, ns, name := o.Info().Token, o.Metadata.Namespace, o.Metadata.Name
	id := events.NewID()
	env, err := events.Seal(&events.AdmissionAccepted{Op: events.OpApply, Kind: kind, Namespace: ns, Name: name, UID: events.NewID(),
		Generation: 1, Object: raw}, events.Meta{ID: id, Source: "admission", Subject: ns + "/" + name, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), c.conn.JS, bus.Outgoing{Subject: events.AdmissionSubject(ns, kind, name), Envelope: env, MsgID: id}); err != nil {
		t.Fatal(err)
	}
}

// rawMessage is one stored message as bytes.
type rawMessage struct {
	Subject string
	Data    []byte
}

// rawMessages reads every message of a stream, headers aside.
func rawMessages(t *testing.T, conn *bus.Conn, stream string) []rawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := conn.JS.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []rawMessage
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			if err == jetstream.ErrMsgNotFound {
				continue
			}
			t.Fatal(err)
		}
		out = append(out, rawMessage{Subject: m.Subject, Data: m.Data})
	}
	return out
}
