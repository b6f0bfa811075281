package manifest

import (
	"fmt"
	"math"
	"slices"
)

// A Job runs pods from its template until spec.completions of them
// succeed, spec.parallelism at a time, with Kubernetes' rules.
//
// parallelism above completions is accepted, as Kubernetes does: the Job
// runs min(parallelism, remaining completions) pods at once, so
// completions 2, parallelism 5 runs 2 pods, then none.

// Kubernetes' limits on a Job.
const (
	// MaxIndexedJobCompletions bounds completions (and parallelism) of an
	// Indexed Job: each index is tracked on its own.
	MaxIndexedJobCompletions = 100_000
	// maxPodFailurePolicyRules bounds podFailurePolicy.rules.
	maxPodFailurePolicyRules = 20
	// maxExitCodeValues bounds onExitCodes.values.
	maxExitCodeValues = 255
)

func validateJobSpec(errs *FieldErrors, path string, s JobSpec) {
	nonNegative32(errs, fieldPath(path, "parallelism"), s.Parallelism)
	nonNegative32(errs, fieldPath(path, "completions"), s.Completions)
	if s.ActiveDeadlineSeconds != nil && *s.ActiveDeadlineSeconds <= 0 {
		errs.addf(fieldPath(path, "activeDeadlineSeconds"), "must be > 0, got %d", *s.ActiveDeadlineSeconds)
	}
	nonNegative32(errs, fieldPath(path, "backoffLimit"), s.BackoffLimit)
	nonNegative32(errs, fieldPath(path, "backoffLimitPerIndex"), s.BackoffLimitPerIndex)
	nonNegative32(errs, fieldPath(path, "ttlSecondsAfterFinished"), s.TTLSecondsAfterFinished)
	validateCompletionMode(errs, path, s)

	tpath := fieldPath(path, "template")
	validateTemplateMeta(errs, fieldPath(tpath, "metadata"), s.Template.Metadata)
	ppath := fieldPath(tpath, "spec")
	validatePodSpec(errs, ppath, s.Template.Spec)
	// Checked as written: Defaults leaves a Job template's restartPolicy
	// empty rather than Always, so an empty one is still refused here.
	rpath := fieldPath(ppath, "restartPolicy")
	switch rp := s.Template.Spec.RestartPolicy; {
	case rp == "":
		errs.addf(rpath, "required: supported values: %q, %q", RestartOnFailure, RestartNever)
	case rp == RestartAlways:
		errs.addf(rpath, "Unsupported value: %q: supported values: %q, %q", rp, RestartOnFailure, RestartNever)
	case !validRestartPolicy(rp):
		// already reported by validatePodSpec
	case s.PodFailurePolicy != nil && rp != RestartNever:
		errs.addf(rpath, "unsupported value %q: only %q is supported when podFailurePolicy is specified", rp, RestartNever)
	}
	if s.PodFailurePolicy != nil {
		validatePodFailurePolicy(errs, fieldPath(path, "podFailurePolicy"), s)
	}
}

func nonNegative32(errs *FieldErrors, path string, v *int32) {
	if v != nil && *v < 0 {
		errs.addf(path, "must be >= 0, got %d", *v)
	}
}

// validateCompletionMode checks completionMode and the fields that depend
// on it: an Indexed Job needs completions, and only an Indexed Job may
// count failures per index.
func validateCompletionMode(errs *FieldErrors, path string, s JobSpec) {
	cpath := fieldPath(path, "completions")
	bpath := fieldPath(path, "backoffLimitPerIndex")
	mpath := fieldPath(path, "maxFailedIndexes")
	switch s.CompletionMode {
	case "", CompletionNonIndexed:
		if s.BackoffLimitPerIndex != nil {
			errs.addf(bpath, "requires completionMode %s", CompletionIndexed)
		}
	case CompletionIndexed:
		if s.Completions == nil {
			errs.addf(cpath, "required when completionMode is %s", CompletionIndexed)
		} else if *s.Completions > MaxIndexedJobCompletions {
			errs.addf(cpath, "must be <= %d when completionMode is %s, got %d", MaxIndexedJobCompletions, CompletionIndexed, *s.Completions)
		}
		if s.Parallelism != nil && *s.Parallelism > MaxIndexedJobCompletions {
			errs.addf(fieldPath(path, "parallelism"), "must be <= %d when completionMode is %s, got %d", MaxIndexedJobCompletions, CompletionIndexed, *s.Parallelism)
		}
	default:
		errs.addf(fieldPath(path, "completionMode"), "unsupported value %q: must be one of %s, %s", s.CompletionMode, CompletionNonIndexed, CompletionIndexed)
	}
	if m := s.MaxFailedIndexes; m != nil {
		switch {
		case s.BackoffLimitPerIndex == nil:
			errs.add(mpath, "requires backoffLimitPerIndex")
		case *m < 0:
			errs.addf(mpath, "must be >= 0, got %d", *m)
		case s.Completions != nil && *m > *s.Completions:
			errs.addf(mpath, "must be <= completions (%d), got %d", *s.Completions, *m)
		}
	}
}

