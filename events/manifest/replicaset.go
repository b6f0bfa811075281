package manifest

// A ReplicaSet keeps spec.replicas pods that match its selector, stamped
// from its template. It is checked like a Deployment, except that its
// selector may use matchExpressions alone, as Kubernetes allows.

func validateReplicaSetSpec(errs *FieldErrors, path string, s ReplicaSetSpec) {
	if s.Replicas != nil && *s.Replicas < 0 {
		errs.addf(fieldPath(path, "replicas"), "must be >= 0, got %d", *s.Replicas)
	}
	validateSelectedTemplate(errs, path, KindReplicaSet, s.Selector, s.Template)
}

// withDefaults fills one replica and the template's pod defaults. Slices
// and pointers are copied before they change.
func (s ReplicaSetSpec) withDefaults() ReplicaSetSpec {
	if s.Replicas == nil {
		one := int32(1)
		s.Replicas = &one
	}
	s.Template.Spec = s.Template.Spec.withDefaults()
	return s
}

// validateSelectedTemplate checks what a ReplicaSet and a DaemonSet share:
// a selector that is not empty and matches the template's labels, the
// template's metadata and pod spec, and pods that restart Always.
//
// "spec.selector: does not match template labels" is what a selector
// {app: web} over a template labelled {app: api} reads.
func validateSelectedTemplate(errs *FieldErrors, path, kind string, sel *LabelSelector, t PodTemplateSpec) {
	spath := fieldPath(path, "selector")
	switch {
	case sel == nil:
		errs.add(spath, "required")
	case len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0:
		errs.addf(spath, "required: a %s must select its pods by at least one of matchLabels and matchExpressions (an empty selector would match every pod)", kind)
	default:
		validateLabelSelector(errs, spath, *sel)
		if !sel.Matches(t.Metadata.Labels) {
			errs.add(spath, "does not match template labels")
		}
	}
	tpath := fieldPath(path, "template")
	validateTemplateMeta(errs, fieldPath(tpath, "metadata"), t.Metadata)
	ppath := fieldPath(tpath, "spec")
	validatePodSpec(errs, ppath, t.Spec)
	if rp := t.Spec.RestartPolicy; rp != "" && rp != RestartAlways && validRestartPolicy(rp) {
		errs.addf(fieldPath(ppath, "restartPolicy"), "unsupported value %q: a %s's pods must restart Always", rp, kind)
	}
}

// validateTemplateMeta checks a template's labels and annotations.
func validateTemplateMeta(errs *FieldErrors, path string, m TemplateMeta) {
	validateLabels(errs, fieldPath(path, "labels"), m.Labels)
	validateAnnotations(errs, fieldPath(path, "annotations"), m.Annotations)
}
