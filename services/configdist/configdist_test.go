package configdist_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/configdist"
	"github.com/gantry-sh/gantry/services/runner"
)

const ns = "default"

// world is a log and the service folding it; decide stores a pass's
// decisions as the runner would (fenced by their expectations) and folds
// them back.
type world struct {
	t    *testing.T
	l    *pt.Log
	s    *configdist.Service
	ring *sealed.Keyring
	keys map[string]sealed.KeyPair
}

func newWorld(t *testing.T, nodes ...string) *world {
	t.Helper()
	ring, err := sealed.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, l: pt.NewLog(), s: configdist.New(ring), ring: ring, keys: map[string]sealed.KeyPair{}}
	for _, n := range nodes {
		kp, err := sealed.NewKeyPair()
		if err != nil {
			t.Fatal(err)
		}
		w.keys[n] = kp
		info := pt.NodeInfo(n, 4000, 8<<30, 110)
		info.SealKey = kp.Public.String()
		w.add(w.l.Registered(info))
	}
	return w
}

func (w *world) add(rs ...events.Record) {
	for _, r := range rs {
		w.s.Apply(r)
	}
}

func (w *world) decide() []*events.ConfigDelivered {
	w.t.Helper()
	ds := w.s.Decide(w.l.Now)
	var out []*events.ConfigDelivered
	for _, d := range ds {
		r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
		if err != nil {
			w.t.Fatal(err)
		}
		if !dup {
			w.add(r)
		}
		e := d.Event.(*events.ConfigDelivered)
		if d.Subject != events.NodeConfigSubject(e.Node, e.Namespace, e.Kind, e.Name) {
			w.t.Fatalf("delivery on %s for %+v", d.Subject, e)
		}
		out = append(out, e)
	}
	return out
}

func configMap(name string, data map[string]string) manifest.Object {
	return manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindConfigMap,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: &manifest.ConfigMapSpec{Data: data}}
}

// secret is a Secret as the CLI appends it: its data sealed to the ring.
func (w *world) secret(name string, data map[string][]byte) manifest.Object {
	w.t.Helper()
	plain, _ := json.Marshal(data)
	box, err := sealed.Seal(w.ring.Current(), plain)
	if err != nil {
		w.t.Fatal(err)
	}
	keys := map[string]int{}
	for k, v := range data {
		keys[k] = len(v)
	}
	return manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindSecret,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: &manifest.SecretSpec{Type: "Opaque", Sealed: &manifest.SealedData{Keys: keys, Box: box}}}
}

// pod is a bare pod whose container reads the ConfigMap cm (a volume) and
// the Secret sec's key password (env), each when named.
func pod(name, uid, cm, sec string) events.PodPlanned {
	spec := manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "busybox"}}}
	if cm != "" {
		spec.Volumes = append(spec.Volumes, manifest.Volume{Name: "cfg", ConfigMap: &manifest.ConfigMapVolumeSource{Name: cm}})
	}
	if sec != "" {
		spec.Containers[0].Env = []manifest.EnvVar{{Name: "PASSWORD",
			ValueFrom: &manifest.EnvVarSource{SecretKeyRef: &manifest.SecretKeySelector{Name: sec, Key: "password"}}}}
	}
	return events.PodPlanned{Namespace: ns, Name: name, UID: uid, Spec: spec}
}

func one(t *testing.T, got []*events.ConfigDelivered) *events.ConfigDelivered {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1: %+v", len(got), got)
	}
	return got[0]
}

