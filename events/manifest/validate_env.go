package manifest

import "strings"

// ValidEnvName reports whether name may name an environment variable, as
// Kubernetes checks it: the node skips keys of an envFrom that are not.
func ValidEnvName(name string) bool { return envNameProblem(name) == "" }

// validateEnvSources checks a container's env[].valueFrom and envFrom[]:
// exactly one source each, the ConfigMaps', Secrets' and keys' names valid,
// the downward API's fields ones Kubernetes offers to env.
func validateEnvSources(errs *FieldErrors, cp string, c Container, s PodSpec) {
	for i, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		p := indexPath(fieldPath(cp, "env"), i)
		if e.Value != "" {
			errs.add(fieldPath(p, "valueFrom"), "may not be specified when value is not empty")
		}
		vp := fieldPath(p, "valueFrom")
		src := e.ValueFrom
		var set []string
		if src.FieldRef != nil {
			set = append(set, "fieldRef")
			validateFieldRef(errs, fieldPath(vp, "fieldRef"), *src.FieldRef, DownwardAPIEnvFields)
		}
		if src.ResourceFieldRef != nil {
			set = append(set, "resourceFieldRef")
			validateResourceFieldRef(errs, fieldPath(vp, "resourceFieldRef"), *src.ResourceFieldRef, c.Name, s)
		}
		if src.ConfigMapKeyRef != nil {
			set = append(set, "configMapKeyRef")
			kp := fieldPath(vp, "configMapKeyRef")
			validateRefName(errs, fieldPath(kp, "name"), src.ConfigMapKeyRef.Name)
			if msg := ConfigKeyProblem(src.ConfigMapKeyRef.Key); msg != "" {
				errs.add(fieldPath(kp, "key"), msg)
			}
		}
		if src.SecretKeyRef != nil {
			set = append(set, "secretKeyRef")
			kp := fieldPath(vp, "secretKeyRef")
			validateRefName(errs, fieldPath(kp, "name"), src.SecretKeyRef.Name)
			if msg := ConfigKeyProblem(src.SecretKeyRef.Key); msg != "" {
				errs.add(fieldPath(kp, "key"), msg)
			}
		}
		switch len(set) {
		case 0:
			errs.add(vp, "must specify one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
		case 1:
		default:
			errs.addf(vp, "may not specify more than one of fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef, got %s", strings.Join(set, ", "))
		}
	}
	for i, f := range c.EnvFrom {
		p := indexPath(fieldPath(cp, "envFrom"), i)
		if f.Prefix != "" {
			if msg := envNameProblem(f.Prefix); msg != "" {
				errs.add(fieldPath(p, "prefix"), msg)
			}
		}
		switch {
		case f.ConfigMapRef != nil && f.SecretRef != nil:
			errs.add(p, "may not specify both configMapRef and secretRef")
		case f.ConfigMapRef != nil:
			validateRefName(errs, fieldPath(fieldPath(p, "configMapRef"), "name"), f.ConfigMapRef.Name)
		case f.SecretRef != nil:
			validateRefName(errs, fieldPath(fieldPath(p, "secretRef"), "name"), f.SecretRef.Name)
		default:
			errs.add(p, "must specify one of configMapRef or secretRef")
		}
	}
}
