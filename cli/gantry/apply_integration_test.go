package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/runner"
)

// admissionCluster is an in-process NATS with the admission service
// running: enough for apply and delete to get their verdicts.
func admissionCluster(t *testing.T) (conn *bus.Conn, gantry func(args ...string) (int, string, string)) {
	t.Helper()
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, []string{admission.Name}, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return conn, func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append([]string{"--nats", url}, args...), strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

func writeManifest(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// storedEvents reads every event stored on the subjects matching filter.
func storedEvents(t *testing.T, js jetstream.JetStream, stream, filter string) []events.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	last, err := bus.LastSeq(ctx, js, stream, filter)
	if err != nil || last == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Envelope
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatalf("read %s: %v", filter, err)
		}
		env, err := events.Parse(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, env)
		if md, _ := m.Metadata(); md != nil && md.Sequence.Stream >= last {
			return out
		}
	}
}

// A kind Gantry does not support reaches the log: admission refuses it
// there, with the actor of the intent, and apply prints the refusal like
// any other and exits non-zero.
func TestApplyOfAnUnsupportedKindIsRejectedInTheLog(t *testing.T) {
	conn, gantry := admissionCluster(t)
	rs := writeManifest(t, "rs.yaml", `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rs
spec: {}
`)
	code, out, errOut := gantry("apply", "-f", rs)
	if code == 0 {
		t.Fatalf("apply of an Ingress exited 0; stdout %q", out)
	}
	want := "error: ingress.networking.k8s.io/rs rejected:\n" +
		`  - kind: "Ingress" (apiVersion "networking.k8s.io/v1") is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding` + "\n"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr = %q, want it to contain %q", errOut, want)
	}

	intents := storedEvents(t, conn.JS, events.StreamIntents, events.IntentSubject("default", "ingress", "rs"))
	if len(intents) != 1 || intents[0].Actor != client.Actor() {
		t.Fatalf("intents = %+v, want one with actor %q", intents, client.Actor())
	}
	verdicts := storedEvents(t, conn.JS, events.StreamDecisions, events.AdmissionSubject("default", "ingress", "rs"))
	if len(verdicts) != 1 || verdicts[0].Type != events.TypeAdmissionRejected ||
		verdicts[0].CausationID != intents[0].ID || verdicts[0].Actor != intents[0].Actor {
		t.Fatalf("verdicts = %+v, want one rejection caused by intent %s", verdicts, intents[0].ID)
	}

	// The log's readers take the intent and its refusal in their stride.
	code, out, errOut = gantry("events")
	if code != 0 || !strings.Contains(out, "apply ingress default/rs") ||
		!strings.Contains(out, `rejected apply of ingress default/rs: kind: "Ingress"`) {
		t.Errorf("gantry events: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}

	// A kind that is not even well formed never reaches the log.
	bad := writeManifest(t, "bad.yaml", "apiVersion: apps/v1\nkind: Replica.Set\nmetadata:\n  name: rs\n")
	if code, _, errOut := gantry("apply", "-f", bad); code == 0 || !strings.Contains(errOut, `kind: invalid value "Replica.Set"`) {
		t.Errorf("apply of kind Replica.Set: exit %d, stderr %q", code, errOut)
	}
}

// delete -f of an object that never existed says so as kubectl does, and
// --ignore-not-found makes it no error at all.
func TestDeleteOfAMissingObject(t *testing.T) {
	_, gantry := admissionCluster(t)
	hello := writeManifest(t, "hello.yaml", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec: {containers: [{name: app, image: "gantry.local/hello:v1"}]}
`)
	// The line is kubectl's; the summary line after it is Gantry's own (every
	// verb that submits ends with one when something failed).
	code, out, errOut := gantry("delete", "-f", hello, "--wait=false")
	if want := "Error from server (NotFound): deployments.apps \"hello\" not found\n"; code != 1 || out != "" || !strings.HasPrefix(errOut, want) {
		t.Errorf("delete -f of a missing deployment: exit %d, stdout %q, stderr %q; want exit 1 and stderr %q", code, out, errOut, want)
	}
	code, out, errOut = gantry("delete", "pod", "ghost", "--wait=false")
	if want := "Error from server (NotFound): pods \"ghost\" not found\n"; code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("delete pod ghost: exit %d, stdout %q, stderr %q; want stderr %q", code, out, errOut, want)
	}
	code, out, errOut = gantry("delete", "-f", hello, "--ignore-not-found")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("delete -f --ignore-not-found: exit %d, stdout %q, stderr %q; want exit 0 and nothing printed", code, out, errOut)
	}

	// A kind Gantry does not know: a clear error, before the log (the kind as
	// typed may be a plural or a short name).
	code, _, errOut = gantry("delete", "ingress", "rs")
	if code == 0 || !strings.Contains(errOut, `unknown resource type "ingress"`) {
		t.Errorf("delete ingress rs: exit %d, stderr %q", code, errOut)
	}
}
