// Package authz is Gantry's authorizer, Kubernetes' RBAC in its shape:
// given the Roles, ClusterRoles, RoleBindings and ClusterRoleBindings in
// force, may this user (with these groups) do this verb on this resource?
// It is pure: admission feeds it the objects its fold holds and asks it
// about each intent; `gantry auth can-i` feeds it the read models and asks
// the same question, so the two agree.
package authz

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Groups every identity is in, and the one that may do anything.
const (
	// Masters may do anything without a binding, as Kubernetes'
	// system:masters (the API server's privileged group).
	Masters = "system:masters"
	// Authenticated is every identity's group.
	Authenticated = "system:authenticated"
)

// Verbs, as Kubernetes names them. See docs/security-rbac.md for the
// verb each of Gantry's intents is authorized as.
const (
	VerbGet              = "get"
	VerbList             = "list"
	VerbWatch            = "watch"
	VerbCreate           = "create"
	VerbUpdate           = "update"
	VerbPatch            = "patch"
	VerbDelete           = "delete"
	VerbDeleteCollection = "deletecollection"
)

// Request is what is asked: a user (with groups) doing verb on
// resource[/subresource] of apiGroup ("" for core), in namespace ("" for
// a cluster-scoped resource), on the object name ("" for all of them).
type Request struct {
	User        string
	Groups      []string
	Verb        string
	APIGroup    string
	Resource    string // plural, as kubectl names it: deployments
	Subresource string // scale, eviction
	Namespace   string
	Name        string
}

// resource is "deployments/scale" or "deployments".
func (r Request) resource() string {
	if r.Subresource != "" {
		return r.Resource + "/" + r.Subresource
	}
	return r.Resource
}

// Decision is the answer and why: the binding and role that allowed it,
// or Kubernetes' words for a refusal.
type Decision struct {
	Allowed bool
	Reason  string
}

// Policy is the RBAC objects in force, indexed for Authorize: the roles by
// kind/namespace/name, the bindings by namespace ("" for
// ClusterRoleBindings). Authorize's work is bounded by the bindings of the
// request's namespace and the cluster's, and the rules of the roles they
// reference.
type Policy struct {
	roles    map[string][]manifest.PolicyRule
	bindings map[string]map[string]*manifest.BindingSpec
}

// NewPolicy returns a Policy with no roles and no bindings.
func NewPolicy() *Policy {
	return &Policy{roles: map[string][]manifest.PolicyRule{}, bindings: map[string]map[string]*manifest.BindingSpec{}}
}

