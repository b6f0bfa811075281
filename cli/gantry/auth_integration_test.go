package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/projector"
	"github.com/gantry-sh/gantry/services/runner"
)

// rbacObjects are what the cluster's admin applies: bob may only get
// Deployments in default; carol edits in dev; dan views everywhere.
const rbacObjects = `apiVersion: v1
kind: Namespace
metadata:
  name: dev
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: getter
  namespace: default
rules:
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: bob-gets
  namespace: default
subjects:
- kind: User
  name: bob
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: getter
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: carol-edits
  namespace: dev
subjects:
- kind: User
  name: carol
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: edit
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: dan-views
subjects:
- kind: Group
  name: viewers
- kind: User
  name: dan
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dev
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`

func deploymentJSON(ns, name, image string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":%q},
		"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":%q}]}}}}`, name, ns, image))
}

// rbacCluster starts admission and the projector on an in-process NATS,
// enforcing RBAC with admin as the cluster's admin, and returns the NATS
// connection and a runner of the CLI against it.
func rbacCluster(t *testing.T, admin string) (*bus.Conn, func(args ...string) (int, string, string)) {
	t.Helper()
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, []string{admission.Name, projector.Name}, services.Config{
		Runner: runner.Config{Resync: 100 * time.Millisecond}, Authorization: authz.ModeRBAC, Admin: admin}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return conn, func(args ...string) (int, string, string) {
		var out, errOut clitest.Buffer
		code := run(append([]string{"--nats", url}, args...), strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
}

// can-i agrees with what admission does, over a table of cases, on a
// cluster started to enforce RBAC (the CLI's actor its admin): each case
// is asked with `gantry auth can-i`, then made as an intent of that actor,
// and admission refuses it as Forbidden exactly when can-i says no.
func TestCanIAgreesWithAdmission(t *testing.T) {
	admin := client.Actor()
	conn, gantry := rbacCluster(t, admin)
	if code, out, errOut := gantry("apply", "-f", writeManifest(t, "rbac.yaml", rbacObjects)); code != 0 {
		t.Fatalf("apply as admin: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := gantry("auth", "whoami"); code != 0 || !strings.Contains(out, admin) || !strings.Contains(out, "[system:authenticated]") {
		t.Errorf("whoami: %d %q", code, out)
	}

	cases := []struct {
		actor  string   // "" is the CLI's own (the admin)
		canI   []string // VERB KIND [NAME] -n NS
		intent func() (string, events.Event)
	}{
		{"bob", []string{"create", "deployments", "new", "-n", "default"}, apply("default", "new", "nginx")},
		{"bob", []string{"patch", "deployments", "web", "-n", "default"}, apply("default", "web", "nginx:2")},
		{"bob", []string{"delete", "deployment.apps", "web"}, del("default", "web")},
		{"carol", []string{"create", "deploy", "new", "-n", "dev"}, apply("dev", "new", "nginx")},
		{"carol", []string{"patch", "deployments", "web", "-n", "dev"}, apply("dev", "web", "nginx:2")},
		{"carol", []string{"create", "deployments", "new", "-n", "default"}, apply("default", "new", "nginx")},
		{"carol", []string{"create", "pods/eviction", "p", "-n", "dev"}, evict("dev", "p")},
		{"carol", []string{"patch", "nodes", "n1"}, cordon("n1")},
		{"dan", []string{"delete", "deployments", "web", "-n", "dev"}, del("dev", "web")},
		{"eve", []string{"create", "configmaps", "c"}, func() (string, events.Event) {
			return events.IntentSubject("default", "configmap", "c"), &events.IntentApplied{Kind: "configmap", Namespace: "default", Name: "c",
				Object: json.RawMessage(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}`)}
		}},
		{"", []string{"patch", "nodes", "n1"}, cordon("n1")},
		{"", []string{"delete", "deployments", "web", "-n", "dev"}, del("dev", "web")},
	}
	var yes, no int
	for _, c := range cases {
		args := append([]string{"auth", "can-i"}, c.canI...)
		actor := admin
		if c.actor != "" {
			args, actor = append(args, "--as", c.actor), c.actor
		}
		code, out, errOut := gantry(args...)
		if code > 1 || strings.TrimSpace(out) != map[int]string{0: "yes", 1: "no"}[code] {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		t.Logf("case %v as %q", c.canI, actor)
		subject, ev := c.intent()
		forbidden, reason := verdictOf(t, conn, actor, subject, ev)
		if forbidden != (code == 1) {
			t.Errorf("%v says %s; admission forbidden=%v (%s)", args, strings.TrimSpace(out), forbidden, reason)
		}
		if forbidden {
			no++
		} else {
			yes++
		}
	}
	if yes < 4 || no < 4 {
		t.Errorf("the table has %d allowed and %d refused cases; want both kinds", yes, no)
	}
}

