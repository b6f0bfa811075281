package manifest

// Secret is the object's content if it is a Secret, or nil.
func (o Object) Secret() *SecretSpec { s, _ := o.Spec.(*SecretSpec); return s }

// secretKind is v1 Secret: data the log keeps sealed (SecretSpec).
var secretKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindSecret, Token: "secret", Plural: "secrets",
	Flat: true, SpecOptional: true,
	spec:     specType[SecretSpec](),
	validate: func(errs *FieldErrors, o Object) {},
}
