package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A PodDisruptionBudget (policy/v1) bounds how many of the pods its selector
// matches a voluntary disruption may take down at once: an eviction (what
// `gantry node drain` asks for) that would leave fewer than the budget's
// desired healthy pods is refused. Its status is computed by the fold from
// the pods it matches; admission judges evictions against it.

// Kind and apiVersion of a PodDisruptionBudget.
const (
	KindPodDisruptionBudget = "PodDisruptionBudget"
	APIPolicyV1             = "policy/v1"
)

// Values of spec.unhealthyPodEvictionPolicy, as Kubernetes names them.
const (
	// IfHealthyBudget (the default): a running pod that is not ready may be
	// evicted only while the budget has its desired healthy pods.
	IfHealthyBudget = "IfHealthyBudget"
	// AlwaysAllow: a running pod that is not ready may always be evicted.
	AlwaysAllow = "AlwaysAllow"
)

// PodDisruptionBudgetSpec is policy/v1 PodDisruptionBudgetSpec. Exactly one
// of MinAvailable and MaxUnavailable is set, a number or a percentage of the
// pods expected ("50%").
type PodDisruptionBudgetSpec struct {
	Selector                   *LabelSelector `json:"selector,omitempty"`
	MinAvailable               *IntOrString   `json:"minAvailable,omitempty"`
	MaxUnavailable             *IntOrString   `json:"maxUnavailable,omitempty"`
	UnhealthyPodEvictionPolicy string         `json:"unhealthyPodEvictionPolicy,omitempty"`
}

// BudgetStatus is a PodDisruptionBudget's status, with Kubernetes' names:
// the healthy pods it matches (running and ready, not being deleted), how
// many it wants healthy, how many it expects, and so how many may be
// disrupted now.
type BudgetStatus struct {
	CurrentHealthy     int32 `json:"currentHealthy"`
	DesiredHealthy     int32 `json:"desiredHealthy"`
	DisruptionsAllowed int32 `json:"disruptionsAllowed"`
	ExpectedPods       int32 `json:"expectedPods"`
}

// PodDisruptionBudget is the object's spec if it is a PodDisruptionBudget,
// or nil.
func (o Object) PodDisruptionBudget() *PodDisruptionBudgetSpec {
	s, _ := o.Spec.(*PodDisruptionBudgetSpec)
	return s
}

// Selects reports whether the budget covers a pod with these labels. A
// budget always has a selector once admitted; {} selects every pod of its
// namespace, as in policy/v1.
func (s PodDisruptionBudgetSpec) Selects(labels map[string]string) bool {
	return s.Selector != nil && s.Selector.Matches(labels)
}

// ScalesWithControllers reports whether the pods expected are what the
// matching pods' controllers ask for (maxUnavailable, or a percentage of
// minAvailable), as Kubernetes counts them, rather than the pods there are.
func (s PodDisruptionBudgetSpec) ScalesWithControllers() bool {
	return s.MaxUnavailable != nil || (s.MinAvailable != nil && s.MinAvailable.IsString)
}

// Status is the budget's status given how many of its pods are healthy and
// how many are expected. Percentages are of the pods expected, rounded up,
// as Kubernetes rounds them (for maxUnavailable too).
//
// Worked numbers: minAvailable 2, 3 healthy of 3 → desired 2, 1 allowed;
// minAvailable "50%" of 3 → desired 2 (1.5 up); maxUnavailable 1 of 3 with 2
// healthy → desired 2, 0 allowed; maxUnavailable "34%" of 3 → 2 unavailable
// (1.02 up), desired 1.
func (s PodDisruptionBudgetSpec) Status(healthy, expected int32) BudgetStatus {
	st := BudgetStatus{CurrentHealthy: healthy, ExpectedPods: expected}
	switch {
	case s.MaxUnavailable != nil:
		st.DesiredHealthy = max(0, expected-scaledBound(*s.MaxUnavailable, expected, true))
	case s.MinAvailable != nil:
		st.DesiredHealthy = scaledBound(*s.MinAvailable, expected, true)
	}
	if expected > 0 {
		st.DisruptionsAllowed = max(0, healthy-st.DesiredHealthy)
	}
	return st
}

