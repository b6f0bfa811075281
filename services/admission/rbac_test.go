package admission_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/authz"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

const admin = "admin@host"

// enforcing is a world whose cluster was started with
// --authorization=rbac by admin, bootstrapped.
func enforcing(t *testing.T) *world {
	w := newWorld(t)
	w.svc.Bootstrap, w.svc.Authorization, w.svc.Admin = true, authz.ModeRBAC, admin
	w.settle()
	if !w.svc.Enforced() {
		t.Fatal("a cluster started with --authorization=rbac does not enforce")
	}
	return w
}

// as is the intent r made by actor.
func as(actor string, r events.Record) events.Record {
	r.Envelope.Actor = actor
	return r
}

// verdictOn applies the intent and returns its verdict, stored in the log.
func (w *world) verdictOn(r events.Record) events.Event {
	w.t.Helper()
	w.apply(r)
	ds := w.settle()
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.AdmissionAccepted:
			if e.IntentSeq == r.Seq {
				return e
			}
		case *events.AdmissionRejected:
			if e.IntentSeq == r.Seq {
				return e
			}
		case *events.NodeCordoned:
			if e.IntentSeq == r.Seq {
				return e
			}
		}
	}
	w.t.Fatalf("no verdict on intent %d:\n%s", r.Seq, show(ds))
	return nil
}

func (w *world) accepted(r events.Record) {
	w.t.Helper()
	if e, ok := w.verdictOn(r).(*events.AdmissionRejected); ok {
		w.t.Fatalf("%s %s/%s refused: %v", e.Op, e.Kind, e.Name, e.Reasons)
	}
}

// forbidden checks the intent is refused as Forbidden with reason, and
// that the refusal is in the log.
func (w *world) forbidden(r events.Record, reason string) {
	w.t.Helper()
	e, ok := w.verdictOn(r).(*events.AdmissionRejected)
	if !ok {
		w.t.Fatalf("intent %d accepted; want refused: %s", r.Seq, reason)
	}
	if e.Code != events.RejectForbidden || len(e.Reasons) != 1 || (reason != "" && e.Reasons[0] != reason) {
		w.t.Errorf("refusal = %s %v\nwant       %s", e.Code, e.Reasons, reason)
	}
	for _, rec := range w.l.Records {
		if rj, ok := rec.Event.(*events.AdmissionRejected); ok && rj.IntentSeq == r.Seq {
			return
		}
	}
	w.t.Error("the refusal is not in the log")
}

func (w *world) applyAs(actor, kind, ns, name, doc string) events.Record {
	if ns == "" {
		ns = events.ClusterScope
	}
	return as(actor, w.l.IntentApply(kind, ns, name, raw(doc)))
}

func roleDoc(ns, name, rules string) string {
	return `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"` + name + `","namespace":"` + ns + `"},"rules":` + rules + `}`
}

func bindingDoc(kind, ns, name, roleKind, role, subjects string) string {
	meta := `{"name":"` + name + `"}`
	if ns != "" {
		meta = `{"name":"` + name + `","namespace":"` + ns + `"}`
	}
	return `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"` + kind + `","metadata":` + meta + `,
		"subjects":` + subjects + `,"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"` + roleKind + `","name":"` + role + `"}}`
}

func deployAs(w *world, actor, ns, name, image string, replicas int32) events.Record {
	return as(actor, w.l.IntentApplyObject(pt.Deployment(ns, name, replicas, image)))
}

