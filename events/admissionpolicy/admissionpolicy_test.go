package admissionpolicy

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func kind(token string) *manifest.KindInfo {
	k, ok := manifest.KindOfToken(token)
	if !ok {
		panic(token)
	}
	return k
}

// rules selects operations on Deployments (apps/v1 deployments).
func rules(ops ...string) *manifest.MatchResources {
	return &manifest.MatchResources{ResourceRules: []manifest.NamedRuleWithOperations{{
		APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}, Operations: ops}}}
}

func deployment(image string, limits bool) json.RawMessage {
	res := ""
	if limits {
		res = `,"resources":{"limits":{"cpu":"1","memory":"128Mi"}}`
	}
	return json.RawMessage(fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},
		"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c","image":%q%s}]}}}}`, image, res))
}

func compilePolicy(t *testing.T, spec manifest.ValidatingAdmissionPolicySpec) *Policy {
	t.Helper()
	p, errs := Compile("images", spec)
	if errs != nil {
		t.Fatalf("Compile: %v", errs)
	}
	return p
}

var deny = Binding{Name: "images-binding", Spec: manifest.ValidatingAdmissionPolicyBindingSpec{
	PolicyName: "images", ValidationActions: []string{manifest.ActionDeny}}}

func TestEvaluateExamples(t *testing.T) {
	images := compilePolicy(t, manifest.ValidatingAdmissionPolicySpec{MatchConstraints: rules("CREATE", "UPDATE"),
		Validations: []manifest.Validation{{
			Expression: "object.spec.template.spec.containers.all(c, c.image.startsWith('gantry.local/'))",
			Message:    "images must come from gantry.local/"}}})
	limits := compilePolicy(t, manifest.ValidatingAdmissionPolicySpec{MatchConstraints: rules("*"),
		Validations: []manifest.Validation{{
			Expression: "object.spec.template.spec.containers.all(c, has(c.resources) && has(c.resources.limits) && " +
				"'cpu' in c.resources.limits && 'memory' in c.resources.limits)",
			MessageExpression: "'Deployment ' + object.metadata.name + ' must set cpu and memory limits on every container'",
			Reason:            "Forbidden"}}})
	tests := []struct {
		name   string
		p      *Policy
		object json.RawMessage
		want   string
		reason string
	}{
		{"a local image", images, deployment("gantry.local/web:1", false), "", ""},
		{"an image from elsewhere", images, deployment("docker.io/nginx", false),
			"ValidatingAdmissionPolicy 'images' with binding 'images-binding' denied request: images must come from gantry.local/", "Invalid"},
		{"limits set", limits, deployment("x", true), "", ""},
		{"no limits, message from messageExpression", limits, deployment("x", false),
			"ValidatingAdmissionPolicy 'images' with binding 'images-binding' denied request: Deployment web must set cpu and memory limits on every container", "Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Request{Operation: manifest.OperationCreate, Kind: kind("deployment"), Namespace: "default", Name: "web", Object: tt.object}
			if !Matches(tt.p.Spec.MatchConstraints, r, true) {
				t.Fatal("the policy does not match")
			}
			out := Evaluate(tt.p, deny, r, NewBudget())
			got := strings.Join(out.Denials, "; ")
			if got != tt.want || out.Reason != tt.reason {
				t.Errorf("denials %q (reason %q), want %q (%q)", got, out.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestEvaluatePods(t *testing.T) {
	p := compilePolicy(t, manifest.ValidatingAdmissionPolicySpec{
		MatchConstraints: &manifest.MatchResources{ResourceRules: []manifest.NamedRuleWithOperations{{
			APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}, Operations: []string{"CREATE"}}}},
		Variables: []manifest.Variable{{Name: "images", Expression: "object.spec.containers.map(c, c.image)"}},
		Validations: []manifest.Validation{{Expression: "variables.images.all(i, i.startsWith('gantry.local/'))",
			MessageExpression: "'image ' + variables.images.filter(i, !i.startsWith('gantry.local/'))[0] + ' is not from gantry.local/'"}}})
	pod := func(image string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":%q}]}}`, image))
	}
	r := &Request{Operation: manifest.OperationCreate, Kind: kind("pod"), Namespace: "default", Name: "p", Object: pod("nginx")}
	out := Evaluate(p, deny, r, NewBudget())
	if want := "ValidatingAdmissionPolicy 'images' with binding 'images-binding' denied request: image nginx is not from gantry.local/"; len(out.Denials) != 1 || out.Denials[0] != want {
		t.Errorf("denials %q, want %q", out.Denials, want)
	}
	r = &Request{Operation: manifest.OperationCreate, Kind: kind("pod"), Namespace: "default", Name: "p", Object: pod("gantry.local/x")}
	if out := Evaluate(p, deny, r, NewBudget()); len(out.Denials) != 0 {
		t.Errorf("a compliant pod denied: %q", out.Denials)
	}
	// A Deployment is not selected by a rule on pods.
	r = &Request{Operation: manifest.OperationCreate, Kind: kind("deployment"), Namespace: "default", Name: "web", Object: deployment("nginx", false)}
	if Matches(p.Spec.MatchConstraints, r, true) {
		t.Error("a pods rule matches a Deployment")
	}
}

