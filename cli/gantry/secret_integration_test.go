package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/projector"
	"github.com/gantry-sh/gantry/services/runner"
)

// A Secret's values are never in the log, the read models or on the wire
// in the clear: created, updated, read back (-o yaml), described, listed in
// events, re-sealed by a rotation and referenced by a Deployment, then every
// message of every stream (the KV read models are streams too) and every
// message NATS carried is searched byte for byte for each value and its
// base64.
func TestSecretValuesNeverInTheLogOrReadModels(t *testing.T) {
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// Everything NATS carries, from before the control plane starts.
	var mu sync.Mutex
	var wire [][]byte
	sniff, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sniff.Close)
	if _, err := sniff.Subscribe(">", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		wire = append(wire, append([]byte(m.Subject+" "), m.Data...))
	}); err != nil {
		t.Fatal(err)
	}
	if err := sniff.Flush(); err != nil {
		t.Fatal(err)
	}

	kr, err := sealed.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, []string{admission.Name, projector.Name},
		services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}, Keyring: kr}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	gantry := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"--nats", url}, args...), strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	must := func(want string, args ...string) string {
		t.Helper()
		code, out, errOut := gantry(args...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("gantry %s: exit %d, stderr %q, stdout %q; want %q", strings.Join(args, " "), code, errOut, out, want)
		}
		return out
	}
	// eventually runs a read until its output contains every want (the
	// read models follow the log).
	eventually := func(wants []string, args ...string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, out, errOut := gantry(args...)
			ok := true
			for _, w := range wants {
				ok = ok && strings.Contains(out, w)
			}
			if ok {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("gantry %s: stdout %q, stderr %q; want %q", strings.Join(args, " "), out, errOut, wants)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	values := []string{"first-Zq8vK3wP", "second-Hx2mR7tL", "third-Nc5bY9dS", "registry-Pb6uE1rX", "tlskey-Jf7gQ2wC"}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	must("secret/db created", "create", "secret", "generic", "db", "--from-literal=password="+values[0])
	must("secret/regcred created", "create", "secret", "docker-registry", "regcred", "--docker-server=ghcr.io",
		"--docker-username=me", "--docker-password="+values[3])
	must("secret/web-tls created", "create", "secret", "tls", "web-tls",
		"--cert="+writeManifest(t, "tls.crt", "certificate"), "--key="+writeManifest(t, "tls.key", values[4]))
	must("configmap/app created", "create", "configmap", "app", "--from-literal=mode=prod")
	eventually([]string{"data:\n  mode: prod\n", "kind: ConfigMap"}, "get", "cm", "app", "-o", "yaml")
	eventually([]string{"kubernetes.io/dockerconfigjson", "kubernetes.io/tls"}, "get", "secrets")
	must("secret/db configured", "apply", "-f", writeManifest(t, "db.yaml", `apiVersion: v1
kind: Secret
metadata:
  name: db
data:
  token: `+b64(values[2])+`
stringData:
  password: `+values[1]+`
`))
	// Used: a Deployment refers to it by name and key (its env is in the
	// log; only the reference is).
	gantry("apply", "-f", writeManifest(t, "web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: hello:v1
        env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: db, key: password}}
`))

	eventually([]string{"Opaque", "2"}, "get", "secret", "db")
	out := must("password:", "describe", "secret", "db")
	if !regexp.MustCompile(`password:\s+` + strconv.Itoa(len(values[1])) + ` bytes`).MatchString(out) {
		t.Errorf("describe secret db:\n%s\nwant the password's size", out)
	}
	out = eventually([]string{b64(values[1]), b64(values[2])}, "get", "secret", "db", "-o", "yaml")
	if strings.Contains(out, "sealed") {
		t.Errorf("get -o yaml shows the box:\n%s", out)
	}

	// A rotation re-seals it; it still reveals.
	first := kr.Current().ID
	must("keyring rotated", "keyring", "rotate")
	if kr.Current().ID == first {
		t.Fatal("the keyring did not rotate")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, out, _ := gantry("get", "secret", "db", "-o", "json"); strings.Contains(out, b64(values[1])) {
			if recs := storedEvents(t, conn.JS, events.StreamDecisions, events.WorkloadSubject("default", "secret", "db")); len(recs) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no SecretResealed after the rotation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually([]string{b64(values[1])}, "get", "secret", "db", "-o", "yaml")
	out = must("", "events")
	for _, v := range values {
		if strings.Contains(out, v) || strings.Contains(out, b64(v)) {
			t.Errorf("gantry events shows a value:\n%s", out)
		}
	}

	// The control: a writer other than the CLI puts data in the clear in
	// an intent. Admission refuses it, saying why; the search below must
	// find this value (in the intent), or it would find nothing.
	control := "control-Wm4jT6qA"
	id := events.NewID()
	env, err := events.Seal(&events.IntentApplied{Kind: "secret", Namespace: "default", Name: "clear",
		Object: []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"clear","namespace":"default"},"stringData":{"k":"` + control + `"}}`)},
		events.Meta{ID: id, Source: "test", Subject: "default/clear", Time: time.Now(), Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: events.IntentSubject("default", "secret", "clear"), Envelope: env, MsgID: id}); err != nil {
		t.Fatal(err)
	}
	eventually([]string{"stringData: must not be in the intent in the clear"}, "events")

	// Search everything: every stream (the log's and the KV buckets'),
	// and what crossed the wire.
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	names := conn.JS.StreamNames(sctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	if len(streams) < 5 {
		t.Fatalf("streams %v: want the log's and the read models'", streams)
	}
	searched, controls := 0, 0
	for _, st := range streams {
		for _, m := range allMessages(t, conn.JS, st) {
			searched++
			if bytes.Contains(m, []byte(control)) {
				controls++
			}
			for _, v := range values {
				for _, form := range []string{v, b64(v)} {
					if bytes.Contains(m, []byte(form)) {
						t.Errorf("stream %s holds %q: %s", st, form, m)
					}
				}
			}
		}
	}
	if controls == 0 {
		t.Errorf("the control value is in no stream: the search finds nothing")
	}
	if err := sniff.Flush(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range wire {
		for _, v := range values {
			for _, form := range []string{v, b64(v)} {
				if bytes.Contains(m, []byte(form)) {
					t.Errorf("NATS carried %q: %s", form, m)
				}
			}
		}
	}
	t.Logf("searched %d stored messages in %d streams and %d on the wire", searched, len(streams), len(wire))
}

// allMessages reads every message stored in a stream, subject and data.
func allMessages(t *testing.T, js jetstream.JetStream, stream string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted or purged (a KV record written over)
		}
		out = append(out, append([]byte(m.Subject+" "), m.Data...))
	}
	return out
}
