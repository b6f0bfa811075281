package manifest

// StatefulSet is the object's spec if it is a StatefulSet, or nil.
func (o Object) StatefulSet() *StatefulSetSpec { s, _ := o.Spec.(*StatefulSetSpec); return s }

// ReplicaCount is spec.replicas, or 1 when unset.
func (s StatefulSetSpec) ReplicaCount() int32 {
	if s.Replicas == nil {
		return 1
	}
	return *s.Replicas
}

// statefulSetKind is apps/v1 StatefulSet: pods with stable names and claims.
var statefulSetKind = KindInfo{
	APIVersion: APIAppsV1, Kind: KindStatefulSet, Token: "statefulset", Plural: "statefulsets", ShortNames: []string{"sts"},
	spec:         specType[StatefulSetSpec](),
	validate:     func(errs *FieldErrors, o Object) {},
	Template:     func(o Object) *PodTemplateSpec { return &o.StatefulSet().Template },
	TemplatePath: "spec.template",
	HasPods:      true,
	Pods:         func(o Object) (int32, string) { return o.StatefulSet().ReplicaCount(), "spec.replicas" },
}