func apply(ns, name, image string) func() (string, events.Event) {
	return func() (string, events.Event) {
		return events.IntentSubject(ns, "deployment", name), &events.IntentApplied{Kind: "deployment", Namespace: ns, Name: name, Object: deploymentJSON(ns, name, image)}
	}
}

func del(ns, name string) func() (string, events.Event) {
	return func() (string, events.Event) {
		return events.IntentSubject(ns, "deployment", name), &events.IntentDeleted{Kind: "deployment", Namespace: ns, Name: name}
	}
}

func evict(ns, name string) func() (string, events.Event) {
	return func() (string, events.Event) {
		return events.IntentSubject(ns, "pod", name), &events.IntentEvict{Namespace: ns, Name: name}
	}
}

func cordon(node string) func() (string, events.Event) {
	return func() (string, events.Event) {
		return events.IntentSubject(events.ClusterScope, "node", node), &events.IntentCordon{Node: node, Unschedulable: true}
	}
}

// verdictOf appends ev as an intent of actor and waits for admission's
// verdict: whether it is a Forbidden refusal, and its reasons.
func verdictOf(t *testing.T, conn *bus.Conn, actor, subject string, ev events.Event) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id := events.NewID()
	env, err := events.Seal(ev, events.Meta{ID: id, Source: "cli", Time: time.Now(), Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: subject, Envelope: env, MsgID: id}); err != nil {
		t.Fatal(err)
	}
	var forbidden bool
	var reason string
	clitest.Eventually(t, "the verdict on "+subject, func() bool {
		for _, v := range storedEvents(t, conn.JS, events.StreamDecisions, events.SubjectDecisionAll) {
			if v.CausationID != id {
				continue
			}
			if v.Type == events.TypeAdmissionRejected {
				var r events.AdmissionRejected
				if err := json.Unmarshal(v.Data, &r); err != nil {
					t.Fatal(err)
				}
				forbidden, reason = r.Code == events.RejectForbidden, strings.Join(r.Reasons, "; ")
			}
			return true
		}
		return false
	})
	return forbidden, reason
}

// On a cluster that enforces RBAC and whose admin is someone else, this
// CLI's actor is bound to nothing: apply and delete are refused with
// Kubernetes' Forbidden, the refusal is in the log (gantry events), and
// can-i says no.
func TestUnboundActorIsRefusedThroughTheCLI(t *testing.T) {
	conn, gantry := rbacCluster(t, "someone-else@elsewhere")
	me := client.Actor()
	cm := writeManifest(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n")
	want := fmt.Sprintf(`configmaps "c" is forbidden: User %q cannot create resource "configmaps" in API group "" in the namespace "default"`, me)
	if code, out, errOut := gantry("apply", "-f", cm); code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("apply: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	if code, out, errOut := gantry("delete", "configmap", "c"); code == 0 || !strings.Contains(errOut, `cannot delete resource "configmaps"`) {
		t.Errorf("delete: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := gantry("auth", "can-i", "create", "configmaps"); code != 1 || out != "no\n" {
		t.Errorf("can-i create configmaps: exit %d, %q", code, out)
	}
	if code, out, _ := gantry("auth", "can-i", "create", "configmaps", "--as", "someone-else@elsewhere"); code != 0 || out != "yes\n" {
		t.Errorf("can-i as the admin: exit %d, %q", code, out)
	}
	if code, out, errOut := gantry("events"); code != 0 || !strings.Contains(out, "is forbidden") {
		t.Errorf("events: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	verdicts := storedEvents(t, conn.JS, events.StreamDecisions, events.AdmissionSubject("default", "configmap", "c"))
	if len(verdicts) != 2 {
		t.Fatalf("verdicts = %+v, want the apply's and the delete's", verdicts)
	}
	for _, v := range verdicts {
		if v.Type != events.TypeAdmissionRejected || v.Actor != me {
			t.Errorf("verdict %+v, want a rejection with actor %q", v, me)
		}
	}
}
