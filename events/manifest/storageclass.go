package manifest

import (
	"maps"
	"slices"
	"strconv"
	"time"
)

// StorageClass is the object's content if it is a StorageClass, or nil.
func (o Object) StorageClass() *StorageClassSpec { s, _ := o.Spec.(*StorageClassSpec); return s }

// DefaultStorageClass is the class that exists from a cluster's first
// start, marked default: local-path volumes bound where their first pod
// runs, deleted with their claim (as k3s' local-path).
const DefaultStorageClass = "local-path"

// DefaultStorageClassObject is the default class as bootstrap makes it.
func DefaultStorageClassObject() Object {
	wait, del := VolumeBindingWaitForFirstConsumer, ReclaimDelete
	return Object{APIVersion: APIStorageV1, Kind: KindStorageClass,
		Metadata: ObjectMeta{Name: DefaultStorageClass, Annotations: map[string]string{IsDefaultClassAnnotation: "true"}},
		Spec:     &StorageClassSpec{Provisioner: LocalPathProvisioner, ReclaimPolicy: &del, VolumeBindingMode: &wait}}
}

// IsDefaultClass reports the default-class annotation set to "true".
func IsDefaultClass(annotations map[string]string) bool {
	return annotations[IsDefaultClassAnnotation] == "true"
}

// BindingMode is the class's volumeBindingMode: Immediate when unset, as
// Kubernetes, but WaitForFirstConsumer for the local-path provisioner,
// whose volumes need a node.
func (s StorageClassSpec) BindingMode() string {
	switch {
	case s.VolumeBindingMode != nil:
		return *s.VolumeBindingMode
	case s.Provisioner == LocalPathProvisioner:
		return VolumeBindingWaitForFirstConsumer
	}
	return VolumeBindingImmediate
}

// Reclaim is the class's reclaimPolicy, Delete when unset.
func (s StorageClassSpec) Reclaim() string {
	if s.ReclaimPolicy == nil {
		return ReclaimDelete
	}
	return *s.ReclaimPolicy
}

// Expandable reports allowVolumeExpansion.
func (s StorageClassSpec) Expandable() bool {
	return s.AllowVolumeExpansion != nil && *s.AllowVolumeExpansion
}

// MaxBytes is the largest claim of the class: its maxSize parameter, or
// MaxVolumeBytes.
func (s StorageClassSpec) MaxBytes() int64 {
	if q, err := ParseQuantity(s.Parameters[MaxSizeParameter]); err == nil && q.Value() > 0 {
		return min(q.Value(), MaxVolumeBytes)
	}
	return MaxVolumeBytes
}

func validateStorageClass(errs *FieldErrors, s StorageClassSpec) {
	switch s.Provisioner {
	case LocalPathProvisioner, NoProvisioner:
	case "":
		errs.add("provisioner", "required: "+LocalPathProvisioner+" or "+NoProvisioner)
	default:
		errs.addf("provisioner", "unsupported value %q: must be %s or %s (no CSI driver is installed)", s.Provisioner, LocalPathProvisioner, NoProvisioner)
	}
	if s.ReclaimPolicy != nil {
		validateReclaim(errs, "reclaimPolicy", *s.ReclaimPolicy)
	}
	if m := s.VolumeBindingMode; m != nil {
		switch {
		case *m != VolumeBindingImmediate && *m != VolumeBindingWaitForFirstConsumer:
			errs.addf("volumeBindingMode", "unsupported value %q: must be Immediate or WaitForFirstConsumer", *m)
		case *m == VolumeBindingImmediate && s.Provisioner == LocalPathProvisioner:
			errs.add("volumeBindingMode", "unsupported value \"Immediate\" for provisioner "+LocalPathProvisioner+": a local volume needs a node, so it is made where the claim's first pod runs (WaitForFirstConsumer)")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Parameters)) {
		v := s.Parameters[k]
		switch k {
		case MaxSizeParameter:
			if q, err := ParseQuantity(v); err != nil || q.MilliValue() <= 0 {
				errs.addf("parameters.maxSize", "invalid value %q: must be a positive quantity such as 100Gi", v)
			}
		case NodePathParameter:
			if s.Provisioner != LocalPathProvisioner || len(v) == 0 || v[0] != '/' {
				errs.addf("parameters.nodePath", "invalid value %q: must be an absolute path, for provisioner %s", v, LocalPathProvisioner)
			}
		default:
			errs.addf("parameters."+k, "unsupported parameter: %s takes %s and %s", s.Provisioner, MaxSizeParameter, NodePathParameter)
		}
	}
}

// storageClassKind is storage.k8s.io/v1 StorageClass: how claims of the class
// get their volumes.
var storageClassKind = KindInfo{
	APIVersion: APIStorageV1, Kind: KindStorageClass, Token: "storageclass", Plural: "storageclasses", ShortNames: []string{"sc"},
	ClusterScoped: true, Flat: true,
	spec:     specType[StorageClassSpec](),
	validate: func(errs *FieldErrors, o Object) { validateStorageClass(errs, *o.StorageClass()) },
	NameSuffix: func(o Object) string {
		if IsDefaultClass(o.Metadata.Annotations) {
			return " (default)"
		}
		return ""
	},
	Columns: []Column{
		{Header: "PROVISIONER", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.StorageClass().Provisioner }},
		{Header: "RECLAIMPOLICY", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.StorageClass().Reclaim() }},
		{Header: "VOLUMEBINDINGMODE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.StorageClass().BindingMode() }},
		{Header: "ALLOWVOLUMEEXPANSION", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return strconv.FormatBool(o.StorageClass().Expandable())
		}},
	},
	Describe: func(o Object, _ WorkloadStatus) []Field {
		s := o.StorageClass()
		def := "No"
		if IsDefaultClass(o.Metadata.Annotations) {
			def = "Yes"
		}
		return []Field{
			{"IsDefaultClass", def},
			{"Provisioner", s.Provisioner},
			{"Parameters", orNone(FormatLabels(s.Parameters))},
			{"AllowVolumeExpansion", strconv.FormatBool(s.Expandable())},
			{"ReclaimPolicy", s.Reclaim()},
			{"VolumeBindingMode", s.BindingMode()},
		}
	},
}
