package admission_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// secretWorld is a world whose admission holds a keyring.
func secretWorld(t *testing.T) (*world, *sealed.Keyring) {
	kr, err := sealed.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	w.svc.Keyring = kr
	return w, kr
}

// secretJSON is a Secret manifest as the CLI appends it: data sealed to key.
func secretJSON(t *testing.T, key sealed.PublicKey, name, typ string, immutable bool, data map[string]string) json.RawMessage {
	t.Helper()
	bin := map[string][]byte{}
	keys := map[string]int{}
	for k, v := range data {
		bin[k], keys[k] = []byte(v), len(v)
	}
	plain, _ := json.Marshal(bin)
	box, err := sealed.Seal(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]string{"name": name, "namespace": ns},
		"sealed": manifest.SealedData{Keys: keys, Box: box}}
	if typ != "" {
		m["type"] = typ
	}
	if immutable {
		m["immutable"] = true
	}
	b, _ := json.Marshal(m)
	return b
}

// verdict appends an intent and returns admission's verdict on it, stored.
func (w *world) verdict(kind, name string, raw json.RawMessage) runner.Decision {
	w.t.Helper()
	w.apply(w.l.IntentApply(kind, ns, name, raw))
	ds := w.decide()
	if len(ds) != 1 {
		w.t.Fatalf("decisions %s, want one verdict", show(ds))
	}
	w.store(ds[0])
	return ds[0]
}

func wantRejected(t *testing.T, d runner.Decision, want string) {
	t.Helper()
	r := rejectedOf(t, d)
	for _, why := range r.Reasons {
		if strings.Contains(why, want) {
			return
		}
	}
	t.Errorf("reasons %q, want one containing %q", r.Reasons, want)
}

// A Secret is opened and checked as its type requires; what cannot be
// opened, or is in the clear, is refused naming the field.
func TestSecretAdmission(t *testing.T) {
	w, kr := secretWorld(t)
	acceptedOf(t, w.verdict("secret", "ok", secretJSON(t, kr.Current(), "ok", "", false, map[string]string{"password": "pw"})))

	wantRejected(t, w.verdict("secret", "docker", secretJSON(t, kr.Current(), "docker", manifest.SecretTypeDockerConfigJSON, false,
		map[string]string{".dockerconfigjson": "{not json"})), `data[.dockerconfigjson]: Invalid value: "<secret contents redacted>"`)
	wantRejected(t, w.verdict("secret", "tls", secretJSON(t, kr.Current(), "tls", manifest.SecretTypeTLS, false,
		map[string]string{"tls.crt": "c"})), "data[tls.key]: Required value")

	other, _ := sealed.NewKeyPair()
	wantRejected(t, w.verdict("secret", "stranger", secretJSON(t, other.Public, "stranger", "", false, map[string]string{"a": "b"})),
		"sealed.box: cannot be opened")

	// The key list says what the box does not hold.
	raw := secretJSON(t, kr.Current(), "liar", "", false, map[string]string{"a": "b"})
	raw = []byte(strings.Replace(string(raw), `"keys":{"a":1}`, `"keys":{"a":1,"b":2}`, 1))
	wantRejected(t, w.verdict("secret", "liar", raw), "sealed.keys: do not match")

	wantRejected(t, w.verdict("secret", "clear", json.RawMessage(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"clear","namespace":"default"},"stringData":{"a":"b"}}`)),
		"stringData: must not be in the intent in the clear")

	// Without a keyring nothing sealed is accepted.
	bare := newWorld(t)
	wantRejected(t, bare.verdict("secret", "ok", secretJSON(t, kr.Current(), "ok", "", false, map[string]string{"a": "b"})),
		"sealed.box: cannot be opened: this control plane has no keyring")
}

// An immutable Secret or ConfigMap keeps its data: a change is refused in
// Kubernetes' words, the same data again (sealed anew) is unchanged, and
// metadata may change.
func TestImmutableConfig(t *testing.T) {
	w, kr := secretWorld(t)
	data := map[string]string{"password": "pw"}
	first := acceptedOf(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", "", true, data)))
	again := acceptedOf(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", "", true, data)))
	if !again.Unchanged || string(again.Object) != string(first.Object) {
		t.Errorf("the same data sealed anew: unchanged %v, object %s, want the accepted box kept", again.Unchanged, again.Object)
	}
	wantRejected(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", "", true, map[string]string{"password": "new"})),
		"data: Forbidden: field is immutable when `immutable` is set")
	wantRejected(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", "", false, data)),
		"immutable: Forbidden: field is immutable when `immutable` is set")
	wantRejected(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", manifest.SecretTypeBasicAuth, true, map[string]string{"password": "pw"})),
		`type: Invalid value: "kubernetes.io/basic-auth": field is immutable`)

	cm := func(labels, data string) json.RawMessage {
		return json.RawMessage(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"` + labels + `},"immutable":true,"data":` + data + `}`)
	}
	acceptedOf(t, w.verdict("configmap", "c", cm("", `{"a":"1"}`)))
	wantRejected(t, w.verdict("configmap", "c", cm("", `{"a":"2"}`)), "data: Forbidden: field is immutable when `immutable` is set")
	if a := acceptedOf(t, w.verdict("configmap", "c", cm(`,"labels":{"x":"y"}`, `{"a":"1"}`))); a.Unchanged || a.Generation != 2 {
		t.Errorf("a label on an immutable ConfigMap: %+v, want a new generation", a)
	}
}

