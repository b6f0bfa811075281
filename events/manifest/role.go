package manifest

// roleKind is rbac.authorization.k8s.io/v1 Role: rules that a RoleBinding
// grants in the Role's namespace.
var roleKind = KindInfo{
	APIVersion: APIRBACV1, Kind: KindRole, Token: "role", Plural: "roles",
	Flat:     true,
	spec:     specType[RoleSpec](),
	validate: func(errs *FieldErrors, o Object) { validateRules(errs, o.Rules()) },
	Describe: describeRules,
}
