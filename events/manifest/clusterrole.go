package manifest

// clusterRoleKind is rbac.authorization.k8s.io/v1 ClusterRole: rules that a
// ClusterRoleBinding grants everywhere, or a RoleBinding in its namespace.
// aggregationRule is not supported yet.
var clusterRoleKind = KindInfo{
	APIVersion: APIRBACV1, Kind: KindClusterRole, Token: "clusterrole", Plural: "clusterroles",
	ClusterScoped: true, Flat: true,
	spec:     specType[ClusterRoleSpec](),
	validate: func(errs *FieldErrors, o Object) { validateRules(errs, o.Rules()) },
	Describe: describeRules,
}
