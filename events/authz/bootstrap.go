package authz

import (
	"slices"
	"strings"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Authorization modes and where the cluster keeps its own: the ConfigMap
// kube-system/gantry-authorization, key mode. Absent or AlwaysAllow: every
// actor is in system:masters (a cluster made before RBAC behaves as it
// did); RBAC: only what bindings grant. `gantry up --authorization=rbac`
// makes it at first start; a cluster-admin may apply it to switch.
const (
	ModeNamespace   = "kube-system"
	ModeConfigMap   = "gantry-authorization"
	ModeKey         = "mode"
	ModeRBAC        = "RBAC"
	ModeAlwaysAllow = "AlwaysAllow"
	// AdminBinding is the ClusterRoleBinding that makes the identity that
	// started an enforcing cluster its cluster-admin.
	AdminBinding = "gantry-admin"
)

// Enforced reads the mode ConfigMap's data: RBAC enforces.
func Enforced(data map[string]string) bool { return data[ModeKey] == ModeRBAC }

// ServiceActors are the actors of the control plane's own services (their
// names, services.Names(): a test there keeps the two the same):
// system:masters whatever the mode.
var ServiceActors = []string{"admission", "cronjob", "health", "ipam", "rollout", "job", "replica", "storage",
	"projector", "ingest", "configdist", "endpoints", "scheduler"}

// GroupsOf is the one place an actor's groups come from. Every actor is in
// system:authenticated; the control plane's services are in
// system:masters; until the cluster enforces RBAC, so is everyone. The
// actor is the envelope's, which nothing verifies yet (see
// docs/security-rbac.md): enforcement stops honest mistakes, not a client
// that writes another's name, until signed intents land.
func GroupsOf(actor string, enforced bool) []string {
	if !enforced || slices.Contains(ServiceActors, actor) {
		return []string{Masters, Authenticated}
	}
	return []string{Authenticated}
}

var (
	read  = []string{VerbGet, VerbList, VerbWatch}
	write = []string{VerbCreate, VerbDelete, VerbDeleteCollection, VerbPatch, VerbUpdate}
	all   = append(append([]string(nil), read...), write...)
)

// rule is one PolicyRule of a bootstrap role.
func rule(verbs []string, group string, resources ...string) manifest.PolicyRule {
	return manifest.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

// The namespaced resources a user edits, by group, as Kubernetes' edit
// role lists them (the subset Gantry has).
var (
	coreEdited  = []string{"pods", "services", "configmaps", "secrets", "persistentvolumeclaims"}
	appsEdited  = []string{"deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale", "daemonsets"}
	batchEdited = []string{"jobs", "cronjobs"}
)

// editRules are Kubernetes' edit role: read and write a namespace's
// workloads and configuration, evict pods, read its quotas; no roles.
func editRules() []manifest.PolicyRule {
	return []manifest.PolicyRule{
		rule(all, "", coreEdited...),
		rule([]string{VerbCreate}, "", "pods/eviction"),
		rule(all, "apps", appsEdited...),
		rule(all, "batch", batchEdited...),
		rule(all, "policy", "poddisruptionbudgets"),
		rule(read, "", "namespaces", "resourcequotas", "pods/log", "pods/status"),
		rule(read, "discovery.k8s.io", "endpointslices"),
	}
}

// BootstrapObjects are the RBAC objects a cluster has from its first start,
// as Kubernetes' API server makes them (a subset): ClusterRoles
// cluster-admin (everything), admin (edit and the namespace's roles and
// bindings), edit, view (read all but Secrets), and the ClusterRoleBinding
// cluster-admin to group system:masters. admin, when set, is the identity
// an enforcing cluster makes its cluster-admin (ClusterRoleBinding
// gantry-admin).
func BootstrapObjects(admin string) []manifest.Object {
	cr := func(name string, rules ...manifest.PolicyRule) manifest.Object {
		return manifest.Object{APIVersion: manifest.APIRBACV1, Kind: manifest.KindClusterRole,
			Metadata: manifest.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}},
			Spec:     &manifest.ClusterRoleSpec{Rules: rules}}
	}
	crb := func(name, role, kind, subject string) manifest.Object {
		return manifest.Object{APIVersion: manifest.APIRBACV1, Kind: manifest.KindClusterRoleBinding,
			Metadata: manifest.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}},
			Spec: &manifest.BindingSpec{RoleRef: manifest.RoleRef{APIGroup: manifest.RBACGroup, Kind: manifest.KindClusterRole, Name: role},
				Subjects: []manifest.Subject{{Kind: kind, APIGroup: manifest.RBACGroup, Name: subject}}}}
	}
	admins := append(editRules(), rule(all, manifest.RBACGroup, "roles", "rolebindings"))
	var view []manifest.PolicyRule
	for _, r := range editRules() {
		var res []string
		for _, x := range r.Resources {
			// view reads neither Secrets nor subresources that write.
			if x != "secrets" && x != "pods/eviction" && !strings.HasSuffix(x, "/scale") {
				res = append(res, x)
			}
		}
		if len(res) > 0 {
			view = append(view, rule(read, r.APIGroups[0], res...))
		}
	}
	out := []manifest.Object{
		cr("cluster-admin", rule([]string{"*"}, "*", "*")),
		cr("admin", admins...),
		cr("edit", editRules()...),
		cr("view", view...),
		crb("cluster-admin", "cluster-admin", manifest.SubjectGroup, Masters),
	}
	if admin != "" {
		out = append(out, crb(AdminBinding, "cluster-admin", manifest.SubjectUser, admin))
	}
	return out
}

// ModeObject is the mode ConfigMap as `gantry up --authorization=rbac`
// makes it.
func ModeObject(mode string) manifest.Object {
	return manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindConfigMap,
		Metadata: manifest.ObjectMeta{Name: ModeConfigMap, Namespace: ModeNamespace},
		Spec:     &manifest.ConfigMapSpec{Data: map[string]string{ModeKey: mode}}}
}
