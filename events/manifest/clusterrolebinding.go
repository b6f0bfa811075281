package manifest

// clusterRoleBindingKind is rbac.authorization.k8s.io/v1 ClusterRoleBinding:
// grants a ClusterRole to users and groups in every namespace and on
// cluster-scoped objects.
var clusterRoleBindingKind = KindInfo{
	APIVersion: APIRBACV1, Kind: KindClusterRoleBinding, Token: "clusterrolebinding", Plural: "clusterrolebindings",
	ClusterScoped: true, Flat: true,
	spec:     specType[BindingSpec](),
	validate: func(errs *FieldErrors, o Object) { validateBinding(errs, *o.Binding(), true) },
	defaults: func(o *Object) { b := o.Binding().withDefaults(); o.Spec = &b },
	Columns:  bindingColumns,
	Describe: describeBinding,
}