// After a rotation, admission re-seals each Secret to the new key on the
// Secret's own subject, fenced; the fold takes the new box, with the same
// data.
func TestRotationReseals(t *testing.T) {
	w, kr := secretWorld(t)
	acc := acceptedOf(t, w.verdict("secret", "s", secretJSON(t, kr.Current(), "s", "", false, map[string]string{"password": "pw"})))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("nothing to re-seal yet, got %s", show(ds))
	}
	old := kr.Current()
	pub, err := kr.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	w.apply(w.l.Append(events.SubjectKeyring, &events.KeyringPublished{Keys: []string{old.String(), pub.String()}, Current: pub.String()}))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions %s, want one re-seal", show(ds))
	}
	d := ds[0]
	e, ok := d.Event.(*events.SecretResealed)
	if !ok || d.Subject != events.WorkloadSubject(ns, "secret", "s") || e.UID != acc.UID || e.Sealed.Box.KeyID != pub.ID {
		t.Fatalf("re-seal %s, want one to key %s on the Secret's subject", show(ds), pub.ID)
	}
	expectSeq(t, d, 0)
	plain, err := kr.Open(e.Sealed.Box)
	if err != nil || string(plain) != `{"password":"cHc="}` || !reflect.DeepEqual(e.Sealed.Keys, map[string]int{"password": 2}) {
		t.Errorf("re-sealed box opens to %s (%v), keys %v", plain, err, e.Sealed.Keys)
	}
	w.store(d)
	if ds := w.decide(); len(ds) != 0 {
		t.Errorf("re-sealed again: %s", show(ds))
	}

	c := projections.NewCluster()
	c.Apply(events.Record{Stream: events.StreamDecisions, Seq: 1, Subject: events.AdmissionSubject(ns, "secret", "s"), Event: acc})
	c.Apply(events.Record{Stream: events.StreamDecisions, Seq: 2, Subject: d.Subject, Event: e})
	got := c.Workloads[projections.WorkloadKey("secret", ns, "s")].Object.Secret().Sealed
	if got == nil || got.Box.KeyID != pub.ID || c.Workloads[projections.WorkloadKey("secret", ns, "s")].LastDecisionSeq != 2 {
		t.Errorf("fold's Sealed %+v, want the re-sealed box", got)
	}
}
