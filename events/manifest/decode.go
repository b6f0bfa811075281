package manifest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// DecodeObject decodes one manifest document (JSON, as SplitDocuments makes
// it) strictly: the apiVersion/kind pair picks the typed spec, and every
// field that is unknown, not supported yet, or of the wrong type is
// reported. The error, when not nil, is a FieldErrors listing all problems
// in document order. DecodeObject checks shape only; Validate checks values.
func DecodeObject(raw json.RawMessage) (Object, error) {
	tree, err := parseJSONTree(raw)
	if errors.Is(err, errTooDeep) {
		return Object{}, FieldErrors{{Message: err.Error()}}
	}
	if err != nil {
		return Object{}, FieldErrors{{Message: "invalid JSON: " + err.Error()}}
	}
	root, ok := tree.(jsonObject)
	if !ok {
		return Object{}, FieldErrors{{Message: "must be an object, got " + jsonTypeName(tree)}}
	}

	// apiVersion and kind first: they decide the type of spec.
	var w walker
	header := map[string]string{}
	for _, key := range []string{"apiVersion", "kind"} {
		v, ok := root.get(key)
		if !ok {
			w.errs.add(key, "required")
			continue
		}
		s, ok := v.(string)
		if !ok {
			w.typeError(key, "a string", v)
			continue
		}
		header[key] = s
	}
	var info *KindInfo
	if len(w.errs) == 0 {
		var kindErr *FieldError
		if info, kindErr = specTypeOf(header["apiVersion"], header["kind"]); kindErr != nil {
			return Object{}, FieldErrors{*kindErr}
		}
	}

	seen := map[string]bool{}
	var flat jsonObject // a Flat kind's content: every other top-level field
	for _, m := range root {
		if seen[m.key] {
			w.errs.add(m.key, "duplicate field")
			continue
		}
		seen[m.key] = true
		switch {
		case m.key == "apiVersion", m.key == "kind":
			// checked above
		case m.key == "metadata":
			w.value(m.key, m.val, objectMetaType)
		case info != nil && info.Flat && m.key != "status":
			flat = append(flat, m)
		case m.key == "spec":
			if m.val == nil {
				continue // reported below
			}
			if info != nil {
				w.value(m.key, m.val, info.spec)
			}
		case m.key == "status":
			w.errs.add(m.key, "set by Gantry, remove it")
		default:
			w.unknown(m.key, m.key, objectFieldNames)
		}
	}
	if info != nil && info.Flat {
		if flat == nil {
			flat = jsonObject{}
		}
		w.object("", flat, info.spec)
	} else if spec, _ := root.get("spec"); spec == nil && info != nil && !info.SpecOptional {
		w.errs.add("spec", "required")
	}
	if len(w.errs) > 0 {
		return Object{}, w.errs
	}

	var o Object
	if err := o.unmarshal(raw); err != nil {
		// The walk should have caught anything json rejects.
		return Object{}, FieldErrors{{Message: err.Error()}}
	}
	return o, nil
}

// ObjectFromJSON is DecodeObject: the strict way from JSON to an Object.
func ObjectFromJSON(raw json.RawMessage) (Object, error) { return DecodeObject(raw) }

// specTypeOf is the Go type of spec for an apiVersion/kind pair.
func specTypeOf(apiVersion, kind string) (*KindInfo, *FieldError) {
	if k, ok := lookupKind(apiVersion, kind); ok {
		return k, nil
	}
	return nil, unsupportedKind(apiVersion, kind)
}

// UnsupportedKind is the refusal of a kind Gantry does not support: it
// names the kind and lists those supported.
func UnsupportedKind(apiVersion, kind string) *FieldError { return unsupportedKind(apiVersion, kind) }

func unsupportedKind(apiVersion, kind string) *FieldError {
	return &FieldError{Path: "kind", Message: fmt.Sprintf("%q (apiVersion %q) is not supported; supported: %s",
		kind, apiVersion, SupportedKinds())}
}

var (
	objectMetaType    = reflect.TypeFor[ObjectMeta]()
	quantityType      = reflect.TypeFor[Quantity]()
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	objectFieldNames  = []string{"apiVersion", "kind", "metadata", "spec", "status"}
	notSupportedCache sync.Map // reflect.Type → map[string]bool
)

