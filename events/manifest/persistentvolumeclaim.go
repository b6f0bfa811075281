package manifest

import (
	"encoding/json"
	"reflect"
	"slices"
	"time"
)

// PersistentVolumeClaim is the object's spec if it is a
// PersistentVolumeClaim, or nil.
func (o Object) PersistentVolumeClaim() *PersistentVolumeClaimSpec {
	s, _ := o.Spec.(*PersistentVolumeClaimSpec)
	return s
}

// ValidateClaimSpec checks a claim's spec at path ("spec", or a
// StatefulSet's spec.volumeClaimTemplates[0].spec).
func ValidateClaimSpec(errs *FieldErrors, p string, s PersistentVolumeClaimSpec) {
	validateAccessModes(errs, fieldPath(p, "accessModes"), s.AccessModes)
	validateStorage(errs, fieldPath(p, "resources.requests.storage"), s.Resources.Requests)
	if lim, ok := s.Resources.Limits[ResourceStorage]; ok {
		if req, ok := s.Resources.Requests[ResourceStorage]; ok && lim.MilliValue() < req.MilliValue() {
			errs.addf(fieldPath(p, "resources.limits.storage"), "invalid value %q: must be greater than or equal to the request %q", lim.String(), req.String())
		}
	}
	if s.StorageClassName != nil {
		validateClassName(errs, fieldPath(p, "storageClassName"), *s.StorageClassName)
	}
	validateVolumeMode(errs, fieldPath(p, "volumeMode"), s.VolumeMode)
	if s.VolumeName != "" {
		if msg := nameProblem(s.VolumeName); msg != "" {
			errs.add(fieldPath(p, "volumeName"), msg)
		}
	}
	if s.Selector != nil {
		validateLabelSelector(errs, fieldPath(p, "selector"), *s.Selector)
	}
}

// ClaimNames names the PersistentVolumeClaims a pod spec mounts, in order,
// once each.
func (s PodSpec) ClaimNames() []string {
	var out []string
	for _, v := range s.Volumes {
		if v.PersistentVolumeClaim != nil && !slices.Contains(out, v.PersistentVolumeClaim.ClaimName) {
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		}
	}
	return out
}

// Request is the storage a claim asks for, in bytes.
func (s PersistentVolumeClaimSpec) Request() int64 {
	q := s.Resources.Requests[ResourceStorage]
	return q.Value()
}

// ClassName is the claim's storageClassName ("" when unset or empty).
func (s PersistentVolumeClaimSpec) ClassName() string {
	if s.StorageClassName == nil {
		return ""
	}
	return *s.StorageClassName
}

// ClaimChangeProblem says what Kubernetes refuses in an update of a
// claim's spec ("" when allowed): the spec is immutable but for
// resources.requests, which may only grow, and only when the claim's class
// allows volume expansion.
func ClaimChangeProblem(old, cur PersistentVolumeClaimSpec, expandable bool) (path, msg string) {
	a, b := old, cur
	a.Resources.Requests, b.Resources.Requests = nil, nil
	if old.StorageClassName == nil {
		b.StorageClassName = nil // the default class filled it in
		a.StorageClassName = nil
	}
	if !reflect.DeepEqual(canonicalJSON(a), canonicalJSON(b)) {
		return "spec", "forbidden: spec is immutable after creation except resources.requests"
	}
	switch oldReq, newReq := old.Request(), cur.Request(); {
	case newReq < oldReq:
		return "spec.resources.requests.storage", "forbidden: field can not be less than previous value"
	case newReq > oldReq && !expandable:
		return "spec.resources.requests.storage", "forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
	}
	return "", ""
}

func canonicalJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// persistentVolumeClaimKind is v1 PersistentVolumeClaim: a request for storage.
var persistentVolumeClaimKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindPersistentVolumeClaim, Token: "persistentvolumeclaim", Plural: "persistentvolumeclaims", ShortNames: []string{"pvc"},
	spec:     specType[PersistentVolumeClaimSpec](),
	validate: func(errs *FieldErrors, o Object) { ValidateClaimSpec(errs, "spec", *o.PersistentVolumeClaim()) },
	Columns: []Column{
		{Header: "STATUS", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return volumeOf(st, ClaimPending).Phase }},
		{Header: "VOLUME", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return volumeOf(st, ClaimPending).Volume }},
		{Header: "CAPACITY", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string { return volumeOf(st, ClaimPending).Capacity }},
		{Header: "ACCESS MODES", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string {
			return FormatAccessModes(volumeOf(st, ClaimPending).AccessModes)
		}},
		{Header: "STORAGECLASS", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.PersistentVolumeClaim().ClassName() }},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		c, v := o.PersistentVolumeClaim(), volumeOf(st, ClaimPending)
		fs := []Field{
			{"StorageClass", c.ClassName()},
			{"Status", v.Phase},
			{"Volume", v.Volume},
			{"Capacity", v.Capacity},
			{"Access Modes", FormatAccessModes(v.AccessModes)},
			{"VolumeMode", VolumeModeFilesystem},
			{"Requested", storageOf(c.Resources.Requests)},
		}
		if v.Message != "" {
			fs = append(fs, Field{"Message", v.Message})
		}
		return fs
	},
	K8sStatus: func(_ Object, st WorkloadStatus) any {
		v := volumeOf(st, ClaimPending)
		out := struct {
			Phase       string            `json:"phase"`
			AccessModes []string          `json:"accessModes,omitempty"`
			Capacity    map[string]string `json:"capacity,omitempty"`
		}{Phase: v.Phase, AccessModes: v.AccessModes}
		if v.Capacity != "" {
			out.Capacity = map[string]string{ResourceStorage: v.Capacity}
		}
		return out
	},
}
