package manifest

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Volume sources' and mounts' rules, as Kubernetes' ValidatePodSpec has
// them (pkg/apis/core/validation), except that mount paths and host paths
// must be absolute and object names follow Gantry's names (no dots).

// HostPath types, as Kubernetes names them ("" checks nothing).
const (
	HostPathUnset             = ""
	HostPathDirectoryOrCreate = "DirectoryOrCreate"
	HostPathDirectory         = "Directory"
	HostPathFileOrCreate      = "FileOrCreate"
	HostPathFile              = "File"
	HostPathSocket            = "Socket"
	HostPathCharDevice        = "CharDevice"
	HostPathBlockDevice       = "BlockDevice"
)

var hostPathTypes = []string{HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate,
	HostPathFile, HostPathSocket, HostPathCharDevice, HostPathBlockDevice}

// StorageMediumMemory is emptyDir's tmpfs medium.
const StorageMediumMemory = "Memory"

// MaxFileMode is the largest mode a projected file may have (0777).
const MaxFileMode = 0o777

var configKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// DownwardAPIFileFields are the fieldRef paths a downwardAPI volume file may
// name (labels and annotations also one key: metadata.labels['app']).
var DownwardAPIFileFields = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}

// DownwardAPIEnvFields are the fieldRef paths an env var may name (labels
// and annotations only one key).
var DownwardAPIEnvFields = []string{"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName", "status.podIP", "status.hostIP"}

// DownwardAPIResources are the resources a resourceFieldRef may name.
var DownwardAPIResources = []string{"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage"}

var subscripted = regexp.MustCompile(`^(metadata\.labels|metadata\.annotations)\['([^']*)'\]$`)