// notSupported lists, per struct, the fields Kubernetes has and Gantry does
// not support yet. A field added to the struct wins over its entry here.
var notSupported = map[reflect.Type][]string{
	reflect.TypeFor[ObjectMeta](): objectMetaNotSupported,
	reflect.TypeFor[TemplateMeta](): append([]string{"name", "namespace"},
		objectMetaNotSupported...),
	reflect.TypeFor[ReplicaSetSpec](): {"minReadySeconds"},
	reflect.TypeFor[DaemonSetSpec]():  {"minReadySeconds", "revisionHistoryLimit"},
	reflect.TypeFor[JobSpec](): {
		"selector", "manualSelector", "podReplacementPolicy", "successPolicy", "managedBy",
	},
	reflect.TypeFor[PodFailurePolicyRule](): {"onPodConditions"},
	reflect.TypeFor[NamespaceSpec]():        {"finalizers"},
	reflect.TypeFor[ResourceQuotaSpec]():    {"scopes", "scopeSelector"},
	reflect.TypeFor[PodSpec](): {
		"ephemeralContainers",
		"activeDeadlineSeconds", "dnsPolicy", "dnsConfig", "nodeName",
		"serviceAccountName", "serviceAccount", "automountServiceAccountToken",
		"hostNetwork", "hostPID", "hostIPC", "hostUsers", "shareProcessNamespace",
		"securityContext", "imagePullSecrets", "setHostnameAsFQDN",
		"schedulerName", "hostAliases", "preemptionPolicy", "readinessGates", "runtimeClassName",
		"enableServiceLinks", "overhead", "os",
		"schedulingGates", "resourceClaims", "resources",
	},
	reflect.TypeFor[Container](): {
		"workingDir", "volumeDevices", "terminationMessagePath",
		"terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin",
		"stdinOnce", "tty", "resizePolicy", "restartPolicy",
	},
	reflect.TypeFor[LifecycleHandler]():     {"tcpSocket"}, // deprecated in Kubernetes
	reflect.TypeFor[ContainerPort]():        {"hostIP"},
	reflect.TypeFor[ResourceRequirements](): {"claims"},
	reflect.TypeFor[Affinity]():             {"podAffinity"},
	reflect.TypeFor[NodeSelectorTerm]():     {"matchFields"},
	reflect.TypeFor[PodAffinityTerm]():      {"namespaces", "namespaceSelector", "matchLabelKeys", "mismatchLabelKeys"},
	reflect.TypeFor[TopologySpreadConstraint](): {
		"minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy", "matchLabelKeys",
	},

	reflect.TypeFor[ValidatingAdmissionPolicySpec]():        {"paramKind", "auditAnnotations"},
	reflect.TypeFor[ValidatingAdmissionPolicyBindingSpec](): {"paramRef"},
}

var objectMetaNotSupported = []string{
	"generateName", "selfLink", "uid", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
	"ownerReferences", "finalizers", "managedFields",
}

func isNotSupported(t reflect.Type, name string) bool {
	if m, ok := notSupportedCache.Load(t); ok {
		return m.(map[string]bool)[name]
	}
	m := map[string]bool{}
	for _, n := range notSupported[t] {
		m[n] = true
	}
	notSupportedCache.Store(t, m)
	return m[name]
}

// walker checks a JSON tree against a Go type, field by field, collecting
// errors. It follows json tags, so a field added to a type is accepted
// without touching the walker.
type walker struct {
	errs FieldErrors
}