// A user whose Role allows only get cannot apply or delete: each refusal
// is Kubernetes' Forbidden, in the log.
func TestGetOnlyUserCannotApplyOrDelete(t *testing.T) {
	w := enforcing(t)
	w.accepted(w.applyAs(admin, "role", ns, "getter", roleDoc(ns, "getter", `[{"apiGroups":["apps"],"resources":["deployments"],"verbs":["get"]}]`)))
	w.accepted(w.applyAs(admin, "rolebinding", ns, "bob-gets", bindingDoc("RoleBinding", ns, "bob-gets", "Role", "getter", `[{"kind":"User","name":"bob"}]`)))
	w.accepted(deployAs(w, admin, ns, "web", "nginx:1", 1))

	w.forbidden(deployAs(w, "bob", ns, "web2", "nginx:1", 1),
		`deployments.apps "web2" is forbidden: User "bob" cannot create resource "deployments" in API group "apps" in the namespace "default"`)
	w.forbidden(deployAs(w, "bob", ns, "web", "nginx:2", 1),
		`deployments.apps "web" is forbidden: User "bob" cannot patch resource "deployments" in API group "apps" in the namespace "default"`)
	w.forbidden(as("bob", w.l.IntentDelete("deployment", ns, "web")),
		`deployments.apps "web" is forbidden: User "bob" cannot delete resource "deployments" in API group "apps" in the namespace "default"`)
	// Nor give himself more: binding a role is creating a RoleBinding.
	w.forbidden(w.applyAs("bob", "rolebinding", ns, "bob-admin", bindingDoc("RoleBinding", ns, "bob-admin", "ClusterRole", "admin", `[{"kind":"User","name":"bob"}]`)), "")
	w.forbidden(w.applyAs("bob", "configmap", authz.ModeNamespace, authz.ModeConfigMap,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"gantry-authorization","namespace":"kube-system"},"data":{"mode":"AlwaysAllow"}}`), "")
	// Nor drain or cordon.
	w.forbidden(as("bob", w.l.Append(events.IntentSubject(ns, "pod", "p"), &events.IntentEvict{Namespace: ns, Name: "p"})),
		`pods "p" is forbidden: User "bob" cannot create resource "pods/eviction" in API group "" in the namespace "default"`)
	w.forbidden(as("bob", w.l.Append(events.IntentSubject(events.ClusterScope, "node", "n1"), &events.IntentCordon{Node: "n1", Unschedulable: true})),
		`nodes "n1" is forbidden: User "bob" cannot patch resource "nodes" in API group "" at the cluster scope`)
	// The refusal does not fence the node's own decisions: the admin's
	// cordon is stored.
	w.accepted(as(admin, w.l.Append(events.IntentSubject(events.ClusterScope, "node", "n1"), &events.IntentCordon{Node: "n1", Unschedulable: true})))
	// An actor nobody bound may do nothing.
	w.forbidden(deployAs(w, "eve", ns, "x", "nginx:1", 1), "")
}

// A RoleBinding in namespace a grants nothing in b; a ClusterRoleBinding
// grants everywhere.
func TestBindingScopes(t *testing.T) {
	w := enforcing(t)
	for _, n := range []string{"a", "b"} {
		w.accepted(w.applyAs(admin, "namespace", "", n, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+n+`"}}`))
	}
	w.accepted(w.applyAs(admin, "rolebinding", "a", "bob-edits", bindingDoc("RoleBinding", "a", "bob-edits", "ClusterRole", "edit", `[{"kind":"User","name":"bob"}]`)))
	w.accepted(deployAs(w, "bob", "a", "web", "nginx:1", 1))
	w.forbidden(deployAs(w, "bob", "b", "web", "nginx:1", 1),
		`deployments.apps "web" is forbidden: User "bob" cannot create resource "deployments" in API group "apps" in the namespace "b"`)

	w.accepted(w.applyAs(admin, "clusterrolebinding", "", "devs-edit", bindingDoc("ClusterRoleBinding", "", "devs-edit", "ClusterRole", "edit", `[{"kind":"User","name":"carol"}]`)))
	for _, n := range []string{"a", "b", ns} {
		w.accepted(deployAs(w, "carol", n, "c", "nginx:1", 1))
	}
	// edit grants no cluster-scoped writes.
	w.forbidden(w.applyAs("carol", "namespace", "", "c", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}`),
		`namespaces "c" is forbidden: User "carol" cannot create resource "namespaces" in API group "" at the cluster scope`)
	// Deleting the binding takes the grant away.
	w.accepted(as(admin, w.l.IntentDelete("clusterrolebinding", events.ClusterScope, "devs-edit")))
	w.forbidden(deployAs(w, "carol", "a", "d", "nginx:1", 1), "")
}

// Wildcard rules, and a scale allowed by update on deployments/scale: only
// an apply that changes nothing but spec.replicas passes for one.
func TestWildcardsAndScale(t *testing.T) {
	w := enforcing(t)
	w.accepted(w.applyAs(admin, "role", ns, "all-apps", roleDoc(ns, "all-apps", `[{"apiGroups":["apps"],"resources":["*"],"verbs":["*"]}]`)))
	w.accepted(w.applyAs(admin, "rolebinding", ns, "ops", bindingDoc("RoleBinding", ns, "ops", "Role", "all-apps", `[{"kind":"User","name":"anyone"}]`)))
	w.accepted(deployAs(w, "anyone", ns, "web", "nginx:1", 1))
	w.forbidden(w.applyAs("anyone", "configmap", ns, "c", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}`),
		`configmaps "c" is forbidden: User "anyone" cannot create resource "configmaps" in API group "" in the namespace "default"`)

	w.accepted(w.applyAs(admin, "role", ns, "scaler", roleDoc(ns, "scaler", `[{"apiGroups":["apps"],"resources":["*/scale"],"verbs":["update"]}]`)))
	w.accepted(w.applyAs(admin, "rolebinding", ns, "scaler", bindingDoc("RoleBinding", ns, "scaler", "Role", "scaler", `[{"kind":"User","name":"sam"}]`)))
	w.accepted(deployAs(w, admin, ns, "api", "nginx:1", 1))
	w.accepted(deployAs(w, "sam", ns, "api", "nginx:1", 5))
	w.forbidden(deployAs(w, "sam", ns, "api", "evil:1", 5),
		`deployments.apps "api" is forbidden: User "sam" cannot patch resource "deployments" in API group "apps" in the namespace "default"`)
	w.forbidden(deployAs(w, "sam", ns, "api2", "nginx:1", 5), "")
}

