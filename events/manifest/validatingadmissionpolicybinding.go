package manifest

import (
	"slices"
	"strings"
	"time"
)

// Actions a binding takes on a failed validation, as Kubernetes names them.
const (
	ActionDeny  = "Deny"
	ActionWarn  = "Warn"
	ActionAudit = "Audit"
)

// ValidatingAdmissionPolicyBindingSpec is admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicyBindingSpec: which policy is enforced, how, and
// on which resources besides the policy's own constraints. paramRef is
// refused as not supported yet.
type ValidatingAdmissionPolicyBindingSpec struct {
	PolicyName        string          `json:"policyName"`
	MatchResources    *MatchResources `json:"matchResources,omitempty"`
	ValidationActions []string        `json:"validationActions,omitempty"`
}

// ValidatingAdmissionPolicyBinding is the object's spec if it is a binding,
// or nil.
func (o Object) ValidatingAdmissionPolicyBinding() *ValidatingAdmissionPolicyBindingSpec {
	s, _ := o.Spec.(*ValidatingAdmissionPolicyBindingSpec)
	return s
}

// Has reports whether the binding takes action a.
func (s ValidatingAdmissionPolicyBindingSpec) Has(a string) bool {
	return slices.Contains(s.ValidationActions, a)
}

func validateValidatingAdmissionPolicyBinding(errs *FieldErrors, s ValidatingAdmissionPolicyBindingSpec) {
	if s.PolicyName == "" {
		errs.add("spec.policyName", "Required value")
	} else if len(s.PolicyName) > maxSubdomainLength || !dns1123Subdomain.MatchString(s.PolicyName) {
		errs.addf("spec.policyName", "Invalid value: %q: must be a DNS subdomain (the name of a ValidatingAdmissionPolicy)", s.PolicyName)
	}
	if s.MatchResources != nil {
		validateMatchResources(errs, "spec.matchResources", *s.MatchResources, false)
	}
	apath := "spec.validationActions"
	if len(s.ValidationActions) == 0 {
		errs.add(apath, "Required value: at least one validation action is required")
	}
	seen := map[string]bool{}
	for i, a := range s.ValidationActions {
		switch {
		case a != ActionDeny && a != ActionWarn && a != ActionAudit:
			errs.addf(indexPath(apath, i), "Unsupported value: %q: supported values: \"Audit\", \"Deny\", \"Warn\"", a)
		case seen[a]:
			errs.addf(indexPath(apath, i), "Duplicate value: %q", a)
		}
		seen[a] = true
	}
	if seen[ActionDeny] && seen[ActionWarn] {
		errs.add(apath, "Invalid value: Deny and Warn may not both be used: a denial already tells the client")
	}
}

// validatingAdmissionPolicyBindingKind is admissionregistration.k8s.io/v1
// ValidatingAdmissionPolicyBinding: a policy put in force.
var validatingAdmissionPolicyBindingKind = KindInfo{
	APIVersion: APIAdmissionRegistrationV1, Kind: KindValidatingAdmissionPolicyBinding,
	Token: "validatingadmissionpolicybinding", Plural: "validatingadmissionpolicybindings", ClusterScoped: true,
	spec: specType[ValidatingAdmissionPolicyBindingSpec](),
	validate: func(errs *FieldErrors, o Object) {
		validateValidatingAdmissionPolicyBinding(errs, *o.ValidatingAdmissionPolicyBinding())
	},
	// kubectl: NAME POLICYNAME PARAMREF AGE
	Columns: []Column{
		{Header: "POLICYNAME", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return o.ValidatingAdmissionPolicyBinding().PolicyName
		}},
		{Header: "PARAMREF", Cell: func(Object, WorkloadStatus, time.Time) string { return "<unset>" }},
	},
	Describe: func(o Object, _ WorkloadStatus) []Field {
		s := o.ValidatingAdmissionPolicyBinding()
		fs := []Field{{"Policy Name", s.PolicyName}, {"Validation Actions", strings.Join(s.ValidationActions, ", ")}}
		if s.MatchResources != nil {
			fs = append(fs, Field{"Match Resources", ""})
			fs = append(fs, describeMatch(s.MatchResources)...)
		}
		return fs
	},
}