func TestConfigMapGoesToTheNodesThatUseItOnly(t *testing.T) {
	w := newWorld(t, "a", "b")
	acc := w.l.Accepted(configMap("web", map[string]string{"index.html": "v1"}), "cm1", 1)
	w.add(acc)
	if got := w.decide(); len(got) != 0 {
		t.Fatalf("no pod uses it, yet: %+v", got)
	}
	user, other := pod("user", "p1", "web", ""), pod("other", "p2", "", "")
	w.add(w.l.Planned(user), w.l.Bound(user, "a", 1), w.l.Planned(other), w.l.Bound(other, "b", 1))

	e := one(t, w.decide())
	if e.Node != "a" || e.Kind != "configmap" || e.Name != "web" || !e.Exists || e.Revision != acc.Seq ||
		string(e.Data["index.html"]) != "v1" || e.Sealed != nil {
		t.Fatalf("delivery %+v, want web revision %d with its data to a", e, acc.Seq)
	}
	if got := w.decide(); len(got) != 0 {
		t.Fatalf("delivered again: %+v", got)
	}

	// Updated: the new revision goes to a.
	acc2 := w.l.Accepted(configMap("web", map[string]string{"index.html": "v2"}), "cm1", 2)
	w.add(acc2)
	e = one(t, w.decide())
	if e.Node != "a" || e.Revision != acc2.Seq || string(e.Data["index.html"]) != "v2" {
		t.Fatalf("after the update: %+v, want revision %d", e, acc2.Seq)
	}

	// The pod is deleted and its node removes it: a is told to forget web.
	w.add(w.l.Deleted(user, "a", 1, "deleted"), w.l.Removed("a", user, 1))
	e = one(t, w.decide())
	if e.Node != "a" || !e.Withdrawn || e.Exists || len(e.Data) != 0 {
		t.Fatalf("after the pod went: %+v, want a withdrawal", e)
	}
	if got := w.decide(); len(got) != 0 {
		t.Fatalf("withdrawn again: %+v", got)
	}
	for _, r := range w.l.Records {
		if d, ok := r.Event.(*events.ConfigDelivered); ok && d.Node == "b" {
			t.Fatalf("node b, which runs no pod using web, was told of it: %+v", d)
		}
	}

	// A restarted service, folding the same log, delivers nothing again.
	again := configdist.New(w.ring)
	for _, r := range w.l.Records {
		again.Apply(r)
	}
	if ds := again.Decide(w.l.Now); len(ds) != 0 {
		t.Fatalf("a restarted service decided %d deliveries again", len(ds))
	}
}

func TestMissingObjectIsDeliveredAsAbsent(t *testing.T) {
	w := newWorld(t, "a")
	p := pod("user", "p1", "later", "")
	w.add(w.l.Planned(p), w.l.Bound(p, "a", 1))
	e := one(t, w.decide())
	if e.Exists || e.Withdrawn || e.Revision != 0 {
		t.Fatalf("a ConfigMap that does not exist: %+v, want Exists false", e)
	}
	// Created: delivered.
	acc := w.l.Accepted(configMap("later", map[string]string{"k": "v"}), "cm1", 1)
	w.add(acc)
	if e := one(t, w.decide()); !e.Exists || e.Revision != acc.Seq {
		t.Fatalf("once created: %+v", e)
	}
	// Deleted: absent again, at the deletion's revision.
	del := w.l.AcceptedDelete("configmap", ns, "later", "cm1", 1)
	w.add(del)
	if e := one(t, w.decide()); e.Exists || e.Withdrawn || e.Revision != del.Seq || len(e.Data) != 0 {
		t.Fatalf("once deleted: %+v, want absent at %d", e, del.Seq)
	}
}

