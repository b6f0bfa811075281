package volumes

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// The files of configMap, secret, downwardAPI and projected volumes, decided
// without I/O from the pod and what the node knows of its objects
// (node.Configs).

// defaultMode is Kubernetes' mode of a projected file (0644).
const defaultMode = 0o644

// Kinds' tokens in a node.ConfigRef.
const (
	kindConfigMap = "configmap"
	kindSecret    = "secret"
)

// facts is what a pod's files and env read besides its spec.
type facts struct {
	pod         node.Pod
	ip          string // the pod's
	nodeName    string
	hostIP      string
	allocatable map[string]int64 // cpu in millicores, memory and ephemeral-storage in bytes
}

// lookup is one object a pod uses, as the node knows it.
type lookup struct {
	configs node.Configs
	pending []string // objects the node has not been told of
}

// object returns the object ns/name of kind; ok is false when the node does
// not know it yet (recorded as pending).
func (l *lookup) object(ns, kind, name string) (node.ConfigObject, bool) {
	if l.configs == nil {
		l.pending = append(l.pending, kind+" "+ns+"/"+name)
		return node.ConfigObject{}, false
	}
	obj, known := l.configs.Config(node.ConfigRef{Namespace: ns, Kind: kind, Name: name})
	if !known {
		l.pending = append(l.pending, kind+" "+ns+"/"+name)
	}
	return obj, known
}

// err is the pending error, if anything was.
func (l *lookup) err() error {
	if len(l.pending) == 0 {
		return nil
	}
	return fmt.Errorf("%w: waiting for %s", node.ErrVolumesPending, strings.Join(l.pending, ", "))
}

// kindTitle is how Kubernetes' messages name a kind (ConfigMap, Secret).
func kindTitle(kind string) string {
	if kind == kindSecret {
		return "Secret"
	}
	return "ConfigMap"
}

// keysPayload puts an object's keys (all, or items) into files.
func keysPayload(out map[string]File, obj node.ConfigObject, ns, kind, name string, items []manifest.KeyToPath,
	mode *int32, optional bool) error {
	if !obj.Exists {
		if optional {
			return nil
		}
		return node.ConfigErrorf("%s %q not found", kind, name)
	}
	fm := fileMode(mode)
	if len(items) == 0 {
		for k, v := range obj.Data {
			out[k] = File{Data: v, Mode: fm}
		}
		return nil
	}
	for _, it := range items {
		v, ok := obj.Data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return node.ConfigErrorf("couldn't find key %s in %s %s/%s", it.Key, kindTitle(kind), ns, name)
		}
		m := fm
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		out[it.Path] = File{Data: v, Mode: m}
	}
	return nil
}

func fileMode(mode *int32) fs.FileMode {
	if mode == nil {
		return defaultMode
	}
	return fs.FileMode(*mode)
}

// payload is the files of volume v of f.pod (a configMap, secret,
// downwardAPI or projected one).
func payload(f facts, l *lookup, v manifest.Volume) (map[string]File, error) {
	ns := f.pod.Namespace
	out := map[string]File{}
	var err error
	switch {
	case v.ConfigMap != nil:
		s := v.ConfigMap
		if obj, known := l.object(ns, kindConfigMap, s.Name); known {
			err = keysPayload(out, obj, ns, kindConfigMap, s.Name, s.Items, s.DefaultMode, manifest.Optional(s.Optional))
		}
	case v.Secret != nil:
		s := v.Secret
		if obj, known := l.object(ns, kindSecret, s.SecretName); known {
			err = keysPayload(out, obj, ns, kindSecret, s.SecretName, s.Items, s.DefaultMode, manifest.Optional(s.Optional))
		}
	case v.DownwardAPI != nil:
		err = downwardPayload(out, f, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				s := src.ConfigMap
				if obj, known := l.object(ns, kindConfigMap, s.Name); known && err == nil {
					err = keysPayload(out, obj, ns, kindConfigMap, s.Name, s.Items, v.Projected.DefaultMode, manifest.Optional(s.Optional))
				}
			case src.Secret != nil:
				s := src.Secret
				if obj, known := l.object(ns, kindSecret, s.Name); known && err == nil {
					err = keysPayload(out, obj, ns, kindSecret, s.Name, s.Items, v.Projected.DefaultMode, manifest.Optional(s.Optional))
				}
			case src.DownwardAPI != nil && err == nil:
				err = downwardPayload(out, f, src.DownwardAPI.Items, v.Projected.DefaultMode)
			}
		}
	}
	if perr := l.err(); perr != nil {
		return nil, perr
	}
	return out, err
}

