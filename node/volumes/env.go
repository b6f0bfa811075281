package volumes

import (
	"maps"
	"slices"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// containerEnv is container c's environment as Kubernetes builds it: every
// envFrom in order (a later one wins; keys that are no valid variable name
// are skipped), then env (which wins over envFrom), each valueFrom resolved.
// It is resolved once, when the container is created: an object that
// changes later does not change it (a restart of the pod does).
func containerEnv(f facts, l *lookup, c manifest.Container) ([]string, error) {
	ns := f.pod.Namespace
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	var cfgErr error
	fail := func(err error) {
		if cfgErr == nil {
			cfgErr = err
		}
	}
	for _, src := range c.EnvFrom {
		kind, name, optional := kindConfigMap, "", false
		switch {
		case src.ConfigMapRef != nil:
			name, optional = src.ConfigMapRef.Name, manifest.Optional(src.ConfigMapRef.Optional)
		case src.SecretRef != nil:
			kind, name, optional = kindSecret, src.SecretRef.Name, manifest.Optional(src.SecretRef.Optional)
		default:
			continue
		}
		obj, known := l.object(ns, kind, name)
		if !known {
			continue
		}
		if !obj.Exists {
			if !optional {
				fail(node.ConfigErrorf("%s %q not found", kind, name))
			}
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(obj.Data)) {
			if key := src.Prefix + k; manifest.ValidEnvName(key) {
				set(key, string(obj.Data[k]))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, e.Value)
			continue
		}
		v, ok, err := valueFrom(f, l, c, *e.ValueFrom)
		switch {
		case err != nil:
			fail(err)
		case ok:
			set(e.Name, v)
		}
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	if cfgErr != nil {
		return nil, cfgErr
	}
	env := make([]string, len(order))
	for i, k := range order {
		env[i] = k + "=" + vals[k]
	}
	return env, nil
}

// valueFrom resolves one env var's source; ok is false when it is not set
// (an optional object or key that is missing, or one not known yet).
func valueFrom(f facts, l *lookup, c manifest.Container, src manifest.EnvVarSource) (v string, ok bool, err error) {
	key := func(kind, name, k string, optional bool) (string, bool, error) {
		obj, known := l.object(f.pod.Namespace, kind, name)
		switch {
		case !known:
			return "", false, nil
		case !obj.Exists && optional:
			return "", false, nil
		case !obj.Exists:
			return "", false, node.ConfigErrorf("%s %q not found", kind, name)
		}
		val, found := obj.Data[k]
		switch {
		case found:
			return string(val), true, nil
		case optional:
			return "", false, nil
		}
		return "", false, node.ConfigErrorf("couldn't find key %s in %s %s/%s", k, kindTitle(kind), f.pod.Namespace, name)
	}
	switch {
	case src.ConfigMapKeyRef != nil:
		r := src.ConfigMapKeyRef
		return key(kindConfigMap, r.Name, r.Key, manifest.Optional(r.Optional))
	case src.SecretKeyRef != nil:
		r := src.SecretKeyRef
		return key(kindSecret, r.Name, r.Key, manifest.Optional(r.Optional))
	case src.FieldRef != nil:
		v, err := fieldValue(f, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := resourceValue(f, *src.ResourceFieldRef, c.Name)
		return v, err == nil, err
	}
	return "", false, nil
}
