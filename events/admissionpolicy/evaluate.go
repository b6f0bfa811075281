package admissionpolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/gantry-sh/gantry/events/celcheck"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Request is one intent as policies see it.
type Request struct {
	Operation string // manifest.OperationCreate, OperationUpdate or OperationDelete
	Kind      *manifest.KindInfo
	Namespace string // "" for a cluster-scoped object
	Name      string
	UserName  string // the envelope's actor
	// Object is the object applied (nil for a DELETE), OldObject the one
	// accepted before (nil for a CREATE), NamespaceObject its Namespace
	// (nil for a cluster-scoped object): each its canonical JSON.
	Object, OldObject, NamespaceObject json.RawMessage

	parsed                      bool
	vars                        map[string]any // the CEL variables, made once
	labels, oldLabels, nsLabels map[string]string
}

// prepare parses the objects once, however many policies judge them.
func (r *Request) prepare() {
	if r.parsed {
		return
	}
	r.parsed = true
	obj, oldObj, nsObj := parseJSON(r.Object), parseJSON(r.OldObject), parseJSON(r.NamespaceObject)
	r.labels, r.oldLabels, r.nsLabels = labelsOf(obj), labelsOf(oldObj), labelsOf(nsObj)
	group, version := "", r.Kind.APIVersion
	if g, v, ok := strings.Cut(version, "/"); ok {
		group, version = g, v
	}
	r.vars = map[string]any{
		"object": obj, "oldObject": oldObj, "namespaceObject": nsObj,
		"request": map[string]any{
			"operation": r.Operation, "namespace": r.Namespace, "name": r.Name, "dryRun": false,
			"kind":     map[string]any{"group": group, "version": version, "kind": r.Kind.Kind},
			"resource": map[string]any{"group": group, "version": version, "resource": r.Kind.Plural},
			"userInfo": map[string]any{"username": r.UserName},
		},
	}
}

// parseJSON is a JSON object as CEL reads it (maps, lists, strings, bools,
// int64 for integers, float64 for other numbers), or nil.
func parseJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return celcheck.Numbers(v)
}

