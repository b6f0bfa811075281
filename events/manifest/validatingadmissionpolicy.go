package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) holds CEL
// validations that admission runs on the intents its match constraints
// select, once a ValidatingAdmissionPolicyBinding binds it. This file holds
// its shape and validation; the CEL itself is compiled, cost-checked and
// evaluated by events/admissionpolicy.

// Kinds and apiVersion of admission policies.
const (
	KindValidatingAdmissionPolicy        = "ValidatingAdmissionPolicy"
	KindValidatingAdmissionPolicyBinding = "ValidatingAdmissionPolicyBinding"
	APIAdmissionRegistrationV1           = "admissionregistration.k8s.io/v1"
)

// Values of a policy's failurePolicy.
const (
	FailurePolicyFail   = "Fail"
	FailurePolicyIgnore = "Ignore"
)

// Operations a resource rule names, as Kubernetes spells them.
const (
	OperationCreate = "CREATE"
	OperationUpdate = "UPDATE"
	OperationDelete = "DELETE"
	OperationAll    = "*"
)

// Bounds of a policy, as Kubernetes' API bounds them (an expression of at
// most 5 KiB, a message without line breaks).
const (
	MaxPolicyExpressionLength = 5 * 1024
	MaxPolicyMessageLength    = 1024
	MaxPolicyItems            = 64 // validations, variables, matchConditions, rules
)

// ValidatingAdmissionPolicySpec is admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicySpec; paramKind and auditAnnotations are refused
// as not supported yet.
type ValidatingAdmissionPolicySpec struct {
	MatchConstraints *MatchResources  `json:"matchConstraints,omitempty"`
	Validations      []Validation     `json:"validations,omitempty"`
	FailurePolicy    string           `json:"failurePolicy,omitempty"`
	MatchConditions  []MatchCondition `json:"matchConditions,omitempty"`
	Variables        []Variable       `json:"variables,omitempty"`
}

// MatchResources selects the intents a policy (or a binding) applies to:
// by resource rules, and the labels of the object and of its namespace.
type MatchResources struct {
	NamespaceSelector    *LabelSelector            `json:"namespaceSelector,omitempty"`
	ObjectSelector       *LabelSelector            `json:"objectSelector,omitempty"`
	ResourceRules        []NamedRuleWithOperations `json:"resourceRules,omitempty"`
	ExcludeResourceRules []NamedRuleWithOperations `json:"excludeResourceRules,omitempty"`
	MatchPolicy          string                    `json:"matchPolicy,omitempty"`
}

