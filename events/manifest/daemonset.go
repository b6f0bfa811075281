package manifest

import "fmt"

// A DaemonSet runs one pod from its template on every node the template's
// scheduling terms allow. A new template replaces its pods as
// updateStrategy says: RollingUpdate (Kubernetes' default) node by node,
// at most maxUnavailable nodes without an available pod at a time
// (default 1), or, with maxSurge, the new pod started beside the old one
// on at most maxSurge nodes at a time; OnDelete only when a pod is
// deleted.

// Defaults of a DaemonSet's rolling update, as Kubernetes'.
var (
	defaultDaemonMaxUnavailable = FromInt(1)
	defaultDaemonMaxSurge       = FromInt(0)
)

func validateDaemonSetSpec(errs *FieldErrors, path string, s DaemonSetSpec) {
	validateSelectedTemplate(errs, path, KindDaemonSet, s.Selector, s.Template)
	if s.UpdateStrategy == nil {
		return
	}
	spath := fieldPath(path, "updateStrategy")
	switch t := s.UpdateStrategy.Type; t {
	case "", DaemonSetRollingUpdate:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			validateDaemonBounds(errs, fieldPath(spath, "rollingUpdate"), ru)
		}
	case DaemonSetOnDelete:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs.addf(fieldPath(spath, "rollingUpdate"), "may not be specified when updateStrategy type is %s", DaemonSetOnDelete)
		}
	default:
		errs.addf(fieldPath(spath, "type"), "unsupported value %q: must be %s or %s", t, DaemonSetRollingUpdate, DaemonSetOnDelete)
	}
}

// validateDaemonBounds checks maxUnavailable and maxSurge as Kubernetes
// does: each a count >= 0 or a percentage of at most 100 %, and exactly
// one of them non-zero once defaulted (maxUnavailable 1, maxSurge 0), so
// maxSurge alone is refused until maxUnavailable is 0.
func validateDaemonBounds(errs *FieldErrors, path string, ru *RollingUpdateDaemonSet) {
	unavailable, surge := ru.bounds()
	validateBounds(errs, path, &surge, &unavailable)
	if !isZeroBound(&unavailable) && !isZeroBound(&surge) {
		errs.addf(fieldPath(path, "maxSurge"), "may not be set when %s is non-zero (it defaults to 1: set it to 0 to surge)", fieldPath(path, "maxUnavailable"))
	}
}

// bounds are maxUnavailable and maxSurge with Kubernetes' defaults (1, 0).
func (ru *RollingUpdateDaemonSet) bounds() (unavailable, surge IntOrString) {
	unavailable, surge = defaultDaemonMaxUnavailable, defaultDaemonMaxSurge
	if ru != nil && ru.MaxUnavailable != nil {
		unavailable = *ru.MaxUnavailable
	}
	if ru != nil && ru.MaxSurge != nil {
		surge = *ru.MaxSurge
	}
	return unavailable, surge
}

// StrategyType is spec.updateStrategy.type, RollingUpdate when unset.
func (s DaemonSetSpec) StrategyType() string {
	if s.UpdateStrategy == nil || s.UpdateStrategy.Type == "" {
		return DaemonSetRollingUpdate
	}
	return s.UpdateStrategy.Type
}

// RollingBounds resolves maxSurge and maxUnavailable against nodes, the
// number of nodes that should run the pod, as Kubernetes' DaemonSet
// controller does: both percentages round up, and when both come to 0
// (no node, or both written 0 before validation refused it) unavailable
// is 1.
//
// Worked numbers: 10 nodes at maxUnavailable 25 % → ⌈2.5⌉ = 3 nodes at a
// time; 3 nodes at 10 % → ⌈0.3⌉ = 1; 10 nodes at maxSurge 30 % (and
// maxUnavailable 0) → 3 new pods beside old ones at a time; 1 node at
// maxSurge 50 % → ⌈0.5⌉ = 1.
func (s DaemonSetSpec) RollingBounds(nodes int32) (maxSurge, maxUnavailable int32) {
	var ru *RollingUpdateDaemonSet
	if s.UpdateStrategy != nil {
		ru = s.UpdateStrategy.RollingUpdate
	}
	unavailable, surge := ru.bounds()
	maxSurge = scaledBound(surge, nodes, true)
	maxUnavailable = scaledBound(unavailable, nodes, true)
	if maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable
}

// describeStrategy is describe's Update Strategy line.
func (s DaemonSetSpec) describeStrategy() string {
	if s.StrategyType() != DaemonSetRollingUpdate {
		return s.StrategyType() + " (a pod is replaced when it is deleted)"
	}
	var ru *RollingUpdateDaemonSet
	if s.UpdateStrategy != nil {
		ru = s.UpdateStrategy.RollingUpdate
	}
	unavailable, surge := ru.bounds()
	return fmt.Sprintf("RollingUpdate (max unavailable %s, max surge %s)", unavailable, surge)
}

// withDefaults fills updateStrategy as Kubernetes does (RollingUpdate with
// maxUnavailable 1 and maxSurge 0), so describe shows what runs, and the
// template's pod defaults. Slices and pointers are copied before they
// change.
func (s DaemonSetSpec) withDefaults() DaemonSetSpec {
	us := DaemonSetUpdateStrategy{}
	if s.UpdateStrategy != nil {
		us = *s.UpdateStrategy
	}
	if us.Type == "" {
		us.Type = DaemonSetRollingUpdate
	}
	if us.Type == DaemonSetRollingUpdate {
		ru := RollingUpdateDaemonSet{}
		if us.RollingUpdate != nil {
			ru = *us.RollingUpdate
		}
		unavailable, surge := ru.bounds()
		ru.MaxUnavailable, ru.MaxSurge = &unavailable, &surge
		us.RollingUpdate = &ru
	}
	s.UpdateStrategy = &us
	s.Template.Spec = s.Template.Spec.withDefaults()
	return s
}