func TestSecretIsSealedToTheNodeOnly(t *testing.T) {
	w := newWorld(t, "a", "b")
	value := []byte("hunter2-very-secret")
	w.add(w.l.Accepted(w.secret("db", map[string][]byte{"password": value}), "s1", 1))
	p := pod("user", "p1", "", "db")
	w.add(w.l.Planned(p), w.l.Bound(p, "a", 1))
	e := one(t, w.decide())
	if e.Node != "a" || e.Kind != "secret" || !e.Exists || e.Sealed == nil || len(e.Data) != 0 {
		t.Fatalf("delivery %+v, want db sealed to a", e)
	}
	raw, _ := json.Marshal(e)
	if bytes.Contains(raw, value) {
		t.Fatal("the delivery holds the Secret's value in the clear")
	}
	plain, err := w.keys["a"].Open(*e.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string][]byte
	if err := json.Unmarshal(plain, &data); err != nil || !bytes.Equal(data["password"], value) {
		t.Fatalf("opened with a's key: %q, %v", plain, err)
	}
	if _, err := w.keys["b"].Open(*e.Sealed); err == nil {
		t.Fatal("b's key opens a's delivery")
	}
	if _, err := w.ring.Open(*e.Sealed); err == nil {
		t.Fatal("the cluster's keyring opens a node's delivery")
	}

	// a's agent starts again with a new key: the Secret is sealed again to it.
	kp, _ := sealed.NewKeyPair()
	w.keys["a"] = kp
	info := pt.NodeInfo("a", 4000, 8<<30, 110)
	info.SealKey = kp.Public.String()
	w.add(w.l.Registered(info))
	e = one(t, w.decide())
	if e.Sealed == nil || e.Sealed.KeyID != kp.Public.ID {
		t.Fatalf("after a's new key: %+v", e)
	}
	if _, err := kp.Open(*e.Sealed); err != nil {
		t.Fatal(err)
	}
}

func TestSecretWaitsForTheNodesKey(t *testing.T) {
	w := newWorld(t)
	w.add(w.l.Registered(pt.NodeInfo("old", 4000, 8<<30, 110))) // an agent with no key
	w.add(w.l.Accepted(w.secret("db", map[string][]byte{"password": []byte("x")}), "s1", 1))
	p := pod("user", "p1", "", "db")
	w.add(w.l.Planned(p), w.l.Bound(p, "old", 1))
	if got := w.decide(); len(got) != 0 {
		t.Fatalf("a Secret went to a node with no key: %+v", got)
	}
}

func TestPassIsBounded(t *testing.T) {
	w := newWorld(t, "a")
	var ds []runner.Decision
	for i := range configdist.PassBudget + 10 {
		name := "cm" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
		w.add(w.l.Accepted(configMap(name, map[string]string{"k": "v"}), "u"+name, 1))
		p := pod("p"+name, "pu"+name, name, "")
		w.add(w.l.Planned(p), w.l.Bound(p, "a", 1))
	}
	ds = w.s.Decide(w.l.Now)
	if len(ds) != configdist.PassBudget {
		t.Fatalf("a pass decided %d, want the budget %d", len(ds), configdist.PassBudget)
	}
}

// A pod bound elsewhere takes its ConfigMap with it; one force-deleted (its
// node lost) lets its node forget it; a removal read before the binding it
// removes (the streams interleave) counts.
func TestPodsMovingAndGoing(t *testing.T) {
	w := newWorld(t, "a", "b")
	acc := w.l.Accepted(configMap("web", map[string]string{"k": "v"}), "cm1", 1)
	w.add(acc)
	p := pod("user", "p1", "web", "")
	w.add(w.l.Planned(p), w.l.Bound(p, "a", 1))
	if e := one(t, w.decide()); e.Node != "a" || !e.Exists {
		t.Fatalf("%+v", e)
	}
	w.add(w.l.Bound(p, "b", 2))
	got := w.decide()
	if len(got) != 2 || got[0].Node != "a" || !got[0].Withdrawn || got[1].Node != "b" || !got[1].Exists || got[1].Revision != acc.Seq {
		t.Fatalf("after the pod moved to b: %+v", got)
	}
	forced := &events.PodDeleted{Namespace: ns, Name: p.Name, UID: p.UID, Node: "b", Epoch: 2, Force: true}
	w.add(w.l.Append(events.PodDecisionSubject(ns, p.Name), forced))
	if e := one(t, w.decide()); e.Node != "b" || !e.Withdrawn {
		t.Fatalf("after a forced deletion: %+v", e)
	}

	// Read in the other order: the removal, then the binding it removes.
	q := pod("early", "p2", "web", "")
	bound, removed := w.l.Bound(q, "a", 1), w.l.Removed("a", q, 1)
	w.add(removed, bound)
	if got := w.decide(); len(got) != 0 {
		t.Fatalf("a pod removed before its binding was read: %+v", got)
	}
}
