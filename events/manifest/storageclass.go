package manifest

// StorageClass is the object's content if it is a StorageClass, or nil.
func (o Object) StorageClass() *StorageClassSpec { s, _ := o.Spec.(*StorageClassSpec); return s }

// storageClassKind is storage.k8s.io/v1 StorageClass: how claims of the class
// get their volumes.
var storageClassKind = KindInfo{
	APIVersion: APIStorageV1, Kind: KindStorageClass, Token: "storageclass", Plural: "storageclasses", ShortNames: []string{"sc"},
	ClusterScoped: true, Flat: true,
	spec:     specType[StorageClassSpec](),
	validate: func(errs *FieldErrors, o Object) {},
}
