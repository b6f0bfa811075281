package manifest

// roleBindingKind is rbac.authorization.k8s.io/v1 RoleBinding: grants a Role
// of its namespace, or a ClusterRole, to users and groups in its namespace.
var roleBindingKind = KindInfo{
	APIVersion: APIRBACV1, Kind: KindRoleBinding, Token: "rolebinding", Plural: "rolebindings",
	Flat:     true,
	spec:     specType[BindingSpec](),
	validate: func(errs *FieldErrors, o Object) { validateBinding(errs, *o.Binding(), false) },
	defaults: func(o *Object) { b := o.Binding().withDefaults(); o.Spec = &b },
	Columns:  bindingColumns,
	Describe: describeBinding,
}