func (w *walker) value(path string, v any, t reflect.Type) {
	if t == quantityType {
		w.quantity(path, v)
		return
	}
	if t.Kind() == reflect.Pointer {
		if v != nil {
			w.value(path, v, t.Elem())
		}
		return
	}
	if v == nil {
		return // null leaves a field unset, as in Kubernetes
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		w.unmarshaler(path, v, t)
		return
	}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
		w.bytes(path, v) // []byte is base64 in JSON (a Secret's data)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.object(path, v, t)
	case reflect.Map:
		obj, ok := v.(jsonObject)
		if !ok {
			w.typeError(path, "an object", v)
			return
		}
		if t.Key().Kind() != reflect.String {
			return
		}
		seen := map[string]bool{}
		for _, m := range obj {
			p := fieldPath(path, m.key)
			if seen[m.key] {
				w.errs.add(p, "duplicate key")
				continue
			}
			seen[m.key] = true
			if m.val == nil && t.Elem() == quantityType {
				w.errs.add(p, "must be a quantity such as \"500m\" or \"128Mi\", got null")
				continue
			}
			w.value(p, m.val, t.Elem())
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			w.typeError(path, "an array", v)
			return
		}
		for i, e := range arr {
			w.value(indexPath(path, i), e, t.Elem())
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			w.typeError(path, "a string", v)
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			w.typeError(path, "a boolean", v)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			w.typeError(path, "an integer", v)
			return
		}
		bits := t.Bits()
		if _, err := strconv.ParseInt(string(n), 10, bits); err != nil {
			if strings.ContainsAny(string(n), ".eE") {
				w.errs.addf(path, "must be an integer, got %s", n)
			} else {
				w.errs.addf(path, "must be an integer between %d and %d, got %s", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1, n)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			w.typeError(path, "an integer", v)
			return
		}
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			w.errs.addf(path, "must be an integer between 0 and %d, got %s", uint64(math.MaxUint64)>>(64-t.Bits()), n)
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			w.typeError(path, "a number", v)
			return
		}
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			w.errs.addf(path, "number %s is out of range", n)
		}
	case reflect.Interface:
		// anything goes
	}
}

func (w *walker) typeError(path, want string, got any) {
	w.errs.addf(path, "must be %s, got %s", want, jsonTypeName(got))
}

func (w *walker) quantity(path string, v any) {
	var s string
	switch v := v.(type) {
	case nil:
		return
	case string:
		s = v
	case json.Number:
		s = v.String()
	default:
		w.errs.addf(path, "must be a quantity such as \"500m\" or \"128Mi\", got %s", jsonTypeName(v))
		return
	}
	if _, err := ParseQuantity(s); err != nil {
		w.errs.add(path, err.Error())
	}
}

// unmarshaler hands a subtree to a type's own UnmarshalJSON.
func (w *walker) unmarshaler(path string, v any, t reflect.Type) {
	b, err := json.Marshal(v)
	if err != nil {
		w.errs.add(path, err.Error())
		return
	}
	if err := json.Unmarshal(b, reflect.New(t).Interface()); err != nil {
		w.errs.add(path, err.Error())
	}
}

func (w *walker) object(path string, v any, t reflect.Type) {
	obj, ok := v.(jsonObject)
	if !ok {
		w.typeError(path, "an object", v)
		return
	}
	fields := structFields(t)
	seen := map[string]bool{}
	for _, m := range obj {
		p := fieldPath(path, m.key)
		if seen[m.key] {
			w.errs.add(p, "duplicate field")
			continue
		}
		seen[m.key] = true
		if ft, ok := fields.byName[m.key]; ok {
			w.value(p, m.val, ft)
			continue
		}
		if isNotSupported(t, m.key) {
			w.errs.add(p, "not supported yet")
			continue
		}
		w.unknown(p, m.key, fields.names)
	}
}

// unknown reports an unknown field, suggesting a known one that differs only
// in case ("Replicas" for "replicas").
func (w *walker) unknown(path, key string, known []string) {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			w.errs.addf(path, "unknown field (did you mean %q?)", k)
			return
		}
	}
	w.errs.add(path, "unknown field")
}

type fieldSet struct {
	byName map[string]reflect.Type
	names  []string
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields is t's fields by json name, embedded structs flattened, as
// encoding/json sees them.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]reflect.Type{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; !dup {
				fs.byName[name] = f.Type
				fs.names = append(fs.names, name)
			}
		}
	}
	add(t)
	for _, n := range notSupported[t] {
		if _, ok := fs.byName[n]; !ok {
			fs.names = append(fs.names, n)
		}
	}
	fieldCache.Store(t, fs)
	return fs
}

// bytes checks a []byte field: a base64 string, as encoding/json reads it.
func (w *walker) bytes(path string, v any) {
	s, ok := v.(string)
	if !ok {
		w.typeError(path, "a base64 string", v)
		return
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		w.errs.addf(path, "must be base64: %v", err)
	}
}
