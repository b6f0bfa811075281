package authz_test

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events/authz"
	"github.com/gantry-sh/gantry/events/manifest"
)

func role(kind, ns, name string, rules ...manifest.PolicyRule) manifest.Object {
	o := manifest.Object{APIVersion: manifest.APIRBACV1, Kind: kind, Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}}
	if kind == manifest.KindRole {
		o.Spec = &manifest.RoleSpec{Rules: rules}
	} else {
		o.Spec = &manifest.ClusterRoleSpec{Rules: rules}
	}
	return o
}

func binding(kind, ns, name, roleKind, roleName string, subjects ...manifest.Subject) manifest.Object {
	return manifest.Object{APIVersion: manifest.APIRBACV1, Kind: kind, Metadata: manifest.ObjectMeta{Name: name, Namespace: ns},
		Spec: &manifest.BindingSpec{Subjects: subjects, RoleRef: manifest.RoleRef{APIGroup: manifest.RBACGroup, Kind: roleKind, Name: roleName}}}
}

func user(n string) manifest.Subject  { return manifest.Subject{Kind: manifest.SubjectUser, Name: n} }
func group(n string) manifest.Subject { return manifest.Subject{Kind: manifest.SubjectGroup, Name: n} }

func rule(verbs, groups, resources, names []string) manifest.PolicyRule {
	return manifest.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources, ResourceNames: names}
}

func l(s ...string) []string { return s }

// policy is a cluster's RBAC objects: reader only gets pods in a;
// deployer may do anything to Deployments in a through a ClusterRole;
// ops (a group) may do anything anywhere; scaler only scales;
// named may only get pod "web" in a; the bootstrap roles and a
// RoleBinding of view in b to viewer.
func policy() *authz.Policy {
	p := authz.NewPolicy()
	for _, o := range authz.BootstrapObjects("") {
		p.Put(o, "")
	}
	put := func(o manifest.Object) { p.Put(o, o.Metadata.Namespace) }
	put(role(manifest.KindRole, "a", "pod-reader", rule(l("get"), l(""), l("pods"), nil)))
	put(binding(manifest.KindRoleBinding, "a", "read-pods", manifest.KindRole, "pod-reader", user("reader")))
	put(role(manifest.KindClusterRole, "", "deployer", rule(l("*"), l("apps"), l("deployments"), nil)))
	put(binding(manifest.KindRoleBinding, "a", "deploy", manifest.KindClusterRole, "deployer", user("deployer")))
	put(role(manifest.KindClusterRole, "", "everything", rule(l("*"), l("*"), l("*"), nil)))
	put(binding(manifest.KindClusterRoleBinding, "", "ops", manifest.KindClusterRole, "everything", group("ops")))
	put(role(manifest.KindClusterRole, "", "scaler", rule(l("update"), l("apps"), l("*/scale"), nil)))
	put(binding(manifest.KindClusterRoleBinding, "", "scale", manifest.KindClusterRole, "scaler", user("scaler")))
	put(role(manifest.KindRole, "a", "one-pod", rule(l("get", "delete"), l(""), l("pods"), l("web"))))
	put(binding(manifest.KindRoleBinding, "a", "one-pod", manifest.KindRole, "one-pod", user("named")))
	put(binding(manifest.KindRoleBinding, "b", "view", manifest.KindClusterRole, "view", user("viewer")))
	// A RoleBinding in b naming a Role of a: a Role is only its namespace's.
	put(binding(manifest.KindRoleBinding, "b", "cross", manifest.KindRole, "pod-reader", user("crosser")))
	return p
}

