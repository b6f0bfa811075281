package manifest

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Role, ClusterRole, RoleBinding and ClusterRoleBinding
// (rbac.authorization.k8s.io/v1), with Kubernetes' field names: who may do
// what, judged by admission (package events/authz decides; see
// docs/security-rbac.md).
const (
	APIRBACV1              = "rbac.authorization.k8s.io/v1"
	RBACGroup              = "rbac.authorization.k8s.io"
	KindRole               = "Role"
	KindClusterRole        = "ClusterRole"
	KindRoleBinding        = "RoleBinding"
	KindClusterRoleBinding = "ClusterRoleBinding"
	// Subject kinds: a user or a group by name (ServiceAccount is not
	// supported yet: Gantry has no service accounts).
	SubjectUser  = "User"
	SubjectGroup = "Group"
)

// PolicyRule is rbac/v1 PolicyRule: verbs allowed on resources of API
// groups, optionally only on the named objects. "*" is every value.
type PolicyRule struct {
	Verbs         []string `json:"verbs"`
	APIGroups     []string `json:"apiGroups,omitempty"`
	Resources     []string `json:"resources,omitempty"`
	ResourceNames []string `json:"resourceNames,omitempty"`
}

// RoleSpec is a Role's content: its rules (top level, beside metadata).
type RoleSpec struct {
	Rules []PolicyRule `json:"rules"`
}

// ClusterRoleSpec is a ClusterRole's content: its rules.
type ClusterRoleSpec struct {
	Rules []PolicyRule `json:"rules"`
}

// Subject is rbac/v1 Subject: a User or a Group.
type Subject struct {
	Kind     string `json:"kind"`
	APIGroup string `json:"apiGroup,omitempty"`
	Name     string `json:"name"`
}

// RoleRef is rbac/v1 RoleRef: the role a binding grants. Immutable, as
// in Kubernetes.
type RoleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

// BindingSpec is a RoleBinding's or a ClusterRoleBinding's content.
type BindingSpec struct {
	Subjects []Subject `json:"subjects,omitempty"`
	RoleRef  RoleRef   `json:"roleRef"`
}

func init() {
	// Refused as not supported yet rather than as unknown fields.
	notSupported[reflect.TypeFor[PolicyRule]()] = []string{"nonResourceURLs"}
	notSupported[reflect.TypeFor[ClusterRoleSpec]()] = []string{"aggregationRule"}
	notSupported[reflect.TypeFor[Subject]()] = []string{"namespace"}
}

// Rules is the object's rules if it is a Role or a ClusterRole, else nil.
func (o Object) Rules() []PolicyRule {
	switch s := o.Spec.(type) {
	case *RoleSpec:
		return s.Rules
	case *ClusterRoleSpec:
		return s.Rules
	}
	return nil
}

// Binding is the object's content if it is a RoleBinding or a
// ClusterRoleBinding, or nil.
func (o Object) Binding() *BindingSpec { s, _ := o.Spec.(*BindingSpec); return s }

// validateRules checks each rule as Kubernetes does: verbs, and apiGroups
// and resources (there are no non-resource URLs), each value non-empty
// but "" in apiGroups (the core group).
func validateRules(errs *FieldErrors, rules []PolicyRule) {
	for i, r := range rules {
		p := indexPath("rules", i)
		if len(r.Verbs) == 0 {
			errs.add(fieldPath(p, "verbs"), "Required value: verbs must contain at least one value")
		}
		if len(r.APIGroups) == 0 {
			errs.add(fieldPath(p, "apiGroups"), "Required value: resource rules must supply at least one api group (\"\" is the core group)")
		}
		if len(r.Resources) == 0 {
			errs.add(fieldPath(p, "resources"), "Required value: resource rules must supply at least one resource")
		}
		for _, f := range []struct {
			name string
			vs   []string
		}{{"verbs", r.Verbs}, {"resources", r.Resources}, {"resourceNames", r.ResourceNames}} {
			for j, v := range f.vs {
				if strings.TrimSpace(v) == "" {
					errs.add(indexPath(fieldPath(p, f.name), j), "Required value: must not be empty")
				}
			}
		}
	}
}

