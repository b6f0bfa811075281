package admission_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
)

// policyIntent applies a ValidatingAdmissionPolicy named name with this
// spec (JSON, without braces).
func policyIntent(w *world, name, spec string) events.Record {
	return w.l.IntentApply("validatingadmissionpolicy", events.ClusterScope, name,
		raw(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingAdmissionPolicy","metadata":{"name":"`+name+`"},"spec":{`+spec+`}}`))
}

// bindingIntent binds policy with these validationActions.
func bindingIntent(w *world, name, policy string, actions ...string) events.Record {
	return w.l.IntentApply("validatingadmissionpolicybinding", events.ClusterScope, name,
		raw(fmt.Sprintf(`{"apiVersion":"admissionregistration.k8s.io/v1","kind":"ValidatingAdmissionPolicyBinding","metadata":{"name":%q},
		"spec":{"policyName":%q,"validationActions":["%s"]}}`, name, policy, strings.Join(actions, `","`))))
}

// imagesPolicy is the example: images must come from gantry.local/.
const imagesPolicy = `"failurePolicy":"Fail",
	"matchConstraints":{"resourceRules":[{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["deployments"],"operations":["CREATE","UPDATE"]}]},
	"validations":[{"expression":"object.spec.template.spec.containers.all(c, c.image.startsWith('gantry.local/'))",
		"message":"images must come from gantry.local/"}]`

func deploymentIntent(w *world, name, image string) events.Record {
	r := w.l.IntentApply("deployment", ns, name, raw(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"`+name+`","namespace":"default"},
		"spec":{"replicas":1,"selector":{"matchLabels":{"app":"`+name+`"}},"template":{"metadata":{"labels":{"app":"`+name+`"}},
		"spec":{"containers":[{"name":"c","image":"`+image+`"}]}}}}`))
	r.Envelope.Actor = "alice@laptop"
	return r
}

// Given a policy and a Deny binding: a Deployment with an image from
// elsewhere is refused with the policy's message, naming policy and
// binding; one from gantry.local/ is accepted; after the binding's
// deletion the first is accepted too.
func TestPolicyDenies(t *testing.T) {
	w := newWorld(t)
	w.apply(policyIntent(w, "images", imagesPolicy), bindingIntent(w, "images-binding", "images", "Deny"),
		deploymentIntent(w, "web", "docker.io/nginx"), deploymentIntent(w, "api", "gantry.local/api:1"))
	ds := w.settle()
	if len(ds) != 4 {
		t.Fatalf("%d verdicts, want 4:\n%s", len(ds), show(ds))
	}
	acceptedOf(t, ds[0])
	acceptedOf(t, ds[1])
	var web *events.AdmissionRejected
	var api *events.AdmissionAccepted
	for _, d := range ds[2:] {
		switch e := d.Event.(type) {
		case *events.AdmissionRejected:
			web = e
		case *events.AdmissionAccepted:
			api = e
		}
	}
	if web == nil || web.Name != "web" || len(web.Reasons) != 1 || web.Code != "Invalid" ||
		web.Reasons[0] != "ValidatingAdmissionPolicy 'images' with binding 'images-binding' denied request: images must come from gantry.local/" {
		t.Errorf("web: %+v", web)
	}
	if api == nil || api.Name != "api" {
		t.Errorf("api: %+v", api)
	}

	w.apply(w.l.IntentDelete("validatingadmissionpolicybinding", events.ClusterScope, "images-binding"),
		deploymentIntent(w, "web", "docker.io/nginx"))
	ds = w.settle()
	if len(ds) != 2 {
		t.Fatalf("%d verdicts, want 2:\n%s", len(ds), show(ds))
	}
	acceptedOf(t, ds[0])
	acceptedOf(t, ds[1])
}

// An intent after a policy's waits for the policy's verdict: it is judged
// by the policy even when both are in the same pass.
func TestPolicyTakesEffectForTheNextIntent(t *testing.T) {
	w := newWorld(t)
	w.apply(policyIntent(w, "images", imagesPolicy), bindingIntent(w, "b", "images", "Deny"))
	if ds := w.decide(); len(ds) != 1 {
		t.Fatalf("the binding was judged before the policy's verdict was back:\n%s", show(ds))
	}
	w.settle()
	w.apply(deploymentIntent(w, "web", "nginx"))
	if r := rejectedOf(t, w.settle()[0]); !strings.Contains(r.Reasons[0], "images must come from gantry.local/") {
		t.Errorf("reasons %v", r.Reasons)
	}
}

// Warn and Audit record the failure and do not deny.
func TestPolicyWarns(t *testing.T) {
	w := newWorld(t)
	w.apply(policyIntent(w, "images", imagesPolicy), bindingIntent(w, "b", "images", "Warn", "Audit"), deploymentIntent(w, "web", "nginx"))
	ds := w.settle()
	a := acceptedOf(t, ds[2])
	if strings.Join(a.Warnings, "|") != "Validation failed for ValidatingAdmissionPolicy 'images' with binding 'b': images must come from gantry.local/" ||
		strings.Join(a.Audit, "|") != "ValidatingAdmissionPolicy 'images' with binding 'b': images must come from gantry.local/" {
		t.Errorf("warnings %q, audit %q", a.Warnings, a.Audit)
	}
}

// The request the policies see: the actor as request.userInfo.username,
// the operation, oldObject on an update and a delete, the namespace.
func TestPolicyRequest(t *testing.T) {
	w := newWorld(t)
	w.apply(policyIntent(w, "only-alice", `"matchConstraints":{"resourceRules":[{"apiGroups":["*"],"apiVersions":["*"],"resources":["*"],"operations":["*"]}]},
		"validations":[
			{"expression":"request.userInfo.username == 'alice@laptop'","messageExpression":"request.userInfo.username + ' may not ' + request.operation"},
			{"expression":"request.operation != 'UPDATE' || oldObject.metadata.name == object.metadata.name"},
			{"expression":"request.operation != 'DELETE' || (object == null && oldObject.kind == 'Deployment')"},
			{"expression":"namespaceObject.metadata.labels['kubernetes.io/metadata.name'] == request.namespace"}]`),
		bindingIntent(w, "b", "only-alice", "Deny"), deploymentIntent(w, "web", "nginx"))
	ds := w.settle()
	acceptedOf(t, ds[2])
	w.apply(deploymentIntent(w, "web", "nginx:2"))
	acceptedOf(t, w.settle()[0])
	bob := deploymentIntent(w, "web", "nginx:3")
	bob.Envelope.Actor = "bob@desk"
	w.apply(bob)
	if r := rejectedOf(t, w.settle()[0]); strings.Join(r.Reasons, "|") != "ValidatingAdmissionPolicy 'only-alice' with binding 'b' denied request: bob@desk may not UPDATE" {
		t.Errorf("bob: %v", r.Reasons)
	}
	del := w.l.IntentDelete("deployment", ns, "web")
	del.Envelope.Actor = "alice@laptop"
	w.apply(del)
	acceptedOf(t, w.settle()[0])
}

// A policy that does not compile, does not return a bool, or whose
// estimated cost runs away is refused when it is applied, naming the field.
func TestPolicyRefusedAtItsAdmission(t *testing.T) {
	match := `"matchConstraints":{"resourceRules":[{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["deployments"],"operations":["*"]}]},`
	tests := []struct{ name, validations, want string }{
		{"does not compile", `[{"expression":"object.spec.replicas >"}]`, "spec.validations[0].expression: compilation failed: "},
		{"not a bool", `[{"expression":"object.spec.replicas"}, {"expression":"'x'"}]`, "spec.validations[1].expression: must evaluate to bool, not string"},
		{"runs away", `[{"expression":"object.spec.template.spec.containers.all(a, object.spec.template.spec.containers.all(b, object.spec.template.spec.containers.all(c, a.image == b.image && b.image == c.image)))"}]`,
			"spec.validations[0].expression: too expensive: the estimated cost "},
		{"no validations", `[]`, "spec.validations: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.apply(policyIntent(w, "p", match+`"validations":`+tt.validations))
			r := rejectedOf(t, w.settle()[0])
			if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], tt.want) {
				t.Errorf("reasons %q, want one starting %q", r.Reasons, tt.want)
			}
		})
	}
	// paramKind is refused as not supported yet; a binding needs actions.
	w := newWorld(t)
	w.apply(policyIntent(w, "p", match+`"paramKind":{"apiVersion":"v1","kind":"ConfigMap"},"validations":[{"expression":"true"}]`),
		bindingIntent(w, "b", "p", "Deny", "Warn"))
	ds := w.settle()
	if r := rejectedOf(t, ds[0]); !strings.Contains(strings.Join(r.Reasons, "|"), "spec.paramKind") {
		t.Errorf("paramKind: %v", r.Reasons)
	}
	if r := rejectedOf(t, ds[1]); !strings.Contains(strings.Join(r.Reasons, "|"), "spec.validationActions: Invalid value: Deny and Warn may not both be used") {
		t.Errorf("Deny and Warn: %v", r.Reasons)
	}
}

// An evaluation error (a missing key) denies under failurePolicy Fail and
// is ignored under Ignore.
func TestPolicyFailurePolicy(t *testing.T) {
	for _, fp := range []string{"Fail", "Ignore"} {
		t.Run(fp, func(t *testing.T) {
			w := newWorld(t)
			w.apply(policyIntent(w, "p", `"failurePolicy":"`+fp+`",
				"matchConstraints":{"resourceRules":[{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["deployments"],"operations":["*"]}]},
				"validations":[{"expression":"object.spec.nothing == 1"}]`),
				bindingIntent(w, "b", "p", "Deny"), deploymentIntent(w, "web", "nginx"))
			d := w.settle()[2]
			if fp == "Ignore" {
				acceptedOf(t, d)
				return
			}
			if r := rejectedOf(t, d); !strings.HasPrefix(r.Reasons[0], "ValidatingAdmissionPolicy 'p' with binding 'b' denied request: expression 'object.spec.nothing == 1' resulted in error: no such key: nothing") {
				t.Errorf("reasons %v", r.Reasons)
			}
		})
	}
}

// "Every Deployment has resource limits", restarting admission in between:
// the policies in force are those of the log.
func TestPolicyLimitsAfterReplay(t *testing.T) {
	w := newWorld(t)
	w.apply(policyIntent(w, "limits", `"matchConstraints":{"resourceRules":[{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["deployments"],"operations":["CREATE","UPDATE"]}]},
		"validations":[{"expression":"object.spec.template.spec.containers.all(c, has(c.resources) && has(c.resources.limits))","message":"every container needs resource limits","reason":"Forbidden"}]`),
		bindingIntent(w, "limits", "limits", "Deny"))
	w.settle()
	fresh := newWorld(t)
	fresh.l = w.l
	fresh.apply(w.l.Records...)
	fresh.apply(deploymentIntent(fresh, "web", "nginx"))
	r := rejectedOf(t, fresh.settle()[0])
	if r.Code != "Forbidden" || r.Reasons[0] != "ValidatingAdmissionPolicy 'limits' with binding 'limits' denied request: every container needs resource limits" {
		t.Errorf("after replay: %+v", r)
	}
}