// Given these roles and bindings, expect these decisions.
func TestAuthorize(t *testing.T) {
	p := policy()
	auth := []string{authz.Authenticated}
	cases := []struct {
		name string
		r    authz.Request
		want bool
	}{
		{"role allows get", authz.Request{User: "reader", Groups: auth, Verb: "get", Resource: "pods", Namespace: "a", Name: "x"}, true},
		{"role does not allow list", authz.Request{User: "reader", Groups: auth, Verb: "list", Resource: "pods", Namespace: "a"}, false},
		{"get-only cannot create", authz.Request{User: "reader", Groups: auth, Verb: "create", Resource: "pods", Namespace: "a", Name: "x"}, false},
		{"get-only cannot delete", authz.Request{User: "reader", Groups: auth, Verb: "delete", Resource: "pods", Namespace: "a", Name: "x"}, false},
		{"RoleBinding in a grants nothing in b", authz.Request{User: "reader", Groups: auth, Verb: "get", Resource: "pods", Namespace: "b", Name: "x"}, false},
		{"RoleBinding grants nothing cluster-scoped", authz.Request{User: "reader", Groups: auth, Verb: "get", Resource: "pods"}, false},
		{"wrong group", authz.Request{User: "reader", Groups: auth, Verb: "get", APIGroup: "apps", Resource: "pods", Namespace: "a", Name: "x"}, false},
		{"ClusterRole through RoleBinding", authz.Request{User: "deployer", Groups: auth, Verb: "delete", APIGroup: "apps", Resource: "deployments", Namespace: "a", Name: "web"}, true},
		{"ClusterRole through RoleBinding, other ns", authz.Request{User: "deployer", Groups: auth, Verb: "delete", APIGroup: "apps", Resource: "deployments", Namespace: "b", Name: "web"}, false},
		{"ClusterRole through RoleBinding, subresource not granted", authz.Request{User: "deployer", Groups: auth, Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "a", Name: "web"}, false},
		{"ClusterRoleBinding grants everywhere", authz.Request{User: "x", Groups: l(authz.Authenticated, "ops"), Verb: "delete", Resource: "pods", Namespace: "zz", Name: "p"}, true},
		{"ClusterRoleBinding grants cluster-scoped", authz.Request{User: "x", Groups: l("ops"), Verb: "create", Resource: "namespaces", Name: "n"}, true},
		{"wildcard subresource", authz.Request{User: "scaler", Groups: auth, Verb: "update", APIGroup: "apps", Resource: "statefulsets", Subresource: "scale", Namespace: "c", Name: "db"}, true},
		{"wildcard subresource is not the resource", authz.Request{User: "scaler", Groups: auth, Verb: "update", APIGroup: "apps", Resource: "statefulsets", Namespace: "c", Name: "db"}, false},
		{"resourceNames: the named one", authz.Request{User: "named", Groups: auth, Verb: "delete", Resource: "pods", Namespace: "a", Name: "web"}, true},
		{"resourceNames: another", authz.Request{User: "named", Groups: auth, Verb: "delete", Resource: "pods", Namespace: "a", Name: "db"}, false},
		{"resourceNames: never a list", authz.Request{User: "named", Groups: auth, Verb: "get", Resource: "pods", Namespace: "a"}, false},
		{"view reads deployments", authz.Request{User: "viewer", Groups: auth, Verb: "list", APIGroup: "apps", Resource: "deployments", Namespace: "b"}, true},
		{"view reads no secrets", authz.Request{User: "viewer", Groups: auth, Verb: "get", Resource: "secrets", Namespace: "b", Name: "s"}, false},
		{"view writes nothing", authz.Request{User: "viewer", Groups: auth, Verb: "patch", APIGroup: "apps", Resource: "deployments", Namespace: "b", Name: "d"}, false},
		{"a Role of another namespace grants nothing", authz.Request{User: "crosser", Groups: auth, Verb: "get", Resource: "pods", Namespace: "b", Name: "x"}, false},
		{"system:masters may do anything", authz.Request{User: "root", Groups: l(authz.Masters), Verb: "delete", Resource: "nodes", Name: "n1"}, true},
		{"an unbound user may do nothing", authz.Request{User: "nobody", Groups: auth, Verb: "get", Resource: "pods", Namespace: "default", Name: "x"}, false},
		{"a user named like a group is not in it", authz.Request{User: "ops", Groups: auth, Verb: "get", Resource: "pods", Namespace: "a", Name: "x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Authorize(c.r)
			if d.Allowed != c.want {
				t.Errorf("Authorize(%+v) = %+v, want allowed %v", c.r, d, c.want)
			}
		})
	}
}

func TestRemoveTakesTheGrantAway(t *testing.T) {
	p := policy()
	r := authz.Request{User: "reader", Groups: l(authz.Authenticated), Verb: "get", Resource: "pods", Namespace: "a", Name: "x"}
	if !p.Authorize(r).Allowed {
		t.Fatal("reader cannot get")
	}
	p.Remove("rolebinding", "a", "read-pods")
	if p.Authorize(r).Allowed {
		t.Error("a deleted RoleBinding still grants")
	}
}

func TestReasons(t *testing.T) {
	p := policy()
	d := p.Authorize(authz.Request{User: "reader", Groups: l(authz.Authenticated), Verb: "create", APIGroup: "apps", Resource: "deployments", Namespace: "a", Name: "web"})
	if want := `deployments.apps "web" is forbidden: User "reader" cannot create resource "deployments" in API group "apps" in the namespace "a"`; d.Reason != want {
		t.Errorf("reason = %q\nwant     %q", d.Reason, want)
	}
	d = p.Authorize(authz.Request{User: "reader", Verb: "delete", Resource: "namespaces", Name: "a"})
	if want := `namespaces "a" is forbidden: User "reader" cannot delete resource "namespaces" in API group "" at the cluster scope`; d.Reason != want {
		t.Errorf("reason = %q\nwant     %q", d.Reason, want)
	}
	d = p.Authorize(authz.Request{User: "reader", Verb: "get", Resource: "pods", Namespace: "a", Name: "x"})
	if !d.Allowed || !strings.Contains(d.Reason, `RoleBinding "read-pods" of Role "pod-reader" to User "reader"`) {
		t.Errorf("allowed reason = %+v", d)
	}
}

func TestGroupsOf(t *testing.T) {
	if g := authz.GroupsOf("alice@host", false); len(g) != 2 || g[0] != authz.Masters {
		t.Errorf("not enforced: %v, want everyone in system:masters", g)
	}
	if g := authz.GroupsOf("alice@host", true); len(g) != 1 || g[0] != authz.Authenticated {
		t.Errorf("enforced: %v", g)
	}
	if g := authz.GroupsOf("admission", true); g[0] != authz.Masters {
		t.Errorf("a service, enforced: %v", g)
	}
}

// The bootstrap roles are valid objects of their kinds.
func TestBootstrapObjectsValidate(t *testing.T) {
	for _, o := range append(authz.BootstrapObjects("alice@host"), authz.ModeObject(authz.ModeRBAC)) {
		if errs := manifest.Validate(o); len(errs) > 0 {
			t.Errorf("%s %s: %v", o.Kind, o.Metadata.Name, errs)
		}
	}
}
