package manifest

import (
	"cmp"
	"slices"
)

// ConfigRef names a ConfigMap or a Secret of the pod's namespace that a pod
// spec uses; Kind is the kind's token (configmap, secret).
type ConfigRef struct {
	Kind string
	Name string
}

// ConfigRefs lists, sorted and once each, the ConfigMaps and Secrets the
// spec uses: its volumes (configMap, secret, and projected sources) and its
// containers' and init containers' env (valueFrom configMapKeyRef and
// secretKeyRef, envFrom). Whether a reference is optional does not matter
// here: the node is told of the object either way.
func (s PodSpec) ConfigRefs() []ConfigRef {
	var out []ConfigRef
	add := func(kind, name string) {
		if name != "" {
			out = append(out, ConfigRef{Kind: kind, Name: name})
		}
	}
	cm, sec := configMapKind.Token, secretKind.Token
	for _, v := range s.Volumes {
		if v.ConfigMap != nil {
			add(cm, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			add(sec, v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, p := range v.Projected.Sources {
				if p.ConfigMap != nil {
					add(cm, p.ConfigMap.Name)
				}
				if p.Secret != nil {
					add(sec, p.Secret.Name)
				}
			}
		}
	}
	for _, cs := range [][]Container{s.InitContainers, s.Containers} {
		for _, c := range cs {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					add(cm, e.ConfigMapRef.Name)
				}
				if e.SecretRef != nil {
					add(sec, e.SecretRef.Name)
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					add(cm, r.Name)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					add(sec, r.Name)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b ConfigRef) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name)) })
	return slices.Compact(out)
}
