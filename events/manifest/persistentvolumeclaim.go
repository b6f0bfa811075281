package manifest

// PersistentVolumeClaim is the object's spec if it is a
// PersistentVolumeClaim, or nil.
func (o Object) PersistentVolumeClaim() *PersistentVolumeClaimSpec {
	s, _ := o.Spec.(*PersistentVolumeClaimSpec)
	return s
}

// persistentVolumeClaimKind is v1 PersistentVolumeClaim: a request for storage.
var persistentVolumeClaimKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindPersistentVolumeClaim, Token: "persistentvolumeclaim", Plural: "persistentvolumeclaims", ShortNames: []string{"pvc"},
	spec:     specType[PersistentVolumeClaimSpec](),
	validate: func(errs *FieldErrors, o Object) {},
}
