package manifest

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// KindInfo describes one kind Gantry accepts, once: what a manifest
// carries (apiVersion, kind), the lower-case token that names it in
// subjects and read-model keys, the names kubectl users type for it, its
// spec type with its validation and defaults, and how `gantry get` prints
// it. Decoding, validation, admission, the fold's read models, the CLI's
// verbs and the README's table of supported fields all read the list below;
// a kind is added by a file that declares its KindInfo and one line there.
type KindInfo struct {
	APIVersion string   // apps/v1
	Kind       string   // Deployment
	Token      string   // deployment
	Plural     string   // deployments
	ShortNames []string // deploy
	// ClusterScoped kinds (Namespace) have no metadata.namespace.
	ClusterScoped bool
	// SpecOptional kinds may leave spec out (a Namespace).
	SpecOptional bool
	// Flat kinds keep their content at the top level of the manifest, beside
	// metadata, not under spec (a ConfigMap's data, a StorageClass's
	// provisioner); the spec type's fields are those top-level fields.
	Flat bool
	// NameSuffix, when set, follows an object's NAME in `gantry get` (a
	// default StorageClass's " (default)").
	NameSuffix func(o Object) string
	// Columns are what `gantry get` prints between NAME and AGE, as kubectl
	// does for the kind.
	Columns []Column
	// Describe lists the kind's own lines of `gantry describe`, after its
	// metadata and before its pod template and events.
	Describe func(o Object, st WorkloadStatus) []Field
	// K8sStatus is the kind's status in Kubernetes' shape, for -o json|yaml.
	K8sStatus func(o Object, st WorkloadStatus) any
	// Template is the pod template of a kind that stamps pods out, or
	// whose objects do (a CronJob's Jobs); nil for one that does not.
	// TemplatePath is its field path (spec.template).
	Template     func(o Object) *PodTemplateSpec
	TemplatePath string
	// Terminating, when set, says whether a deleted object of the kind is
	// still shown (a Namespace while its content is deleted).
	Terminating func(st WorkloadStatus) bool
	// HasPods: an object of the kind runs pods, its own or through what it
	// owns (a Deployment's ReplicaSets), so `logs KIND/NAME` shows one;
	// a CronJob's pods belong to its Jobs.
	HasPods bool
	// Pods is how many pods an object of the kind runs at once at most,
	// and the field that says so (spec.replicas): what the cluster's
	// ceiling on pods per workload is checked against. Nil: one, or as
	// many as there are nodes.
	Pods func(o Object) (n int32, path string)

	spec     reflect.Type
	validate func(errs *FieldErrors, o Object)
	defaults func(o *Object)
}

// Group is the kind's API group ("" for the core group).
func (k *KindInfo) Group() string {
	if g, _, ok := strings.Cut(k.APIVersion, "/"); ok {
		return g
	}
	return ""
}

// QuotaResource names the kind in a quota's count/<resource>: the plural,
// with the group when it has one (deployments.apps, jobs.batch, pods).
func (k *KindInfo) QuotaResource() string {
	if g := k.Group(); g != "" {
		return k.Plural + "." + g
	}
	return k.Plural
}

// Column is one column of `gantry get`: a header and the cell of an object.
type Column struct {
	Header string
	Wide   bool // only with -o wide
	Cell   func(o Object, st WorkloadStatus, now time.Time) string
}

// Field is one line of `gantry describe`: "Replicas:  3 desired | …".
type Field struct {
	Name  string
	Value string
}

// kinds is every kind Gantry accepts, in `kubectl api-resources` order (the
// core group first, then by group and name).
var kinds = []*KindInfo{
	&deploymentKind, &podKind, &replicaSetKind, &daemonSetKind, &jobKind, &cronJobKind,
	&namespaceKind, &resourceQuotaKind, &podDisruptionBudgetKind, &serviceKind, &endpointSliceKind,
	&configMapKind, &secretKind, &persistentVolumeKind, &persistentVolumeClaimKind, &storageClassKind,
	&statefulSetKind,
	&validatingAdmissionPolicyKind, &validatingAdmissionPolicyBindingKind,
	&roleKind, &clusterRoleKind, &roleBindingKind, &clusterRoleBindingKind,
}