// validateBinding checks a binding's subjects and roleRef; cluster is a
// ClusterRoleBinding, which may only grant a ClusterRole.
func validateBinding(errs *FieldErrors, b BindingSpec, cluster bool) {
	for i, s := range b.Subjects {
		p := indexPath("subjects", i)
		switch s.Kind {
		case SubjectUser, SubjectGroup:
		case "ServiceAccount":
			errs.add(fieldPath(p, "kind"), "Unsupported value: \"ServiceAccount\": not supported yet (Gantry has no service accounts): User or Group")
		default:
			errs.addf(fieldPath(p, "kind"), "Unsupported value: %q: supported values: \"User\", \"Group\"", s.Kind)
		}
		if s.APIGroup != RBACGroup && s.APIGroup != "" {
			errs.addf(fieldPath(p, "apiGroup"), "Unsupported value: %q: supported values: %q", s.APIGroup, RBACGroup)
		}
		if s.Name == "" {
			errs.add(fieldPath(p, "name"), "Required value")
		}
	}
	r := b.RoleRef
	if r.APIGroup != RBACGroup {
		errs.addf("roleRef.apiGroup", "Unsupported value: %q: supported values: %q", r.APIGroup, RBACGroup)
	}
	switch {
	case r.Kind == KindClusterRole, r.Kind == KindRole && !cluster:
	case cluster:
		errs.addf("roleRef.kind", "Unsupported value: %q: supported values: \"ClusterRole\"", r.Kind)
	default:
		errs.addf("roleRef.kind", "Unsupported value: %q: supported values: \"Role\", \"ClusterRole\"", r.Kind)
	}
	if fe := ValidateName("roleRef.name", r.Name); fe != nil {
		errs.add(fe.Path, fe.Message)
	}
}

// withDefaults fills a User's or Group's apiGroup, as Kubernetes does.
func (b BindingSpec) withDefaults() BindingSpec {
	subs := append([]Subject(nil), b.Subjects...)
	for i := range subs {
		if subs[i].APIGroup == "" && (subs[i].Kind == SubjectUser || subs[i].Kind == SubjectGroup) {
			subs[i].APIGroup = RBACGroup
		}
	}
	b.Subjects = subs
	return b
}

// RoleRefString is a binding's role as kubectl's ROLE column prints it:
// "ClusterRole/view".
func (r RoleRef) String() string { return r.Kind + "/" + r.Name }

// subjectNames lists the names of the subjects of kind, comma-separated,
// as kubectl's USERS and GROUPS columns.
func subjectNames(b *BindingSpec, kind string) string {
	var out []string
	for _, s := range b.Subjects {
		if s.Kind == kind {
			out = append(out, s.Name)
		}
	}
	return strings.Join(out, ", ")
}

// bindingColumns are kubectl's columns of RoleBindings and
// ClusterRoleBindings: ROLE, and with -o wide USERS, GROUPS and
// SERVICEACCOUNTS.
var bindingColumns = []Column{
	{Header: "ROLE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.Binding().RoleRef.String() }},
	{Header: "USERS", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return subjectNames(o.Binding(), SubjectUser) }},
	{Header: "GROUPS", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return subjectNames(o.Binding(), SubjectGroup) }},
	{Header: "SERVICEACCOUNTS", Wide: true, Cell: func(Object, WorkloadStatus, time.Time) string { return "" }},
}

// describeBinding is kubectl describe's Role and Subjects of a binding.
func describeBinding(o Object, _ WorkloadStatus) []Field {
	b := o.Binding()
	fs := []Field{{"Role", ""}, {"  Kind", b.RoleRef.Kind}, {"  Name", b.RoleRef.Name}, {"Subjects", ""}}
	for _, s := range b.Subjects {
		fs = append(fs, Field{"  " + s.Kind, s.Name})
	}
	return fs
}

// describeRules is kubectl describe's PolicyRule table of a role: one line
// per rule, its resources then its resource names and verbs.
func describeRules(o Object, _ WorkloadStatus) []Field {
	fs := []Field{{"PolicyRule", ""}, {"  Resources", "Resource Names  Verbs"}}
	for _, r := range o.Rules() {
		var res []string
		for _, g := range r.APIGroups {
			for _, x := range r.Resources {
				if g != "" {
					x += "." + g
				}
				res = append(res, x)
			}
		}
		fs = append(fs, Field{"  " + strings.Join(res, ","), fmt.Sprintf("%v  %v", bracket(r.ResourceNames), bracket(r.Verbs))})
	}
	return fs
}

// bracket is a list as kubectl describe prints it: [get list].
func bracket(vs []string) string { return "[" + strings.Join(vs, " ") + "]" }
