package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A StatefulSet runs pods with stable names, <name>-<ordinal>, each with
// its own claims (<template>-<name>-<ordinal>) from volumeClaimTemplates,
// created in ordinal order (OrderedReady, the default: each once the ones
// before it are Running and Ready) or all at once (Parallel), and updated
// from the highest ordinal down to the partition (RollingUpdate) or when
// a pod is deleted (OnDelete).

// Pod management policies, update strategies and claim retention, as
// Kubernetes names them.
const (
	OrderedReadyPodManagement = "OrderedReady"
	ParallelPodManagement     = "Parallel"
	StatefulSetRollingUpdate  = "RollingUpdate"
	StatefulSetOnDelete       = "OnDelete"
	RetainClaim               = "Retain"
	DeleteClaim               = "Delete"
)

// Labels a StatefulSet's controller puts on its pods, as Kubernetes'.
const (
	StatefulSetPodNameLabel  = "statefulset.kubernetes.io/pod-name"
	PodIndexLabel            = "apps.kubernetes.io/pod-index"
	ControllerRevisionLabel  = "controller-revision-hash"
	maxStatefulSetNameLength = maxLabelLength - 1 - 10 // room for "-" and any int32 ordinal
)

// StatefulSet is the object's spec if it is a StatefulSet, or nil.
func (o Object) StatefulSet() *StatefulSetSpec { s, _ := o.Spec.(*StatefulSetSpec); return s }

// ReplicaCount is spec.replicas, or 1 when unset.
func (s StatefulSetSpec) ReplicaCount() int32 {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}

// PodManagement is spec.podManagementPolicy, OrderedReady when unset.
func (s StatefulSetSpec) PodManagement() string {
	if s.PodManagementPolicy == "" {
		return OrderedReadyPodManagement
	}
	return s.PodManagementPolicy
}

// StrategyType is spec.updateStrategy.type, RollingUpdate when unset.
func (s StatefulSetSpec) StrategyType() string {
	if s.UpdateStrategy.Type == "" {
		return StatefulSetRollingUpdate
	}
	return s.UpdateStrategy.Type
}

// Partition is spec.updateStrategy.rollingUpdate.partition (0 when unset):
// ordinals below it keep their revision during a rolling update.
func (s StatefulSetSpec) Partition() int32 {
	if ru := s.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return *ru.Partition
	}
	return 0
}

// FirstOrdinal is spec.ordinals.start (0 when unset).
func (s StatefulSetSpec) FirstOrdinal() int32 {
	if s.Ordinals != nil {
		return s.Ordinals.Start
	}
	return 0
}

// ClaimRetention is spec.persistentVolumeClaimRetentionPolicy's whenDeleted
// and whenScaled, Retain when unset.
func (s StatefulSetSpec) ClaimRetention() (whenDeleted, whenScaled string) {
	whenDeleted, whenScaled = RetainClaim, RetainClaim
	if p := s.PersistentVolumeClaimRetentionPolicy; p != nil {
		if p.WhenDeleted != "" {
			whenDeleted = p.WhenDeleted
		}
		if p.WhenScaled != "" {
			whenScaled = p.WhenScaled
		}
	}
	return whenDeleted, whenScaled
}

// StatefulPodName is a StatefulSet's pod of an ordinal: <set>-<ordinal>.
func StatefulPodName(set string, ordinal int32) string { return set + "-" + strconv.Itoa(int(ordinal)) }

// ClaimName is the claim of a volumeClaimTemplate for a StatefulSet's pod:
// <template>-<set>-<ordinal>.
func ClaimName(template, set string, ordinal int32) string {
	return template + "-" + StatefulPodName(set, ordinal)
}

func validateStatefulSet(errs *FieldErrors, o Object) {
	// The pods' names (<name>-<ordinal>) are their host names, DNS labels;
	// Kubernetes' limit, which leaves room for any ordinal.
	if n := o.Metadata.Name; len(n) > maxStatefulSetNameLength {
		errs.addf("metadata.name", "invalid value %q: a StatefulSet's name must be no more than %d characters (its pods are named <name>-<ordinal>)", n, maxStatefulSetNameLength)
	}
	validateStatefulSetSpec(errs, "spec", *o.StatefulSet())
}