// SubscriptedField splits "metadata.labels['app']" into "metadata.labels" and
// "app"; ok is false for a path without a subscript.
func SubscriptedField(fieldPath string) (field, key string, ok bool) {
	m := subscripted.FindStringSubmatch(fieldPath)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// ConfigKeyProblem checks a ConfigMap or Secret key ("" when it is valid).
func ConfigKeyProblem(key string) string {
	switch {
	case key == "":
		return "required"
	case len(key) > maxSubdomainLength:
		return fmt.Sprintf("invalid value %q: must be no more than %d characters", key, maxSubdomainLength)
	case key == "." || key == ".." || strings.HasPrefix(key, ".."):
		return fmt.Sprintf("invalid value %q: must not be '.' or '..' or start with '..'", key)
	case !configKey.MatchString(key):
		return fmt.Sprintf("invalid value %q: must consist of letters, digits, '-', '_' or '.'", key)
	}
	return ""
}

// relativePathProblem checks a path inside a volume: relative, without a
// ".." element (the bad-input case: it would leave the volume).
func relativePathProblem(p string, required bool) string {
	switch {
	case p == "":
		if required {
			return "required"
		}
		return ""
	case path.IsAbs(p):
		return fmt.Sprintf("invalid value %q: must be a relative path", p)
	case strings.HasPrefix(p, ".."):
		return fmt.Sprintf("invalid value %q: must not start with '..'", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Sprintf("invalid value %q: must not contain '..'", p)
		}
	}
	return ""
}

func validateVolumes(errs *FieldErrors, path string, s PodSpec) {
	vpath := fieldPath(path, "volumes")
	names := map[string]string{} // volume name → path of the first
	for i, v := range s.Volumes {
		p := indexPath(vpath, i)
		if msg := labelNameProblem(v.Name); msg != "" {
			errs.add(fieldPath(p, "name"), msg)
		} else if first, dup := names[v.Name]; dup {
			errs.addf(fieldPath(p, "name"), "duplicate name %q (also %s)", v.Name, first)
		} else {
			names[v.Name] = p
		}
		validateVolumeSource(errs, p, v, s)
	}
	check := func(field string, list []Container) {
		for i, c := range list {
			cp := indexPath(fieldPath(path, field), i)
			validateMounts(errs, cp, c, names)
			validateEnvSources(errs, cp, c, s)
		}
	}
	check("initContainers", s.InitContainers)
	check("containers", s.Containers)
}

func validateVolumeSource(errs *FieldErrors, p string, v Volume, s PodSpec) {
	var set []string
	if v.EmptyDir != nil {
		set = append(set, "emptyDir")
		sp := fieldPath(p, "emptyDir")
		if m := v.EmptyDir.Medium; m != "" && m != StorageMediumMemory {
			errs.addf(fieldPath(sp, "medium"), "unsupported value %q: must be \"\" or %s", m, StorageMediumMemory)
		}
		if q := v.EmptyDir.SizeLimit; q != nil && q.MilliValue() < 0 {
			errs.addf(fieldPath(sp, "sizeLimit"), "invalid value %q: must not be negative", q.String())
		}
	}
	if v.HostPath != nil {
		set = append(set, "hostPath")
		sp := fieldPath(p, "hostPath")
		switch hp := v.HostPath.Path; {
		case hp == "":
			errs.add(fieldPath(sp, "path"), "required")
		case !path.IsAbs(hp):
			errs.addf(fieldPath(sp, "path"), "invalid value %q: must be an absolute path", hp)
		case relativePathProblem(strings.TrimPrefix(hp, "/"), false) != "":
			errs.addf(fieldPath(sp, "path"), "invalid value %q: must not contain '..'", hp)
		}
		if t := v.HostPath.Type; t != nil && !oneOf(*t, hostPathTypes) {
			errs.addf(fieldPath(sp, "type"), "unsupported value %q: must be one of %s", *t, strings.Join(hostPathTypes[1:], ", "))
		}
	}
	if v.ConfigMap != nil {
		set = append(set, "configMap")
		sp := fieldPath(p, "configMap")
		validateRefName(errs, fieldPath(sp, "name"), v.ConfigMap.Name)
		validateItems(errs, fieldPath(sp, "items"), v.ConfigMap.Items, nil)
		validateMode(errs, fieldPath(sp, "defaultMode"), v.ConfigMap.DefaultMode)
	}
	if v.Secret != nil {
		set = append(set, "secret")
		sp := fieldPath(p, "secret")
		validateRefName(errs, fieldPath(sp, "secretName"), v.Secret.SecretName)
		validateItems(errs, fieldPath(sp, "items"), v.Secret.Items, nil)
		validateMode(errs, fieldPath(sp, "defaultMode"), v.Secret.DefaultMode)
	}
	if v.DownwardAPI != nil {
		set = append(set, "downwardAPI")
		sp := fieldPath(p, "downwardAPI")
		validateDownwardFiles(errs, fieldPath(sp, "items"), v.DownwardAPI.Items, s, nil)
		validateMode(errs, fieldPath(sp, "defaultMode"), v.DownwardAPI.DefaultMode)
	}
	if v.Projected != nil {
		set = append(set, "projected")
		validateProjected(errs, fieldPath(p, "projected"), *v.Projected, s)
	}
	if v.PersistentVolumeClaim != nil {
		set = append(set, "persistentVolumeClaim")
		validateRefName(errs, fieldPath(fieldPath(p, "persistentVolumeClaim"), "claimName"), v.PersistentVolumeClaim.ClaimName)
	}
	switch len(set) {
	case 0:
		errs.add(p, "must specify one volume source (emptyDir, hostPath, configMap, secret, projected, downwardAPI or persistentVolumeClaim)")
	case 1:
	default:
		errs.addf(p, "may not specify more than one volume source, got %s", strings.Join(set, ", "))
	}
}

func validateProjected(errs *FieldErrors, sp string, pv ProjectedVolumeSource, s PodSpec) {
	validateMode(errs, fieldPath(sp, "defaultMode"), pv.DefaultMode)
	paths := map[string]string{} // file path → field path of the first
	for i, src := range pv.Sources {
		p := indexPath(fieldPath(sp, "sources"), i)
		n := 0
		if src.ConfigMap != nil {
			n++
			validateRefName(errs, fieldPath(fieldPath(p, "configMap"), "name"), src.ConfigMap.Name)
			validateItems(errs, fieldPath(fieldPath(p, "configMap"), "items"), src.ConfigMap.Items, paths)
		}
		if src.Secret != nil {
			n++
			validateRefName(errs, fieldPath(fieldPath(p, "secret"), "name"), src.Secret.Name)
			validateItems(errs, fieldPath(fieldPath(p, "secret"), "items"), src.Secret.Items, paths)
		}
		if src.DownwardAPI != nil {
			n++
			validateDownwardFiles(errs, fieldPath(fieldPath(p, "downwardAPI"), "items"), src.DownwardAPI.Items, s, paths)
		}
		switch n {
		case 0:
			errs.add(p, "must specify one source (configMap, secret or downwardAPI)")
		case 1:
		default:
			errs.add(p, "may not specify more than one source")
		}
	}
}

// validateRefName checks the name of a ConfigMap, Secret or claim a pod
// refers to: a name as Gantry's objects have.
func validateRefName(errs *FieldErrors, p, name string) {
	if msg := nameProblem(name); msg != "" {
		errs.add(p, msg)
	}
}

func validateMode(errs *FieldErrors, p string, mode *int32) {
	if mode != nil && (*mode < 0 || *mode > MaxFileMode) {
		errs.addf(p, "invalid value %d: must be a file mode between 0 and 0777 (511)", *mode)
	}
}

// validateItems checks a configMap's or secret's items; paths, when not
// nil, holds the files of a projected volume so far (two sources may not
// write one file).
func validateItems(errs *FieldErrors, ip string, items []KeyToPath, paths map[string]string) {
	own := map[string]string{}
	if paths == nil {
		paths = own
	}
	for i, it := range items {
		p := indexPath(ip, i)
		if msg := ConfigKeyProblem(it.Key); msg != "" {
			errs.add(fieldPath(p, "key"), msg)
		}
		validateFilePath(errs, fieldPath(p, "path"), it.Path, paths)
		validateMode(errs, fieldPath(p, "mode"), it.Mode)
	}
}

func validateFilePath(errs *FieldErrors, p, file string, paths map[string]string) {
	if msg := relativePathProblem(file, true); msg != "" {
		errs.add(p, msg)
		return
	}
	clean := path.Clean(file)
	if first, dup := paths[clean]; dup {
		errs.addf(p, "duplicate path %q (also %s)", file, first)
		return
	}
	paths[clean] = p
}

func validateDownwardFiles(errs *FieldErrors, ip string, files []DownwardAPIVolumeFile, s PodSpec, paths map[string]string) {
	if paths == nil {
		paths = map[string]string{}
	}
	for i, f := range files {
		p := indexPath(ip, i)
		validateFilePath(errs, fieldPath(p, "path"), f.Path, paths)
		validateMode(errs, fieldPath(p, "mode"), f.Mode)
		switch {
		case f.FieldRef != nil && f.ResourceFieldRef != nil:
			errs.add(p, "may not specify both fieldRef and resourceFieldRef")
		case f.FieldRef != nil:
			validateFieldRef(errs, fieldPath(p, "fieldRef"), *f.FieldRef, DownwardAPIFileFields)
		case f.ResourceFieldRef != nil:
			validateResourceFieldRef(errs, fieldPath(p, "resourceFieldRef"), *f.ResourceFieldRef, "", s)
		default:
			errs.add(p, "must specify fieldRef or resourceFieldRef")
		}
	}
}

// validateFieldRef checks a downward API field path against the ones
// allowed where it is used; a label or an annotation by key is allowed
// everywhere.
func validateFieldRef(errs *FieldErrors, p string, ref ObjectFieldSelector, allowed []string) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		errs.addf(fieldPath(p, "apiVersion"), "unsupported value %q: must be v1", ref.APIVersion)
	}
	fp := fieldPath(p, "fieldPath")
	if ref.FieldPath == "" {
		errs.add(fp, "required")
		return
	}
	if _, key, ok := SubscriptedField(ref.FieldPath); ok {
		if msg := LabelKeyProblem(key); msg != "" {
			errs.add(fp, msg)
		}
		return
	}
	if !oneOf(ref.FieldPath, allowed) {
		what := "metadata.labels['<KEY>'], metadata.annotations['<KEY>']"
		errs.addf(fp, "unsupported value %q: must be one of %s, %s", ref.FieldPath, strings.Join(allowed, ", "), what)
	}
}

