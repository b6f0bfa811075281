package manifest

import (
	"testing"
	"time"
)

const policyRules = "matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], resources: [deployments], operations: [CREATE]}\n  "

func TestValidateValidatingAdmissionPolicy(t *testing.T) {
	tests := []struct {
		name string
		spec string // the lines under spec:
		want []string
	}{
		{"good", policyRules + "validations: [{expression: 'true', message: no}]\n  variables: [{name: n, expression: '1'}]\n  matchConditions: [{name: m, expression: 'true'}]", nil},
		{"no constraints, no validations", "failurePolicy: Maybe", []string{
			`spec.failurePolicy: Unsupported value: "Maybe": supported values: "Fail", "Ignore"`,
			"spec.matchConstraints: Required value",
			"spec.validations: Required value: validations must contain at least one item",
		}},
		{"bad rule", "matchConstraints:\n    resourceRules:\n    - {apiGroups: ['*', apps], apiVersions: [v1], resources: [pods/status], operations: [CONNECT]}\n  validations: [{expression: 'true'}]", []string{
			"spec.matchConstraints.resourceRules[0].apiGroups: Invalid value: if '*' is present, must not specify other values",
			`spec.matchConstraints.resourceRules[0].operations[0]: Unsupported value: "CONNECT": supported values: "*", "CREATE", "DELETE", "UPDATE"`,
			`spec.matchConstraints.resourceRules[0].resources[0]: Invalid value: "pods/status": subresources are not supported yet`,
		}},
		{"bad validation and variable", policyRules + "validations: [{expression: '', message: \"a\\nb\", reason: Teapot}]\n  variables: [{name: 1x, expression: '1'}, {name: y, expression: '2'}, {name: y, expression: '3'}]", []string{
			"spec.validations[0].expression: Required value: expression is not specified",
			`spec.validations[0].message: Invalid value: "a\nb": message must not contain line breaks`,
			`spec.validations[0].reason: Unsupported value: "Teapot": supported values: "Unauthorized", "Forbidden", "Invalid", "RequestEntityTooLarge"`,
			`spec.variables[0].name: Invalid value: "1x": name is not a valid CEL identifier`,
			`spec.variables[2].name: Duplicate value: "y"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: p\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
	o := mustDecode(t, "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: p\nspec:\n  "+policyRules+"validations: [{expression: 'true'}]\n")
	o.Defaults()
	if got := o.ValidatingAdmissionPolicy().FailurePolicy; got != FailurePolicyFail {
		t.Errorf("failurePolicy defaults to %q", got)
	}
	k := o.Info()
	if got := k.Columns[0].Header + "=" + k.Columns[0].Cell(o, WorkloadStatus{}, time.Time{}) + " " + k.Columns[1].Header + "=" + k.Columns[1].Cell(o, WorkloadStatus{}, time.Time{}); got != "VALIDATIONS=1 PARAMKIND=<unset>" {
		t.Errorf("columns %s", got)
	}
}

func TestValidateValidatingAdmissionPolicyBinding(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string
	}{
		{"good", "policyName: p\n  validationActions: [Deny, Audit]\n  matchResources: {namespaceSelector: {matchLabels: {env: prod}}}", nil},
		{"empty", "validationActions: []", []string{
			"spec.policyName: Required value",
			"spec.validationActions: Required value: at least one validation action is required",
		}},
		{"bad actions", "policyName: p\n  validationActions: [Deny, Warn, Deny, Block]", []string{
			`spec.validationActions[2]: Duplicate value: "Deny"`,
			`spec.validationActions[3]: Unsupported value: "Block": supported values: "Audit", "Deny", "Warn"`,
			"spec.validationActions: Invalid value: Deny and Warn may not both be used: a denial already tells the client",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata:\n  name: b\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
}