func validateStatefulSetSpec(errs *FieldErrors, path string, s StatefulSetSpec) {
	nonNegative32(errs, fieldPath(path, "replicas"), s.Replicas)
	nonNegative32(errs, fieldPath(path, "revisionHistoryLimit"), s.RevisionHistoryLimit)
	if s.MinReadySeconds < 0 {
		errs.addf(fieldPath(path, "minReadySeconds"), "must be >= 0, got %d", s.MinReadySeconds)
	}
	validateSelectedTemplate(errs, path, KindStatefulSet, s.Selector, s.withClaimVolumes())
	if s.ServiceName != "" {
		if msg := nameProblem(s.ServiceName); msg != "" {
			errs.add(fieldPath(path, "serviceName"), msg)
		}
	}
	switch p := s.PodManagementPolicy; p {
	case "", OrderedReadyPodManagement, ParallelPodManagement:
	default:
		errs.addf(fieldPath(path, "podManagementPolicy"), "unsupported value %q: must be %s or %s", p, OrderedReadyPodManagement, ParallelPodManagement)
	}
	spath := fieldPath(path, "updateStrategy")
	switch t := s.UpdateStrategy.Type; t {
	case "", StatefulSetRollingUpdate:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			rpath := fieldPath(spath, "rollingUpdate")
			nonNegative32(errs, fieldPath(rpath, "partition"), ru.Partition)
			if ru.MaxUnavailable != nil {
				errs.add(fieldPath(rpath, "maxUnavailable"), "not supported: a StatefulSet's pods are updated one at a time")
			}
		}
	case StatefulSetOnDelete:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs.addf(fieldPath(spath, "rollingUpdate"), "may not be specified when updateStrategy type is %s", StatefulSetOnDelete)
		}
	default:
		errs.addf(fieldPath(spath, "type"), "unsupported value %q: must be %s or %s", t, StatefulSetRollingUpdate, StatefulSetOnDelete)
	}
	if p := s.PersistentVolumeClaimRetentionPolicy; p != nil {
		ppath := fieldPath(path, "persistentVolumeClaimRetentionPolicy")
		for _, f := range [...]struct{ field, v string }{{"whenDeleted", p.WhenDeleted}, {"whenScaled", p.WhenScaled}} {
			if f.v != "" && f.v != RetainClaim && f.v != DeleteClaim {
				errs.addf(fieldPath(ppath, f.field), "unsupported value %q: must be %s or %s", f.v, RetainClaim, DeleteClaim)
			}
		}
	}
	if s.Ordinals != nil && s.Ordinals.Start < 0 {
		errs.addf(fieldPath(path, "ordinals.start"), "must be >= 0, got %d", s.Ordinals.Start)
	}
	validateClaimTemplates(errs, path, s)
}

// withClaimVolumes is the template as its pods get it: a claim volume for
// each volumeClaimTemplate, so its containers' volumeMounts may name them
// (a template named as a pod volume is reported on its own).
func (s StatefulSetSpec) withClaimVolumes() PodTemplateSpec {
	t := s.Template
	if len(s.VolumeClaimTemplates) == 0 {
		return t
	}
	have := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		have[v.Name] = true
	}
	vols := append([]Volume(nil), t.Spec.Volumes...)
	for _, ct := range s.VolumeClaimTemplates {
		if nameProblem(ct.Metadata.Name) == "" && !have[ct.Metadata.Name] { // a bad name is reported on the template
			have[ct.Metadata.Name] = true
			vols = append(vols, Volume{Name: ct.Metadata.Name,
				PersistentVolumeClaim: &PersistentVolumeClaimVolumeSource{ClaimName: ct.Metadata.Name}})
		}
	}
	t.Spec.Volumes = vols
	return t
}