// validateResourceFieldRef checks a resourceFieldRef; self is the container
// an env var belongs to ("" in a volume, where containerName is required).
func validateResourceFieldRef(errs *FieldErrors, p string, ref ResourceFieldSelector, self string, s PodSpec) {
	name := ref.ContainerName
	if name == "" {
		name = self
	}
	switch {
	case name == "":
		errs.add(fieldPath(p, "containerName"), "required")
	case !hasContainer(s, name):
		errs.addf(fieldPath(p, "containerName"), "invalid value %q: must be a container of the pod", name)
	}
	if !oneOf(ref.Resource, DownwardAPIResources) {
		if ref.Resource == "" {
			errs.add(fieldPath(p, "resource"), "required")
		} else {
			errs.addf(fieldPath(p, "resource"), "unsupported value %q: must be one of %s", ref.Resource, strings.Join(DownwardAPIResources, ", "))
		}
	}
	if d := ref.Divisor; d != nil && d.MilliValue() <= 0 {
		errs.addf(fieldPath(p, "divisor"), "invalid value %q: must be positive", d.String())
	}
}

func hasContainer(s PodSpec, name string) bool {
	for _, c := range s.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range s.Containers {
		if c.Name == name {
			return true
		}
	}
	return false
}

func validateMounts(errs *FieldErrors, cp string, c Container, volumes map[string]string) {
	paths := map[string]string{}
	for i, m := range c.VolumeMounts {
		p := indexPath(fieldPath(cp, "volumeMounts"), i)
		if m.Name == "" {
			errs.add(fieldPath(p, "name"), "required")
		} else if _, ok := volumes[m.Name]; !ok {
			errs.addf(fieldPath(p, "name"), "not found: %q is not a volume of the pod", m.Name)
		}
		mp := fieldPath(p, "mountPath")
		switch {
		case m.MountPath == "":
			errs.add(mp, "required")
		case !path.IsAbs(m.MountPath):
			errs.addf(mp, "invalid value %q: must be an absolute path", m.MountPath)
		default:
			clean := path.Clean(m.MountPath)
			if first, dup := paths[clean]; dup {
				errs.addf(mp, "duplicate mount path %q (also %s)", m.MountPath, first)
			} else {
				paths[clean] = p
			}
		}
		if msg := relativePathProblem(m.SubPath, false); msg != "" {
			errs.add(fieldPath(p, "subPath"), msg)
		}
	}
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