// revision names what volume v's files are made of: the revisions of its
// objects and the pod's labels and annotations. Equal revisions, equal
// files: Sync writes nothing.
func revision(f facts, configs node.Configs, v manifest.Volume) string {
	var b strings.Builder
	ref := func(kind, name string) {
		if configs == nil {
			b.WriteString("?;")
			return
		}
		obj, known := configs.Config(node.ConfigRef{Namespace: f.pod.Namespace, Kind: kind, Name: name})
		fmt.Fprintf(&b, "%s/%s:%t:%t:%d;", kind, name, known, obj.Exists, obj.Revision)
	}
	downward := func() {
		b.WriteString(formatMap(f.pod.Labels))
		b.WriteString("\x00")
		b.WriteString(formatMap(f.pod.Annotations))
	}
	switch {
	case v.ConfigMap != nil:
		ref(kindConfigMap, v.ConfigMap.Name)
	case v.Secret != nil:
		ref(kindSecret, v.Secret.SecretName)
	case v.DownwardAPI != nil:
		downward()
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				ref(kindConfigMap, src.ConfigMap.Name)
			case src.Secret != nil:
				ref(kindSecret, src.Secret.Name)
			case src.DownwardAPI != nil:
				downward()
			}
		}
	}
	return b.String()
}

func downwardPayload(out map[string]File, f facts, items []manifest.DownwardAPIVolumeFile, mode *int32) error {
	for _, it := range items {
		m := fileMode(mode)
		if it.Mode != nil {
			m = fs.FileMode(*it.Mode)
		}
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = fieldValue(f, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			val, err = resourceValue(f, *it.ResourceFieldRef, "")
		}
		if err != nil {
			return err
		}
		out[it.Path] = File{Data: []byte(val), Mode: m}
	}
	return nil
}

// fieldValue is a downward API field of the pod, as Kubernetes gives it:
// labels and annotations as sorted key="value" lines.
func fieldValue(f facts, path string) (string, error) {
	if field, key, ok := manifest.SubscriptedField(path); ok {
		if field == "metadata.labels" {
			return f.pod.Labels[key], nil
		}
		return f.pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return f.pod.Name, nil
	case "metadata.namespace":
		return f.pod.Namespace, nil
	case "metadata.uid":
		return f.pod.UID, nil
	case "metadata.labels":
		return formatMap(f.pod.Labels), nil
	case "metadata.annotations":
		return formatMap(f.pod.Annotations), nil
	case "spec.nodeName":
		return f.nodeName, nil
	case "spec.serviceAccountName":
		return "default", nil // Gantry has no service accounts: Kubernetes' default name
	case "status.podIP":
		return f.ip, nil
	case "status.hostIP":
		return f.hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// formatMap is Kubernetes' downward API format of labels and annotations:
// key="value" (Go-quoted), sorted, one a line.
func formatMap(m map[string]string) string {
	pairs := make([]string, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, k+"="+strconv.Quote(v))
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "\n")
}

// resourceValue is a container's limit or request in units of the divisor,
// rounded up, as Kubernetes computes it; an unset limit is the node's
// allocatable, an unset request the limit (or 0). self names the container
// of an env var when the ref names none.
func resourceValue(f facts, ref manifest.ResourceFieldSelector, self string) (string, error) {
	name := ref.ContainerName
	if name == "" {
		name = self
	}
	var c *manifest.Container
	for _, list := range [][]manifest.Container{f.pod.Spec.InitContainers, f.pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				c = &list[i]
			}
		}
	}
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q", name)
	}
	kind, res, _ := strings.Cut(ref.Resource, ".")
	var milli int64
	limit, hasLimit := c.Resources.Limits[res]
	switch {
	case kind == "limits" && hasLimit, kind == "requests" && !hasRequest(c, res) && hasLimit:
		milli = limit.MilliValue()
	case kind == "requests" && hasRequest(c, res):
		milli = c.Resources.Requests[res].MilliValue()
	case kind == "limits":
		if res == "cpu" {
			milli = f.allocatable["cpu"]
		} else {
			milli = f.allocatable[res] * 1000
		}
	}
	divisor := int64(1000) // 1, in milli-units
	if ref.Divisor != nil && ref.Divisor.MilliValue() > 0 {
		divisor = ref.Divisor.MilliValue()
	}
	if res == "cpu" && ref.Divisor == nil {
		divisor = 1000 // whole cores, rounded up
	}
	return strconv.FormatInt((milli+divisor-1)/divisor, 10), nil
}

func hasRequest(c *manifest.Container, res string) bool {
	_, ok := c.Resources.Requests[res]
	return ok
}
