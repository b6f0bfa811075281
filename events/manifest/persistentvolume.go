package manifest

// PersistentVolume is the object's spec if it is a PersistentVolume, or nil.
func (o Object) PersistentVolume() *PersistentVolumeSpec {
	s, _ := o.Spec.(*PersistentVolumeSpec)
	return s
}

// persistentVolumeKind is v1 PersistentVolume: one volume of one node.
var persistentVolumeKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindPersistentVolume, Token: "persistentvolume", Plural: "persistentvolumes", ShortNames: []string{"pv"},
	ClusterScoped: true,
	spec:          specType[PersistentVolumeSpec](),
	validate:      func(errs *FieldErrors, o Object) {},
}
