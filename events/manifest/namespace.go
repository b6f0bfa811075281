package manifest

// validateNamespace checks a Namespace's metadata, in place of
// validateObjectMeta: a Namespace is cluster-scoped, so metadata.namespace
// must be empty, and its name is a name like any other (a DNS-1123 label
// without dots; "default", "kube-system" and "kube-public" are fine). A
// Namespace's spec is optional and has no fields to check.
func validateNamespace(errs *FieldErrors, o ObjectMeta) {
	validateObjectMeta(errs, "metadata", o, KindNamespace)
}