// NamedRuleWithOperations is one resource rule: operations on resources of
// API groups and versions, optionally only some names, of a scope.
type NamedRuleWithOperations struct {
	ResourceNames []string `json:"resourceNames,omitempty"`
	Operations    []string `json:"operations,omitempty"`
	APIGroups     []string `json:"apiGroups,omitempty"`
	APIVersions   []string `json:"apiVersions,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	Scope         string   `json:"scope,omitempty"`
}

// Validation is one CEL expression that must hold, with the message (or
// an expression making it) and the reason of a denial.
type Validation struct {
	Expression        string `json:"expression"`
	Message           string `json:"message,omitempty"`
	Reason            string `json:"reason,omitempty"`
	MessageExpression string `json:"messageExpression,omitempty"`
}

// MatchCondition is a CEL expression an intent must satisfy for the policy
// to judge it at all.
type MatchCondition struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// Variable is a named CEL expression the validations read as
// variables.<name>.
type Variable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// Reasons a validation may give, as Kubernetes' StatusReason.
var policyReasons = []string{"Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"}

// celIdentifier is what a variable's name must be (a CEL identifier).
var celIdentifier = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)

// ValidatingAdmissionPolicy is the object's spec if it is a policy, or nil.
func (o Object) ValidatingAdmissionPolicy() *ValidatingAdmissionPolicySpec {
	s, _ := o.Spec.(*ValidatingAdmissionPolicySpec)
	return s
}

// Failure is the policy's failurePolicy, Fail when unset.
func (s ValidatingAdmissionPolicySpec) Failure() string {
	if s.FailurePolicy == "" {
		return FailurePolicyFail
	}
	return s.FailurePolicy
}

func validateValidatingAdmissionPolicy(errs *FieldErrors, s ValidatingAdmissionPolicySpec) {
	if p := s.FailurePolicy; p != "" && p != FailurePolicyFail && p != FailurePolicyIgnore {
		errs.addf("spec.failurePolicy", "Unsupported value: %q: supported values: %q, %q", p, FailurePolicyFail, FailurePolicyIgnore)
	}
	if s.MatchConstraints == nil {
		errs.add("spec.matchConstraints", "Required value")
	} else {
		validateMatchResources(errs, "spec.matchConstraints", *s.MatchConstraints, true)
	}
	if len(s.Validations) == 0 {
		errs.add("spec.validations", "Required value: validations must contain at least one item")
	}
	validatePolicyItems(errs, "spec.validations", len(s.Validations))
	for i, v := range s.Validations {
		p := indexPath("spec.validations", i)
		validateExpression(errs, fieldPath(p, "expression"), v.Expression, true)
		if len(v.Message) > MaxPolicyMessageLength {
			errs.addf(fieldPath(p, "message"), "Too long: may not be more than %d bytes", MaxPolicyMessageLength)
		} else if strings.ContainsAny(v.Message, "\r\n") {
			errs.addf(fieldPath(p, "message"), "Invalid value: %q: message must not contain line breaks", v.Message)
		}
		validateExpression(errs, fieldPath(p, "messageExpression"), v.MessageExpression, false)
		if v.Reason != "" && !slices.Contains(policyReasons, v.Reason) {
			errs.addf(fieldPath(p, "reason"), "Unsupported value: %q: supported values: %s", v.Reason, quoted(policyReasons))
		}
	}
	validatePolicyItems(errs, "spec.variables", len(s.Variables))
	seen := map[string]bool{}
	for i, v := range s.Variables {
		p := indexPath("spec.variables", i)
		switch {
		case v.Name == "":
			errs.add(fieldPath(p, "name"), "Required value: name is not specified")
		case !celIdentifier.MatchString(v.Name):
			errs.addf(fieldPath(p, "name"), "Invalid value: %q: name is not a valid CEL identifier", v.Name)
		case seen[v.Name]:
			errs.addf(fieldPath(p, "name"), "Duplicate value: %q", v.Name)
		}
		seen[v.Name] = true
		validateExpression(errs, fieldPath(p, "expression"), v.Expression, true)
	}
	validatePolicyItems(errs, "spec.matchConditions", len(s.MatchConditions))
	seen = map[string]bool{}
	for i, c := range s.MatchConditions {
		p := indexPath("spec.matchConditions", i)
		switch {
		case c.Name == "":
			errs.add(fieldPath(p, "name"), "Required value")
		case !qualifiedNamePattern.MatchString(c.Name) || len(c.Name) > maxLabelLength:
			errs.addf(fieldPath(p, "name"), "Invalid value: %q: must be a qualified name (e.g. 'exclude-leases')", c.Name)
		case seen[c.Name]:
			errs.addf(fieldPath(p, "name"), "Duplicate value: %q", c.Name)
		}
		seen[c.Name] = true
		validateExpression(errs, fieldPath(p, "expression"), c.Expression, true)
	}
}

// qualifiedNamePattern is the name part of a Kubernetes qualified name.
var qualifiedNamePattern = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

func validatePolicyItems(errs *FieldErrors, path string, n int) {
	if n > MaxPolicyItems {
		errs.addf(path, "Too many: %d: must have at most %d items", n, MaxPolicyItems)
	}
}

func validateExpression(errs *FieldErrors, path, expr string, required bool) {
	switch {
	case required && strings.TrimSpace(expr) == "":
		errs.add(path, "Required value: expression is not specified")
	case len(expr) > MaxPolicyExpressionLength:
		errs.addf(path, "Too long: may not be more than %d bytes", MaxPolicyExpressionLength)
	}
}

// validateMatchResources checks selectors and resource rules; a policy's
// matchConstraints must have resource rules, a binding's may leave them out.
func validateMatchResources(errs *FieldErrors, path string, m MatchResources, rulesRequired bool) {
	if m.NamespaceSelector != nil {
		validateLabelSelector(errs, fieldPath(path, "namespaceSelector"), *m.NamespaceSelector)
	}
	if m.ObjectSelector != nil {
		validateLabelSelector(errs, fieldPath(path, "objectSelector"), *m.ObjectSelector)
	}
	if rulesRequired && len(m.ResourceRules) == 0 {
		errs.add(fieldPath(path, "resourceRules"), "Required value")
	}
	for _, f := range []struct {
		name  string
		rules []NamedRuleWithOperations
	}{{"resourceRules", m.ResourceRules}, {"excludeResourceRules", m.ExcludeResourceRules}} {
		validatePolicyItems(errs, fieldPath(path, f.name), len(f.rules))
		for i, r := range f.rules {
			validateRule(errs, indexPath(fieldPath(path, f.name), i), r)
		}
	}
	if p := m.MatchPolicy; p != "" && p != "Exact" && p != "Equivalent" {
		errs.addf(fieldPath(path, "matchPolicy"), "Unsupported value: %q: supported values: \"Equivalent\", \"Exact\"", p)
	}
}

func validateRule(errs *FieldErrors, path string, r NamedRuleWithOperations) {
	for _, f := range []struct {
		name   string
		values []string
	}{{"operations", r.Operations}, {"apiGroups", r.APIGroups}, {"apiVersions", r.APIVersions}, {"resources", r.Resources}} {
		if len(f.values) == 0 {
			errs.add(fieldPath(path, f.name), "Required value")
		}
		if len(f.values) > 1 && slices.Contains(f.values, "*") {
			errs.add(fieldPath(path, f.name), "Invalid value: if '*' is present, must not specify other values")
		}
	}
	for i, op := range r.Operations {
		switch op {
		case OperationCreate, OperationUpdate, OperationDelete, OperationAll:
		default:
			errs.addf(indexPath(fieldPath(path, "operations"), i), "Unsupported value: %q: supported values: \"*\", \"CREATE\", \"DELETE\", \"UPDATE\"", op)
		}
	}
	for i, res := range r.Resources {
		if strings.Contains(res, "/") && res != "*/*" {
			errs.addf(indexPath(fieldPath(path, "resources"), i), "Invalid value: %q: subresources are not supported yet", res)
		}
	}
	if s := r.Scope; s != "" && s != "*" && s != "Cluster" && s != "Namespaced" {
		errs.addf(fieldPath(path, "scope"), "Unsupported value: %q: supported values: \"*\", \"Cluster\", \"Namespaced\"", s)
	}
}

func quoted(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// describeMatch is a policy's or a binding's match resources as lines of
// `describe`.
func describeMatch(m *MatchResources) []Field {
	if m == nil {
		return nil
	}
	fs := []Field{}
	if m.NamespaceSelector != nil {
		fs = append(fs, Field{"  Namespace Selector", orNone(FormatSelector(m.NamespaceSelector))})
	}
	if m.ObjectSelector != nil {
		fs = append(fs, Field{"  Object Selector", orNone(FormatSelector(m.ObjectSelector))})
	}
	for _, f := range []struct {
		name  string
		rules []NamedRuleWithOperations
	}{{"Resource Rules", m.ResourceRules}, {"Exclude Resource Rules", m.ExcludeResourceRules}} {
		for _, r := range f.rules {
			fs = append(fs, Field{"  " + f.name, fmt.Sprintf("apiGroups=%s apiVersions=%s resources=%s operations=%s",
				groupList(r.APIGroups), strings.Join(r.APIVersions, ","), strings.Join(r.Resources, ","), strings.Join(r.Operations, ","))})
		}
	}
	return fs
}

// groupList prints the core group "" as kubectl does, "".
func groupList(gs []string) string {
	out := make([]string, len(gs))
	for i, g := range gs {
		if g == "" {
			g = `""`
		}
		out[i] = g
	}
	return strings.Join(out, ",")
}

// validatingAdmissionPolicyKind is admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicy: CEL validations of intents.
var validatingAdmissionPolicyKind = KindInfo{
	APIVersion: APIAdmissionRegistrationV1, Kind: KindValidatingAdmissionPolicy, Token: "validatingadmissionpolicy",
	Plural: "validatingadmissionpolicies", ClusterScoped: true,
	spec: specType[ValidatingAdmissionPolicySpec](),
	validate: func(errs *FieldErrors, o Object) {
		validateValidatingAdmissionPolicy(errs, *o.ValidatingAdmissionPolicy())
	},
	defaults: func(o *Object) {
		s := *o.ValidatingAdmissionPolicy()
		s.FailurePolicy = s.Failure()
		if m := s.MatchConstraints; m != nil && m.MatchPolicy == "" {
			mc := *m
			mc.MatchPolicy = "Equivalent"
			s.MatchConstraints = &mc
		}
		o.Spec = &s
	},
	// kubectl: NAME VALIDATIONS PARAMKIND AGE
	Columns: []Column{
		{Header: "VALIDATIONS", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return strconv.Itoa(len(o.ValidatingAdmissionPolicy().Validations))
		}},
		{Header: "PARAMKIND", Cell: func(Object, WorkloadStatus, time.Time) string { return "<unset>" }},
	},
	Describe: func(o Object, _ WorkloadStatus) []Field {
		s := o.ValidatingAdmissionPolicy()
		fs := []Field{{"Failure Policy", s.Failure()}, {"Match Constraints", ""}}
		fs = append(fs, describeMatch(s.MatchConstraints)...)
		for _, c := range s.MatchConditions {
			fs = append(fs, Field{"Match Condition " + c.Name, c.Expression})
		}
		for _, v := range s.Variables {
			fs = append(fs, Field{"Variable " + v.Name, v.Expression})
		}
		fs = append(fs, Field{"Validations", strconv.Itoa(len(s.Validations))})
		for _, v := range s.Validations {
			fs = append(fs, Field{"  Expression", v.Expression})
			if v.Message != "" {
				fs = append(fs, Field{"  Message", v.Message})
			}
			if v.MessageExpression != "" {
				fs = append(fs, Field{"  Message Expression", v.MessageExpression})
			}
			if v.Reason != "" {
				fs = append(fs, Field{"  Reason", v.Reason})
			}
		}
		return fs
	},
}
