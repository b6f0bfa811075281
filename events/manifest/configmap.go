package manifest

// ConfigMap is the object's content if it is a ConfigMap, or nil.
func (o Object) ConfigMap() *ConfigMapSpec { s, _ := o.Spec.(*ConfigMapSpec); return s }

// configMapKind is v1 ConfigMap: configuration as keys and values.
var configMapKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindConfigMap, Token: "configmap", Plural: "configmaps", ShortNames: []string{"cm"},
	Flat: true, SpecOptional: true,
	spec:     specType[ConfigMapSpec](),
	validate: func(errs *FieldErrors, o Object) {},
}