func TestMatches(t *testing.T) {
	ns := json.RawMessage(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod","labels":{"env":"prod"}}}`)
	envProd := &manifest.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
	appWeb := &manifest.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tests := []struct {
		name string
		m    *manifest.MatchResources
		req  Request
		want bool
	}{
		{"operation and resource", rules("CREATE"), Request{Operation: "CREATE"}, true},
		{"another operation", rules("UPDATE"), Request{Operation: "CREATE"}, false},
		{"every operation", rules("*"), Request{Operation: "DELETE"}, true},
		{"another group", &manifest.MatchResources{ResourceRules: []manifest.NamedRuleWithOperations{{APIGroups: []string{""},
			APIVersions: []string{"*"}, Resources: []string{"*"}, Operations: []string{"*"}}}}, Request{Operation: "CREATE"}, false},
		{"resourceNames", &manifest.MatchResources{ResourceRules: []manifest.NamedRuleWithOperations{{APIGroups: []string{"*"},
			APIVersions: []string{"*"}, Resources: []string{"*"}, Operations: []string{"*"}, ResourceNames: []string{"api"}}}}, Request{Operation: "CREATE"}, false},
		{"excluded", &manifest.MatchResources{ResourceRules: rules("*").ResourceRules, ExcludeResourceRules: rules("CREATE").ResourceRules},
			Request{Operation: "CREATE"}, false},
		{"scope Cluster", &manifest.MatchResources{ResourceRules: []manifest.NamedRuleWithOperations{{APIGroups: []string{"*"},
			APIVersions: []string{"*"}, Resources: []string{"*"}, Operations: []string{"*"}, Scope: "Cluster"}}}, Request{Operation: "CREATE"}, false},
		{"namespace selector matches", &manifest.MatchResources{ResourceRules: rules("*").ResourceRules, NamespaceSelector: envProd},
			Request{Operation: "CREATE", NamespaceObject: ns}, true},
		{"namespace selector does not", &manifest.MatchResources{ResourceRules: rules("*").ResourceRules, NamespaceSelector: envProd},
			Request{Operation: "CREATE"}, false},
		{"object selector", &manifest.MatchResources{ResourceRules: rules("*").ResourceRules, ObjectSelector: appWeb},
			Request{Operation: "CREATE", Object: deployment("x", false)}, true},
		{"object selector on the old object of a delete", &manifest.MatchResources{ResourceRules: rules("*").ResourceRules, ObjectSelector: appWeb},
			Request{Operation: "DELETE", OldObject: deployment("x", false)}, true},
		{"a binding without rules", &manifest.MatchResources{}, Request{Operation: "CREATE"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req
			r.Kind, r.Namespace, r.Name = kind("deployment"), "default", "web"
			required := tt.name != "a binding without rules"
			if got := Matches(tt.m, &r, required); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileRefusals(t *testing.T) {
	tests := []struct {
		name string
		spec manifest.ValidatingAdmissionPolicySpec
		want string
	}{
		{"does not compile", manifest.ValidatingAdmissionPolicySpec{Validations: []manifest.Validation{{Expression: "object.spec.replicas >"}}},
			"spec.validations[0].expression: compilation failed: 1:23: "},
		{"not a bool", manifest.ValidatingAdmissionPolicySpec{Validations: []manifest.Validation{{Expression: "1 + 2"}}},
			"spec.validations[0].expression: must evaluate to bool, not int"},
		{"a messageExpression not a string", manifest.ValidatingAdmissionPolicySpec{Validations: []manifest.Validation{{Expression: "true", MessageExpression: "1"}}},
			"spec.validations[0].messageExpression: must evaluate to string, not int"},
		{"nested comprehensions run away", manifest.ValidatingAdmissionPolicySpec{Validations: []manifest.Validation{{
			Expression: "object.spec.template.spec.containers.all(a, object.spec.template.spec.containers.all(b, " +
				"object.spec.template.spec.containers.all(c, a.name != b.name || b.name != c.name)))"}}},
			"spec.validations[0].expression: too expensive: the estimated cost "},
		{"a variable that does not compile", manifest.ValidatingAdmissionPolicySpec{Variables: []manifest.Variable{{Name: "x", Expression: "object.("}},
			Validations: []manifest.Validation{{Expression: "true"}}},
			"spec.variables[0].expression: compilation failed"},
		{"a match condition not a bool", manifest.ValidatingAdmissionPolicySpec{MatchConditions: []manifest.MatchCondition{{Name: "m", Expression: "'x'"}},
			Validations: []manifest.Validation{{Expression: "true"}}},
			"spec.matchConditions[0].expression: must evaluate to bool, not string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Compile("p", tt.spec)
			if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), tt.want) {
				t.Errorf("Compile = %v, want an error starting %q", errs, tt.want)
			}
		})
	}
}

// TestPolicyCost: expressions each within the limit, together beyond it.
func TestPolicyCost(t *testing.T) {
	expr := "object.spec.template.spec.containers.all(a, object.spec.template.spec.containers.all(b, true))"
	one := manifest.ValidatingAdmissionPolicySpec{Validations: []manifest.Validation{{Expression: expr}}}
	p, errs := Compile("p", one)
	if errs != nil {
		t.Fatalf("one double comprehension is already over the limit: %v", errs)
	}
	n := MaxPolicyCost/p.EstimatedCost + 1
	var many manifest.ValidatingAdmissionPolicySpec
	for range n {
		many.Validations = append(many.Validations, manifest.Validation{Expression: expr})
	}
	if _, errs := Compile("p", many); len(errs) != 1 || errs[0].Path != "spec" || !strings.Contains(errs[0].Message, "too expensive") {
		t.Errorf("%d validations of cost %d: %v", n, p.EstimatedCost, errs)
	}
}

func TestFailurePolicy(t *testing.T) {
	// object.spec.missing is an error ("no such key") on every object.
	spec := manifest.ValidatingAdmissionPolicySpec{MatchConstraints: rules("*"),
		Validations: []manifest.Validation{{Expression: "object.spec.missing == 1"}}}
	r := func() *Request {
		return &Request{Operation: "CREATE", Kind: kind("deployment"), Namespace: "default", Name: "web", Object: deployment("x", false)}
	}
	spec.FailurePolicy = manifest.FailurePolicyFail
	out := Evaluate(compilePolicy(t, spec), deny, r(), NewBudget())
	if len(out.Denials) != 1 || !strings.Contains(out.Denials[0], "denied request: expression 'object.spec.missing == 1' resulted in error: no such key: missing") {
		t.Errorf("Fail: %q", out.Denials)
	}
	spec.FailurePolicy = manifest.FailurePolicyIgnore
	if out := Evaluate(compilePolicy(t, spec), deny, r(), NewBudget()); len(out.Denials) != 0 {
		t.Errorf("Ignore: %q", out.Denials)
	}
}

func TestActions(t *testing.T) {
	p := compilePolicy(t, manifest.ValidatingAdmissionPolicySpec{MatchConstraints: rules("*"),
		Validations: []manifest.Validation{{Expression: "object.spec.replicas <= 2", Message: "at most 2 replicas"}}})
	r := &Request{Operation: "CREATE", Kind: kind("deployment"), Namespace: "default", Name: "web", Object: deployment("x", false)}
	b := Binding{Name: "b", Spec: manifest.ValidatingAdmissionPolicyBindingSpec{PolicyName: "images", ValidationActions: []string{"Warn", "Audit"}}}
	out := Evaluate(p, b, r, NewBudget())
	if len(out.Denials) != 0 ||
		strings.Join(out.Warnings, "|") != "Validation failed for ValidatingAdmissionPolicy 'images' with binding 'b': at most 2 replicas" ||
		strings.Join(out.Audits, "|") != "ValidatingAdmissionPolicy 'images' with binding 'b': at most 2 replicas" {
		t.Errorf("Warn+Audit: %+v", out)
	}
}

// TestRuntimeBudget: an object far larger than the estimate assumed stops
// at the per-expression limit, and an intent's budget stops what follows.
func TestRuntimeBudget(t *testing.T) {
	p := compilePolicy(t, manifest.ValidatingAdmissionPolicySpec{MatchConstraints: rules("*"),
		Validations: []manifest.Validation{{Expression: "object.spec.items.all(a, object.spec.items.all(b, true))"}}})
	items := make([]string, 5000)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	obj := json.RawMessage(`{"metadata":{"name":"web"},"spec":{"items":[` + strings.Join(items, ",") + `]}}`)
	r := &Request{Operation: "CREATE", Kind: kind("deployment"), Namespace: "default", Name: "web", Object: obj}
	out := Evaluate(p, deny, r, NewBudget())
	if len(out.Denials) != 1 || !strings.Contains(out.Denials[0], "cost limit exceeded") {
		t.Fatalf("a runaway evaluation: %q", out.Denials)
	}
	spent := &Budget{Remaining: 0}
	out = Evaluate(p, deny, r, spent)
	if len(out.Denials) != 1 || !strings.Contains(out.Denials[0], "running out of cost budget") {
		t.Errorf("with no budget left: %q", out.Denials)
	}
}