// validateClaimTemplates checks volumeClaimTemplates: names unique DNS
// labels, not also the name of one of the template's volumes (the pod gets
// a volume of that name for each), and each spec as a claim's.
func validateClaimTemplates(errs *FieldErrors, path string, s StatefulSetSpec) {
	vpath := fieldPath(path, "volumeClaimTemplates")
	seen := map[string]bool{}
	podVolumes := map[string]bool{}
	for _, v := range s.Template.Spec.Volumes {
		podVolumes[v.Name] = true
	}
	for i, t := range s.VolumeClaimTemplates {
		tpath := indexPath(vpath, i)
		npath := fieldPath(tpath, "metadata.name")
		switch name := t.Metadata.Name; {
		case nameProblem(name) != "":
			errs.add(npath, nameProblem(name))
		case seen[name]:
			errs.addf(npath, "duplicate value %q", name)
		case podVolumes[name]:
			errs.addf(npath, "invalid value %q: the pod template has a volume of that name (the claim template gives the pods one)", name)
		}
		seen[t.Metadata.Name] = true
		validateLabels(errs, fieldPath(tpath, "metadata.labels"), t.Metadata.Labels)
		validateAnnotations(errs, fieldPath(tpath, "metadata.annotations"), t.Metadata.Annotations)
		validateClaimSpec(errs, fieldPath(tpath, "spec"), t.Spec)
	}
}

// validateClaimSpec checks a template's spec with the PersistentVolumeClaim
// kind's own rules, its paths moved under the template's.
func validateClaimSpec(errs *FieldErrors, path string, spec PersistentVolumeClaimSpec) {
	if persistentVolumeClaimKind.validate == nil {
		return
	}
	var claim FieldErrors
	persistentVolumeClaimKind.validate(&claim, Object{APIVersion: APICoreV1, Kind: KindPersistentVolumeClaim,
		Metadata: ObjectMeta{Name: "claim"}, Spec: &spec})
	for _, e := range claim {
		if rest, ok := strings.CutPrefix(e.Path, "spec"); ok {
			e.Path = path + rest
			*errs = append(*errs, e)
		}
	}
}

// withDefaults fills what Kubernetes does: one replica, OrderedReady,
// RollingUpdate with partition 0, history limit 10, Retain for both claim
// retentions, and the template's pod defaults. Pointers are copied before
// they change.
func (s StatefulSetSpec) withDefaults() StatefulSetSpec {
	if s.Replicas == nil {
		one := int32(1)
		s.Replicas = &one
	}
	s.PodManagementPolicy = s.PodManagement()
	s.UpdateStrategy.Type = s.StrategyType()
	if s.UpdateStrategy.Type == StatefulSetRollingUpdate {
		ru := RollingUpdateStatefulSetStrategy{}
		if s.UpdateStrategy.RollingUpdate != nil {
			ru = *s.UpdateStrategy.RollingUpdate
		}
		if ru.Partition == nil {
			zero := int32(0)
			ru.Partition = &zero
		}
		s.UpdateStrategy.RollingUpdate = &ru
	}
	if s.RevisionHistoryLimit == nil {
		ten := int32(10)
		s.RevisionHistoryLimit = &ten
	}
	whenDeleted, whenScaled := s.ClaimRetention()
	s.PersistentVolumeClaimRetentionPolicy = &StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: whenDeleted, WhenScaled: whenScaled}
	if len(s.VolumeClaimTemplates) > 0 {
		ts := make([]PersistentVolumeClaimTemplate, len(s.VolumeClaimTemplates))
		for i, t := range s.VolumeClaimTemplates {
			if t.Spec.VolumeMode == nil {
				fs := "Filesystem"
				t.Spec.VolumeMode = &fs
			}
			ts[i] = t
		}
		s.VolumeClaimTemplates = ts
	}
	s.Template.Spec = s.Template.Spec.withDefaults()
	return s
}

// UpdateRevision is the name of a StatefulSet's current template revision,
// as Kubernetes names its ControllerRevisions: <set>-<template hash>.
func UpdateRevision(set string, t PodTemplateSpec) string { return set + "-" + TemplateHash(t) }

// describeStrategy is describe's Update Strategy lines.
func (s StatefulSetSpec) describeStrategy() []Field {
	out := []Field{{"Update Strategy", s.StrategyType()}}
	if s.StrategyType() == StatefulSetRollingUpdate {
		out = append(out, Field{"  Partition", count(s.Partition())})
	}
	return out
}