func roleKey(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// IsRBACKind reports the kinds (tokens) a Policy holds.
func IsRBACKind(token string) bool {
	switch token {
	case "role", "clusterrole", "rolebinding", "clusterrolebinding":
		return true
	}
	return false
}

// Put records o, a Role, ClusterRole, RoleBinding or ClusterRoleBinding
// (any other kind is ignored), replacing what was there under its name.
// ns is the object's namespace as the log files it ("" or "_" for
// cluster-scoped ones are the same).
func (p *Policy) Put(o manifest.Object, ns string) {
	switch o.Kind {
	case manifest.KindRole:
		p.roles[roleKey(manifest.KindRole, ns, o.Metadata.Name)] = o.Rules()
	case manifest.KindClusterRole:
		p.roles[roleKey(manifest.KindClusterRole, "", o.Metadata.Name)] = o.Rules()
	case manifest.KindRoleBinding, manifest.KindClusterRoleBinding:
		if b := o.Binding(); b != nil {
			if o.Kind == manifest.KindClusterRoleBinding {
				ns = ""
			}
			if p.bindings[ns] == nil {
				p.bindings[ns] = map[string]*manifest.BindingSpec{}
			}
			p.bindings[ns][o.Metadata.Name] = b
		}
	}
}

// Remove forgets the object of kind (its token: role, clusterrole,
// rolebinding, clusterrolebinding) in ns named name.
func (p *Policy) Remove(kind, ns, name string) {
	switch kind {
	case "role":
		delete(p.roles, roleKey(manifest.KindRole, ns, name))
	case "clusterrole":
		delete(p.roles, roleKey(manifest.KindClusterRole, "", name))
	case "rolebinding":
		delete(p.bindings[ns], name)
	case "clusterrolebinding":
		delete(p.bindings[""], name)
	}
}

// Authorize decides r as Kubernetes' RBAC authorizer does: system:masters
// may do anything; otherwise a ClusterRoleBinding whose subjects include
// the user grants its ClusterRole's rules everywhere, and a RoleBinding
// grants its Role's (of its own namespace) or ClusterRole's rules in its
// namespace only. Nothing is allowed that no rule allows.
func (p *Policy) Authorize(r Request) Decision {
	if slices.Contains(r.Groups, Masters) {
		return Decision{Allowed: true, Reason: fmt.Sprintf("allowed: group %q may do anything", Masters)}
	}
	scopes := []string{""}
	if r.Namespace != "" {
		scopes = append(scopes, r.Namespace)
	}
	for _, ns := range scopes {
		names := make([]string, 0, len(p.bindings[ns]))
		for n := range p.bindings[ns] {
			names = append(names, n)
		}
		sort.Strings(names) // the same reason for the same question
		for _, n := range names {
			b := p.bindings[ns][n]
			subject, ok := appliesTo(b.Subjects, r.User, r.Groups)
			if !ok {
				continue
			}
			rules, ok := p.rolesOf(b.RoleRef, ns)
			if !ok {
				continue
			}
			for _, rule := range rules {
				if Matches(rule, r) {
					kind := manifest.KindClusterRoleBinding
					where := ""
					if ns != "" {
						kind, where = manifest.KindRoleBinding, fmt.Sprintf(" in namespace %q", ns)
					}
					return Decision{Allowed: true, Reason: fmt.Sprintf("RBAC: allowed by %s %q of %s %q to %s%s",
						kind, n, b.RoleRef.Kind, b.RoleRef.Name, subject, where)}
				}
			}
		}
	}
	return Decision{Reason: Forbidden(r)}
}

// rolesOf is the rules a binding's roleRef names: a Role of the binding's
// namespace or a ClusterRole.
func (p *Policy) rolesOf(ref manifest.RoleRef, ns string) ([]manifest.PolicyRule, bool) {
	switch {
	case ref.Kind == manifest.KindClusterRole:
		rules, ok := p.roles[roleKey(manifest.KindClusterRole, "", ref.Name)]
		return rules, ok
	case ref.Kind == manifest.KindRole && ns != "":
		rules, ok := p.roles[roleKey(manifest.KindRole, ns, ref.Name)]
		return rules, ok
	}
	return nil, false
}

// appliesTo finds the subject that is the user or one of its groups.
func appliesTo(subjects []manifest.Subject, user string, groups []string) (string, bool) {
	for _, s := range subjects {
		switch {
		case s.Kind == manifest.SubjectUser && s.Name == user:
			return fmt.Sprintf("User %q", user), true
		case s.Kind == manifest.SubjectGroup && slices.Contains(groups, s.Name):
			return fmt.Sprintf("Group %q", s.Name), true
		}
	}
	return "", false
}

// Matches reports whether rule allows r, as Kubernetes' RuleAllows: verb,
// API group and resource each listed or "*"; "*/scale" is any resource's
// scale subresource; resourceNames, when set, only the named objects (so
// never a create or a list, which name none).
func Matches(rule manifest.PolicyRule, r Request) bool {
	if !has(rule.Verbs, r.Verb) || !has(rule.APIGroups, r.APIGroup) {
		return false
	}
	res := r.resource()
	found := false
	for _, x := range rule.Resources {
		if x == "*" || x == res || (r.Subresource != "" && x == "*/"+r.Subresource) {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	return len(rule.ResourceNames) == 0 || (r.Name != "" && slices.Contains(rule.ResourceNames, r.Name))
}

// has: vs lists v or "*".
func has(vs []string, v string) bool {
	return slices.Contains(vs, "*") || slices.Contains(vs, v)
}

// Forbidden is Kubernetes' refusal: `deployments.apps "web" is forbidden:
// User "bob" cannot create resource "deployments" in API group "apps" in
// the namespace "default"`.
func Forbidden(r Request) string {
	what := r.Resource
	if r.APIGroup != "" {
		what += "." + r.APIGroup
	}
	if r.Name != "" {
		what += fmt.Sprintf(" %q", r.Name)
	}
	where := "at the cluster scope"
	if r.Namespace != "" {
		where = fmt.Sprintf("in the namespace %q", r.Namespace)
	}
	return fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q %s",
		what, r.User, r.Verb, r.resource(), r.APIGroup, where)
}
