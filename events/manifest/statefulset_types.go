package manifest

// KindStatefulSet is apps/v1 StatefulSet.
const KindStatefulSet = "StatefulSet"

// StatefulSetSpec is apps/v1 StatefulSetSpec: pods with stable ordinal
// names (<name>-0, <name>-1, …), each with its own claims.
type StatefulSetSpec struct {
	Replicas             *int32                          `json:"replicas,omitempty"`
	Selector             *LabelSelector                  `json:"selector"`
	Template             PodTemplateSpec                 `json:"template"`
	ServiceName          string                          `json:"serviceName,omitempty"`
	VolumeClaimTemplates []PersistentVolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`
	PodManagementPolicy  string                          `json:"podManagementPolicy,omitempty"` // OrderedReady (default), Parallel
	UpdateStrategy       StatefulSetUpdateStrategy       `json:"updateStrategy,omitempty"`
	RevisionHistoryLimit *int32                          `json:"revisionHistoryLimit,omitempty"`
	MinReadySeconds      int32                           `json:"minReadySeconds,omitempty"`
	// PersistentVolumeClaimRetentionPolicy says whether the claims of
	// volumeClaimTemplates are deleted with the set or on scale-down.
	PersistentVolumeClaimRetentionPolicy *StatefulSetPersistentVolumeClaimRetentionPolicy `json:"persistentVolumeClaimRetentionPolicy,omitempty"`
	Ordinals                             *StatefulSetOrdinals                             `json:"ordinals,omitempty"`
}

// StatefulSetUpdateStrategy is RollingUpdate (default) or OnDelete.
type StatefulSetUpdateStrategy struct {
	Type          string                            `json:"type,omitempty"`
	RollingUpdate *RollingUpdateStatefulSetStrategy `json:"rollingUpdate,omitempty"`
}

// RollingUpdateStatefulSetStrategy: ordinals below Partition keep their
// revision; MaxUnavailable bounds how many update at once (default 1).
type RollingUpdateStatefulSetStrategy struct {
	Partition      *int32       `json:"partition,omitempty"`
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
}

// StatefulSetPersistentVolumeClaimRetentionPolicy: Retain (default) or
// Delete, when the set is deleted and when it is scaled down.
type StatefulSetPersistentVolumeClaimRetentionPolicy struct {
	WhenDeleted string `json:"whenDeleted,omitempty"`
	WhenScaled  string `json:"whenScaled,omitempty"`
}

// StatefulSetOrdinals moves the first ordinal (default 0).
type StatefulSetOrdinals struct {
	Start int32 `json:"start,omitempty"`
}