// percent reads "50%" as 50.
func percent(s string) (int, bool) {
	n, ok := strings.CutSuffix(s, "%")
	if !ok || n == "" || strings.TrimLeft(n, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.Atoi(n)
	return v, err == nil
}

// validatePodDisruptionBudgetSpec checks the spec: a selector, and exactly
// one of minAvailable and maxUnavailable, each a count >= 0 or a
// percentage of at most 100 %.
func validatePodDisruptionBudgetSpec(errs *FieldErrors, path string, s PodDisruptionBudgetSpec) {
	spath := fieldPath(path, "selector")
	if s.Selector == nil {
		errs.add(spath, "required: a PodDisruptionBudget without a selector covers no pod ({} covers every pod of its namespace)")
	} else {
		validateLabelSelector(errs, spath, *s.Selector)
	}
	switch {
	case s.MinAvailable != nil && s.MaxUnavailable != nil:
		errs.addf(fieldPath(path, "maxUnavailable"), "must not be set with %s: a budget has one of minAvailable and maxUnavailable",
			fieldPath(path, "minAvailable"))
	case s.MinAvailable == nil && s.MaxUnavailable == nil:
		errs.add(path, "one of minAvailable and maxUnavailable is required")
	}
	if s.MinAvailable != nil {
		validateIntOrPercent(errs, fieldPath(path, "minAvailable"), *s.MinAvailable)
	}
	if s.MaxUnavailable != nil {
		validateIntOrPercent(errs, fieldPath(path, "maxUnavailable"), *s.MaxUnavailable)
	}
	if p := s.UnhealthyPodEvictionPolicy; p != "" && p != IfHealthyBudget && p != AlwaysAllow {
		errs.addf(fieldPath(path, "unhealthyPodEvictionPolicy"), "unsupported value %q: must be %s or %s", p, IfHealthyBudget, AlwaysAllow)
	}
}

// validateIntOrPercent checks a count (>= 0) or a percentage ("0%" to
// "100%").
func validateIntOrPercent(errs *FieldErrors, path string, v IntOrString) {
	if !v.IsString {
		if v.Int < 0 {
			errs.addf(path, "must be >= 0, got %d", v.Int)
		}
		return
	}
	pct, ok := percent(v.Str)
	switch {
	case !ok:
		errs.addf(path, "invalid value %q: must be a whole number or a percentage (e.g. 2 or \"50%%\")", v.Str)
	case pct > 100:
		errs.addf(path, "must be no more than 100%%, got %q", v.Str)
	}
}

// withDefaults fills unhealthyPodEvictionPolicy.
func (s PodDisruptionBudgetSpec) withDefaults() PodDisruptionBudgetSpec {
	if s.UnhealthyPodEvictionPolicy == "" {
		s.UnhealthyPodEvictionPolicy = IfHealthyBudget
	}
	return s
}

// orNA is kubectl's N/A for a budget's bound that is not set.
func orNA(v *IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}

// budgetOf is the budget's status, zero until the fold computed it.
func budgetOf(st WorkloadStatus) BudgetStatus {
	if st.Budget == nil {
		return BudgetStatus{}
	}
	return *st.Budget
}

var podDisruptionBudgetKind = KindInfo{
	APIVersion: APIPolicyV1, Kind: KindPodDisruptionBudget, Token: "poddisruptionbudget", Plural: "poddisruptionbudgets",
	ShortNames: []string{"pdb"},
	spec:       specType[PodDisruptionBudgetSpec](),
	validate: func(errs *FieldErrors, o Object) {
		validatePodDisruptionBudgetSpec(errs, "spec", *o.PodDisruptionBudget())
	},
	defaults: func(o *Object) { spec := o.PodDisruptionBudget().withDefaults(); o.Spec = &spec },
	Columns: []Column{
		{Header: "MIN AVAILABLE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return orNA(o.PodDisruptionBudget().MinAvailable)
		}},
		{Header: "MAX UNAVAILABLE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			return orNA(o.PodDisruptionBudget().MaxUnavailable)
		}},
		{Header: "ALLOWED DISRUPTIONS", Cell: func(_ Object, st WorkloadStatus, _ time.Time) string {
			return count(budgetOf(st).DisruptionsAllowed)
		}},
	},
	Describe: func(o Object, st WorkloadStatus) []Field {
		pdb, b := o.PodDisruptionBudget(), budgetOf(st)
		var fs []Field
		if pdb.MinAvailable != nil {
			fs = append(fs, Field{"Min available", pdb.MinAvailable.String()})
		} else {
			fs = append(fs, Field{"Max unavailable", orNA(pdb.MaxUnavailable)})
		}
		return append(fs,
			Field{"Selector", orNone(FormatSelector(pdb.Selector))},
			Field{"Unhealthy Pod Eviction Policy", pdb.UnhealthyPodEvictionPolicy},
			Field{"Allowed disruptions", count(b.DisruptionsAllowed)},
			Field{"Current", count(b.CurrentHealthy)},
			Field{"Desired", count(b.DesiredHealthy)},
			Field{"Total", count(b.ExpectedPods)},
		)
	},
	K8sStatus: func(_ Object, st WorkloadStatus) any {
		return struct {
			ObservedGeneration int64 `json:"observedGeneration"`
			BudgetStatus
		}{st.ObservedGeneration, budgetOf(st)}
	},
}

// EvictionRefusal is Kubernetes' refusal of an eviction that a budget does
// not allow, naming the budget: "Cannot evict pod as it would violate the
// pod's disruption budget. The disruption budget web-pdb needs 2 healthy
// pods and has 2 currently".
func EvictionRefusal(budget string, st BudgetStatus) string {
	return fmt.Sprintf("Cannot evict pod as it would violate the pod's disruption budget. "+
		"The disruption budget %s needs %d healthy pods and has %d currently", budget, st.DesiredHealthy, st.CurrentHealthy)
}
