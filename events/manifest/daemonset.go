package manifest

import "fmt"

// A DaemonSet runs one pod from its template on every node the template's
// scheduling terms allow. Its pods are replaced only when deleted
// (OnDelete): rolling updates of DaemonSets come with the rollout work, so
// RollingUpdate is refused by name rather than accepted and ignored.

func validateDaemonSetSpec(errs *FieldErrors, path string, s DaemonSetSpec) {
	validateSelectedTemplate(errs, path, KindDaemonSet, s.Selector, s.Template)
	if s.UpdateStrategy != nil {
		tpath := fieldPath(fieldPath(path, "updateStrategy"), "type")
		switch t := s.UpdateStrategy.Type; t {
		case "", DaemonSetOnDelete:
		case DaemonSetRollingUpdate:
			errs.add(tpath, daemonSetRollingUpdateRefused)
		default:
			errs.addf(tpath, "unsupported value %q: must be %s or unset (%s is not supported yet)", t, DaemonSetOnDelete, DaemonSetRollingUpdate)
		}
	}
}

// daemonSetRollingUpdateRefused is the message for updateStrategy.type
// RollingUpdate.
var daemonSetRollingUpdateRefused = fmt.Sprintf("unsupported value %q: not supported yet (rolling updates of DaemonSets come with rollouts); use %s, which is what runs (an unset strategy behaves as %s)",
	DaemonSetRollingUpdate, DaemonSetOnDelete, DaemonSetOnDelete)

// withDefaults fills updateStrategy.type OnDelete, so describe shows what
// runs, and the template's pod defaults. Slices and pointers are copied
// before they change.
func (s DaemonSetSpec) withDefaults() DaemonSetSpec {
	if s.UpdateStrategy == nil || s.UpdateStrategy.Type == "" {
		s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: DaemonSetOnDelete}
	}
	s.Template.Spec = s.Template.Spec.withDefaults()
	return s
}