// Kinds returns the kinds Gantry accepts, in a stable order.
func Kinds() []*KindInfo { return append([]*KindInfo(nil), kinds...) }

// KindOfToken is the supported kind whose token is token ("deployment").
func KindOfToken(token string) (*KindInfo, bool) {
	for _, k := range kinds {
		if k.Token == token {
			return k, true
		}
	}
	return nil, false
}

// lookupKind is the supported kind of an apiVersion/kind pair.
func lookupKind(apiVersion, kind string) (*KindInfo, bool) {
	for _, k := range kinds {
		if k.APIVersion == apiVersion && k.Kind == kind {
			return k, true
		}
	}
	return nil, false
}

// Info is the KindInfo of the object's kind (nil for a kind not supported).
func (o Object) Info() *KindInfo {
	k, _ := lookupKind(o.APIVersion, o.Kind)
	return k
}

// Token is the object's kind as a subject token: "deployment".
func (o Object) Token() string {
	if k := o.Info(); k != nil {
		return k.Token
	}
	return strings.ToLower(o.Kind)
}

// PodTemplate is the pod template of an object whose kind stamps pods out,
// or nil.
func (o Object) PodTemplate() *PodTemplateSpec {
	if k := o.Info(); k != nil && k.Template != nil {
		return k.Template(o)
	}
	return nil
}

// SupportedKinds lists the supported kinds as a person reads them:
// "apps/v1 Deployment, v1 Pod".
func SupportedKinds() string {
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = k.APIVersion + " " + k.Kind
	}
	return strings.Join(parts, ", ")
}

// maxKindLength bounds a kind's name: it becomes a subject token, and no
// Kubernetes kind comes near it.
const maxKindLength = 63

var (
	kindName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	apiVersion = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// KindToken checks that an apiVersion/kind pair is well formed (whether or
// not Gantry supports it) and returns the kind's token: the kind in lower
// case, a valid NATS subject token. Which kinds are supported is
// admission's to judge, so an unknown kind is refused in the log, with its
// actor, like any other invalid manifest.
func KindToken(apiVer, kind string) (string, *FieldError) {
	switch {
	case kind == "":
		return "", &FieldError{Path: "kind", Message: "required"}
	case len(kind) > maxKindLength:
		return "", &FieldError{Path: "kind", Message: fmt.Sprintf("invalid value %q: must be no more than %d characters", kind, maxKindLength)}
	case !kindName.MatchString(kind):
		return "", &FieldError{Path: "kind", Message: fmt.Sprintf("invalid value %q: must be a letter followed by letters and digits (e.g. \"Deployment\")", kind)}
	}
	if msg := apiVersionProblem(apiVer); msg != "" {
		return "", &FieldError{Path: "apiVersion", Message: msg}
	}
	return strings.ToLower(kind), nil
}

// apiVersionProblem checks "VERSION" or "GROUP/VERSION": a DNS-1123
// subdomain for the group, a lower-case label starting with a letter for
// the version (v1, v1beta1).
func apiVersionProblem(s string) string {
	if s == "" {
		return "required"
	}
	group, version, grouped := strings.Cut(s, "/")
	if !grouped {
		group, version = "", group
	}
	switch {
	case grouped && (group == "" || len(group) > maxSubdomainLength || !dns1123Subdomain.MatchString(group)):
		return fmt.Sprintf("invalid value %q: the group before '/' must be a DNS subdomain (e.g. \"apps/v1\")", s)
	case len(version) > maxLabelLength || !apiVersion.MatchString(version):
		return fmt.Sprintf("invalid value %q: must be VERSION or GROUP/VERSION (e.g. \"v1\", \"apps/v1\")", s)
	}
	return ""
}
