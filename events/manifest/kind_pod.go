package manifest

// podKind is v1 Pod, a bare pod. `gantry get pods` lists every pod (bare or
// made by a workload) from the pods read model, so its columns are the
// CLI's own.
var podKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindPod, Token: "pod", Plural: "pods", ShortNames: []string{"po"},
	spec:    specType[PodSpec](),
	HasPods: true,
	validate: func(errs *FieldErrors, o Object) {
		validatePodSpec(errs, "spec", *o.Pod())
	},
	defaults: func(o *Object) {
		spec := o.Pod().withDefaults()
		o.Spec = &spec
	},
}

// Pod is the object's spec if it is a bare Pod, or nil.
func (o Object) Pod() *PodSpec { s, _ := o.Spec.(*PodSpec); return s }