func labelsOf(obj any) map[string]string {
	m, _ := obj.(map[string]any)
	meta, _ := m["metadata"].(map[string]any)
	ls, _ := meta["labels"].(map[string]any)
	out := map[string]string{}
	for k, v := range ls {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Matches reports whether match selects the request: a resource rule
// matches and no exclude rule does, and the selectors match. A binding's
// matchResources without rules selects every resource (rulesRequired
// false).
func Matches(m *manifest.MatchResources, r *Request, rulesRequired bool) bool {
	if m == nil {
		return !rulesRequired
	}
	r.prepare()
	if (rulesRequired || len(m.ResourceRules) > 0) && !slices.ContainsFunc(m.ResourceRules, func(x manifest.NamedRuleWithOperations) bool { return ruleMatches(x, r) }) {
		return false
	}
	if slices.ContainsFunc(m.ExcludeResourceRules, func(x manifest.NamedRuleWithOperations) bool { return ruleMatches(x, r) }) {
		return false
	}
	if s := m.ObjectSelector; s != nil && !s.Matches(r.labels) && !(r.OldObject != nil && s.Matches(r.oldLabels)) {
		return false
	}
	if s := m.NamespaceSelector; s != nil {
		switch {
		case r.Kind.Kind == "Namespace":
			// a Namespace is matched by its own labels, as in Kubernetes
			if !s.Matches(r.labels) && !(r.OldObject != nil && s.Matches(r.oldLabels)) {
				return false
			}
		case r.Kind.ClusterScoped:
			// other cluster-scoped objects have no namespace to select
		case !s.Matches(r.nsLabels):
			return false
		}
	}
	return true
}

func ruleMatches(x manifest.NamedRuleWithOperations, r *Request) bool {
	group, version := "", r.Kind.APIVersion
	if g, v, ok := strings.Cut(version, "/"); ok {
		group, version = g, v
	}
	in := func(vs []string, v string) bool { return slices.Contains(vs, "*") || slices.Contains(vs, v) }
	scope := x.Scope
	switch {
	case !in(x.Operations, r.Operation), !in(x.APIGroups, group), !in(x.APIVersions, version):
		return false
	case !slices.Contains(x.Resources, "*/*") && !in(x.Resources, r.Kind.Plural):
		return false
	case len(x.ResourceNames) > 0 && !slices.Contains(x.ResourceNames, r.Name):
		return false
	case scope == "Cluster" && !r.Kind.ClusterScoped, scope == "Namespaced" && r.Kind.ClusterScoped:
		return false
	}
	return true
}

// Binding is a ValidatingAdmissionPolicyBinding by name.
type Binding struct {
	Name string
	Spec manifest.ValidatingAdmissionPolicyBindingSpec
}

// Budget is the run-time cost an intent's policies may still spend.
type Budget struct{ Remaining int64 }

// NewBudget is the budget of one intent, MaxIntentCost.
func NewBudget() *Budget { return &Budget{Remaining: MaxIntentCost} }

// Outcome is what a policy's validations decided through one binding:
// denials (the reasons of a refusal), warnings and audit records, each in
// Kubernetes' words, and the reason of the first denial.
type Outcome struct {
	Denials  []string
	Reason   string
	Warnings []string
	Audits   []string
}

// Evaluate judges the request against the policy through the binding,
// which must both select it: match conditions, variables, validations.
// An expression that fails (an error, its cost beyond the limits) follows
// the policy's failurePolicy: with Fail it counts as a failed validation,
// with Ignore it is ignored.
func Evaluate(p *Policy, b Binding, r *Request, budget *Budget) Outcome {
	r.prepare()
	var out Outcome
	prefix := fmt.Sprintf("ValidatingAdmissionPolicy '%s' with binding '%s'", p.Name, b.Name)
	failed := func(msg, reason string) {
		if reason == "" {
			reason = "Invalid"
		}
		if b.Spec.Has(manifest.ActionDeny) {
			if out.Reason == "" {
				out.Reason = reason
			}
			out.Denials = append(out.Denials, prefix+" denied request: "+msg)
		}
		if b.Spec.Has(manifest.ActionWarn) {
			out.Warnings = append(out.Warnings, "Validation failed for "+prefix+": "+msg)
		}
		if b.Spec.Has(manifest.ActionAudit) {
			out.Audits = append(out.Audits, prefix+": "+msg)
		}
	}
	failure := func(msg string) {
		if p.Spec.Failure() == manifest.FailurePolicyFail {
			failed(msg, "Invalid")
		}
	}
	vars := map[string]any{}
	for k, v := range r.vars {
		vars[k] = v
	}
	values := map[string]any{}
	vars["variables"] = values
	varErrs := map[string]error{}
	for _, v := range p.variables {
		val, err := eval(v.prg, vars, budget)
		if err != nil {
			varErrs[v.name] = err // an error only if a validation reads it
			continue
		}
		values[v.name] = val
	}
	explain := func(err error) error {
		for name, verr := range varErrs {
			if strings.Contains(err.Error(), name) {
				return fmt.Errorf("variables.%s: %v", name, verr)
			}
		}
		return err
	}
	for _, c := range p.conditions {
		val, err := eval(c.prg, vars, budget)
		if err != nil {
			failure(fmt.Sprintf("failed to evaluate match condition '%s': %v", c.name, explain(err)))
			return out
		}
		if ok, _ := val.(bool); !ok {
			return out // the policy does not judge this request
		}
	}
	for i, v := range p.validations {
		spec := p.Spec.Validations[i]
		val, err := eval(v.prg, vars, budget)
		if err != nil {
			failure(fmt.Sprintf("expression '%s' resulted in error: %v", v.expr, explain(err)))
			continue
		}
		ok, isBool := val.(bool)
		if !isBool {
			failure(fmt.Sprintf("expression '%s' returned %T, not a bool", v.expr, val))
			continue
		}
		if ok {
			continue
		}
		msg := spec.Message
		if msg == "" {
			msg = "failed expression: " + v.expr
		}
		if v.message.prg != nil {
			// a messageExpression that fails or returns "" leaves the message
			if m, err := eval(v.message.prg, vars, budget); err == nil {
				if s, _ := m.(string); strings.TrimSpace(s) != "" && !strings.ContainsAny(s, "\r\n") {
					msg = s
				}
			}
		}
		failed(msg, spec.Reason)
	}
	return out
}

// errBudget is the error of an expression not run: the intent's policies
// spent their budget.
var errBudget = fmt.Errorf("validation failed due to running out of cost budget, no further validation rules will be run (more than %d)", MaxIntentCost)

// eval runs one program within the intent's budget, returning its value as
// a Go value (a bool, a string, a map...).
func eval(prg cel.Program, vars map[string]any, budget *Budget) (any, error) {
	if budget.Remaining <= 0 {
		return nil, errBudget
	}
	out, details, err := prg.Eval(vars)
	if details != nil && details.ActualCost() != nil {
		budget.Remaining -= int64(min(*details.ActualCost(), uint64(MaxIntentCost)))
	}
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return nil, fmt.Errorf("%v: more than %d", err, MaxExpressionCost)
		}
		return nil, err
	}
	switch v := out.(type) {
	case types.Bool:
		return bool(v), nil
	case types.String:
		return string(v), nil
	}
	return out, nil
}