// validatePodFailurePolicy checks each rule: a known action, and exit codes
// to match (onPodConditions is not supported yet, so every rule needs
// onExitCodes).
func validatePodFailurePolicy(errs *FieldErrors, path string, s JobSpec) {
	rpath := fieldPath(path, "rules")
	rules := s.PodFailurePolicy.Rules
	if len(rules) > maxPodFailurePolicyRules {
		errs.addf(rpath, "must have at most %d rules, got %d", maxPodFailurePolicyRules, len(rules))
	}
	containers := map[string]bool{}
	for _, c := range s.Template.Spec.Containers {
		containers[c.Name] = true
	}
	for i, r := range rules {
		p := indexPath(rpath, i)
		apath := fieldPath(p, "action")
		switch r.Action {
		case PodFailureFailJob, PodFailureIgnore, PodFailureCount:
		case PodFailureFailIndex:
			if s.BackoffLimitPerIndex == nil {
				errs.addf(apath, "unsupported value %q: requires backoffLimitPerIndex", r.Action)
			}
		case "":
			errs.add(apath, "required: "+podFailureActions)
		default:
			errs.addf(apath, "unsupported value %q: %s", r.Action, podFailureActions)
		}
		epath := fieldPath(p, "onExitCodes")
		if r.OnExitCodes == nil {
			errs.add(epath, "required: onPodConditions is not supported yet, so a rule matches by exit codes")
			continue
		}
		validateOnExitCodes(errs, epath, *r.OnExitCodes, containers)
	}
}

var podFailureActions = fmt.Sprintf("must be one of %s, %s, %s, %s",
	PodFailureFailJob, PodFailureFailIndex, PodFailureIgnore, PodFailureCount)

func validateOnExitCodes(errs *FieldErrors, path string, e PodFailurePolicyOnExitCodesRequirement, containers map[string]bool) {
	opath := fieldPath(path, "operator")
	switch e.Operator {
	case ExitCodesIn, ExitCodesNotIn:
	case "":
		errs.addf(opath, "required: must be one of %s, %s", ExitCodesIn, ExitCodesNotIn)
	default:
		errs.addf(opath, "unsupported value %q: must be one of %s, %s", e.Operator, ExitCodesIn, ExitCodesNotIn)
	}
	if n := e.ContainerName; n != nil && !containers[*n] {
		errs.addf(fieldPath(path, "containerName"), "invalid value %q: must be the name of a container in the pod template", *n)
	}
	vpath := fieldPath(path, "values")
	switch {
	case len(e.Values) == 0:
		errs.add(vpath, "required: at least one exit code")
		return
	case len(e.Values) > maxExitCodeValues:
		errs.addf(vpath, "must have at most %d values, got %d", maxExitCodeValues, len(e.Values))
		return
	}
	seen := map[int32]bool{}
	for j, v := range e.Values {
		if e.Operator == ExitCodesIn && v == 0 {
			errs.addf(indexPath(vpath, j), "must not be 0 for the %s operator (exit code 0 is success)", ExitCodesIn)
		}
		if seen[v] {
			errs.addf(indexPath(vpath, j), "duplicate value %d", v)
		}
		seen[v] = true
	}
	if !slices.IsSorted(e.Values) {
		errs.add(vpath, "must be ordered")
	}
}

// withDefaults fills what Kubernetes would: parallelism 1; completions 1
// when parallelism was unset too (completions unset with parallelism set is
// a work queue, and stays unset); backoffLimit 6, or MaxInt32 when
// backoffLimitPerIndex counts failures instead; completionMode NonIndexed;
// suspend false; and the template's pod defaults except restartPolicy,
// which a Job's template must name and which is kept as written. Slices and
// pointers are copied before they change.
func (s JobSpec) withDefaults() JobSpec {
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr(int32(1))
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr(int32(1))
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr(int32(math.MaxInt32))
		} else {
			s.BackoffLimit = ptr(int32(DefaultBackoffLimit))
		}
	}
	if s.CompletionMode == "" {
		s.CompletionMode = CompletionNonIndexed
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	rp := s.Template.Spec.RestartPolicy
	s.Template.Spec = s.Template.Spec.withDefaults()
	s.Template.Spec.RestartPolicy = rp
	return s
}

func ptr[T any](v T) *T { return &v }