// A binding's roleRef cannot change; its subjects can.
func TestRoleRefIsImmutable(t *testing.T) {
	w := enforcing(t)
	w.accepted(w.applyAs(admin, "rolebinding", ns, "b", bindingDoc("RoleBinding", ns, "b", "ClusterRole", "view", `[{"kind":"User","name":"bob"}]`)))
	w.accepted(w.applyAs(admin, "rolebinding", ns, "b", bindingDoc("RoleBinding", ns, "b", "ClusterRole", "view", `[{"kind":"User","name":"ann"}]`)))
	e, ok := w.verdictOn(w.applyAs(admin, "rolebinding", ns, "b", bindingDoc("RoleBinding", ns, "b", "ClusterRole", "admin", `[{"kind":"User","name":"ann"}]`))).(*events.AdmissionRejected)
	if !ok || len(e.Reasons) != 1 || !strings.Contains(e.Reasons[0], "roleRef: Invalid value") || !strings.Contains(e.Reasons[0], "cannot change roleRef") {
		t.Errorf("roleRef change: %+v", e)
	}
}

// Validation names the field.
func TestRBACValidation(t *testing.T) {
	w := enforcing(t)
	cases := []struct{ kind, ns, name, doc, want string }{
		{"role", ns, "r", roleDoc(ns, "r", `[{"apiGroups":[""],"resources":["pods"]}]`), "rules[0].verbs: Required value"},
		{"role", ns, "r", roleDoc(ns, "r", `[{"verbs":["get"],"nonResourceURLs":["/healthz"]}]`), "rules[0].nonResourceURLs: not supported yet"},
		{"clusterrole", "", "c", `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"c"},"aggregationRule":{}}`, "aggregationRule: not supported yet"},
		{"rolebinding", ns, "b", bindingDoc("RoleBinding", ns, "b", "ClusterRole", "view", `[{"kind":"ServiceAccount","name":"default"}]`), "subjects[0].kind: Unsupported value: \"ServiceAccount\""},
		{"rolebinding", ns, "b", bindingDoc("RoleBinding", ns, "b", "Secret", "view", `[]`), "roleRef.kind: Unsupported value: \"Secret\""},
		{"clusterrolebinding", "", "b", bindingDoc("ClusterRoleBinding", "", "b", "Role", "view", `[]`), "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\""},
	}
	for _, c := range cases {
		e, ok := w.verdictOn(w.applyAs(admin, c.kind, c.ns, c.name, c.doc)).(*events.AdmissionRejected)
		if !ok || !strings.Contains(strings.Join(e.Reasons, "; "), c.want) {
			b, _ := json.Marshal(e)
			t.Errorf("%s: got %s, want %q", c.doc, b, c.want)
		}
	}
}

// Without enforcement (a cluster started without --authorization=rbac)
// every actor may do anything, as before; a cluster-admin can switch
// enforcement off by applying the mode ConfigMap.
func TestEnforcementSwitch(t *testing.T) {
	w := newWorld(t)
	w.svc.Bootstrap = true
	w.settle()
	if w.svc.Enforced() {
		t.Fatal("enforced by default")
	}
	w.accepted(deployAs(w, "eve", ns, "x", "nginx:1", 1))

	w = enforcing(t)
	w.forbidden(deployAs(w, "eve", ns, "x", "nginx:1", 1), "")
	w.accepted(w.applyAs(admin, "configmap", authz.ModeNamespace, authz.ModeConfigMap,
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"gantry-authorization","namespace":"kube-system"},"data":{"mode":"AlwaysAllow"}}`))
	w.accepted(deployAs(w, "eve", ns, "x", "nginx:1", 1))
}

// An intent after a binding in the log is judged by the policy with the
// binding: it waits for the binding's verdict.
func TestIntentsWaitForTheBindingBeforeThem(t *testing.T) {
	w := enforcing(t)
	bind := w.applyAs(admin, "rolebinding", ns, "bob-edits", bindingDoc("RoleBinding", ns, "bob-edits", "ClusterRole", "edit", `[{"kind":"User","name":"bob"}]`))
	dep := deployAs(w, "bob", ns, "web", "nginx:1", 1)
	w.apply(bind, dep)
	if ds := w.decide(); len(ds) != 1 {
		t.Fatalf("first pass: want the binding's verdict alone:\n%s", show(ds))
	}
	for _, d := range w.settle() {
		if e, ok := d.Event.(*events.AdmissionRejected); ok {
			t.Errorf("refused: %v", e.Reasons)
		}
	}
}