// describeClaims is describe's Volume Claims: one line per template.
func (s StatefulSetSpec) describeClaims() []Field {
	if len(s.VolumeClaimTemplates) == 0 {
		return []Field{{"Volume Claims", "<none>"}}
	}
	out := make([]Field, 0, len(s.VolumeClaimTemplates))
	for i, t := range s.VolumeClaimTemplates {
		class := "<default>"
		if t.Spec.StorageClassName != nil {
			class = *t.Spec.StorageClassName
		}
		capacity := t.Spec.Resources.Requests["storage"].String()
		name := "Volume Claims"
		if i > 0 {
			name = ""
		}
		out = append(out, Field{name, fmt.Sprintf("%s (StorageClass %s, Capacity %s, Access Modes %s)",
			t.Metadata.Name, class, orNone(capacity), orNone(strings.Join(t.Spec.AccessModes, ",")))})
	}
	return out
}

// statefulSetKind is apps/v1 StatefulSet: pods with stable names and claims.
var statefulSetKind = KindInfo{
	APIVersion: APIAppsV1, Kind: KindStatefulSet, Token: "statefulset", Plural: "statefulsets", ShortNames: []string{"sts"},
	spec:         specType[StatefulSetSpec](),
	validate:     validateStatefulSet,
	defaults:     func(o *Object) { spec := o.StatefulSet().withDefaults(); o.Spec = &spec },
	Template:     func(o Object) *PodTemplateSpec { return &o.StatefulSet().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Pods:         func(o Object) (int32, string) { return o.StatefulSet().ReplicaCount(), "spec.replicas" },
	Columns: append([]Column{
		{Header: "READY", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			return fmt.Sprintf("%d/%d", st.ReadyReplicas, o.StatefulSet().ReplicaCount())
		}},
	}, templateColumns(func(o Object) *PodTemplateSpec { return &o.StatefulSet().Template },
		func(o Object) *LabelSelector { return o.StatefulSet().Selector })[:2]...),
	Describe: func(o Object, st WorkloadStatus) []Field {
		ss := o.StatefulSet()
		out := []Field{
			{"Selector", FormatSelector(ss.Selector)},
			{"Replicas", fmt.Sprintf("%d desired | %d total", ss.ReplicaCount(), st.Replicas)},
			{"Service Name", orNone(ss.ServiceName)},
			{"Pod Management Policy", ss.PodManagement()},
		}
		out = append(out, ss.describeStrategy()...)
		whenDeleted, whenScaled := ss.ClaimRetention()
		out = append(out,
			Field{"PVC Retention Policy", fmt.Sprintf("whenDeleted %s, whenScaled %s", whenDeleted, whenScaled)},
			Field{"Pods Status", fmt.Sprintf("%d Running / %d Waiting / %d Succeeded / %d Failed",
				st.ReadyReplicas, st.Replicas-st.ReadyReplicas, st.Succeeded, st.Failed)})
		return append(out, ss.describeClaims()...)
	},
	K8sStatus: func(o Object, st WorkloadStatus) any {
		ss := o.StatefulSet()
		update := UpdateRevision(o.Metadata.Name, ss.Template)
		// Pods of an older revision are current until updated; once every
		// pod runs the newest, it is the current revision too.
		current, currentReplicas := "", st.Replicas-st.UpdatedReplicas
		if st.UpdatedReplicas == st.Replicas {
			current, currentReplicas = update, st.Replicas
		}
		return struct {
			ObservedGeneration int64  `json:"observedGeneration"`
			Replicas           int32  `json:"replicas"`
			ReadyReplicas      int32  `json:"readyReplicas"`
			CurrentReplicas    int32  `json:"currentReplicas"`
			UpdatedReplicas    int32  `json:"updatedReplicas"`
			AvailableReplicas  int32  `json:"availableReplicas"`
			CurrentRevision    string `json:"currentRevision,omitempty"`
			UpdateRevision     string `json:"updateRevision"`
		}{st.ObservedGeneration, st.Replicas, st.ReadyReplicas, currentReplicas, st.UpdatedReplicas, st.AvailableReplicas, current, update}
	},
}
