package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A Deployment rolls a new pod template out by one of three strategies:
//
//   - RollingUpdate (Kubernetes' default): new pods come up before old ones
//     go, with at most maxSurge pods above spec.replicas and at most
//     maxUnavailable of them unavailable (25 % / 25 % by default; surge
//     rounds up, unavailable down, as in Kubernetes).
//   - Recreate: every old pod goes before a new one comes.
//   - Canary (Gantry's, after Argo Rollouts' steps and Nomad's canaries):
//     strategy.canary.steps, each setWeight (a share of the replicas on the
//     new template), pause (a duration, or until `gantry rollout promote`)
//     or analysis (a CEL expression over the new pods' health that must
//     hold); after the last step the rest rolls as RollingUpdate does.
//
// A rollout that fails (its progress deadline passes, a new pod restarts
// failureRestarts times, or one stays unready unreadySeconds) is rolled
// back by the rollout service to the last revision that was fully
// available, unless the Deployment's annotation AutoRollbackAnnotation is
// "false".

// Deployment strategy types.
const (
	RollingUpdateStrategy = "RollingUpdate"
	RecreateStrategy      = "Recreate"
	CanaryStrategy        = "Canary"
)

// Annotations of a Deployment that tune its automatic rollback (Kubernetes
// has no such fields; annotations keep manifests valid for Kubernetes).
const (
	// AutoRollbackAnnotation "false" turns automatic rollback off: a failed
	// rollout halts, with its Progressing condition False, as Kubernetes'.
	AutoRollbackAnnotation = "rollout.gantry.sh/auto-rollback"
	// FailureRestartsAnnotation: a new pod whose containers restarted this
	// many times fails the rollout (default DefaultFailureRestarts).
	FailureRestartsAnnotation = "rollout.gantry.sh/failure-restarts"
	// UnreadySecondsAnnotation: a new pod running this long without being
	// ready fails the rollout (default DefaultUnreadySeconds).
	UnreadySecondsAnnotation = "rollout.gantry.sh/unready-seconds"
	// PromoteAnnotation is what `gantry rollout promote` sets: the canary
	// step whose pause is over, as <pod-template-hash>/<step index>
	// (PromoteValue), so that a promotion of one template's rollout never
	// counts for the next one's step of the same index.
	PromoteAnnotation = "rollout.gantry.sh/promote"
)

// Defaults of a rollout.
const (
	DefaultProgressDeadlineSeconds = 600
	DefaultFailureRestarts         = 2
	DefaultUnreadySeconds          = 300
	// MaxCanarySteps bounds strategy.canary.steps.
	MaxCanarySteps = 32
	// MaxAnalysisLength bounds a canary analysis' CEL text, in bytes.
	MaxAnalysisLength = 4096
)

// DeploymentStrategy is apps/v1 DeploymentStrategy, with Gantry's Canary.
type DeploymentStrategy struct {
	Type          string                   `json:"type,omitempty"`
	RollingUpdate *RollingUpdateDeployment `json:"rollingUpdate,omitempty"`
	Canary        *CanarySpec              `json:"canary,omitempty"`
}

// RollingUpdateDeployment bounds a rolling update: counts or percentages
// of spec.replicas.
type RollingUpdateDeployment struct {
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// CanarySpec is a canary rollout's steps, run in order, and the bounds each
// step's scaling keeps (as a rolling update's; 25 % / 25 % by default).
type CanarySpec struct {
	Steps          []CanaryStep `json:"steps"`
	MaxUnavailable *IntOrString `json:"maxUnavailable,omitempty"`
	MaxSurge       *IntOrString `json:"maxSurge,omitempty"`
}

// CanaryStep is one step: exactly one of its fields.
type CanaryStep struct {
	// SetWeight is the percentage of spec.replicas on the new template
	// (rounded up), until Services can weight traffic.
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause waits its duration, or, without one, for `gantry rollout
	// promote`.
	Pause *CanaryPause `json:"pause,omitempty"`
	// Analysis must hold over the new pods' health, or the rollout fails.
	Analysis *CanaryAnalysis `json:"analysis,omitempty"`
}

// CanaryPause is a step's wait: a Go duration ("60s", "5m"), or none.
type CanaryPause struct {
	Duration string `json:"duration,omitempty"`
}

// CanaryAnalysis is a CEL expression over the new pods' health facts
// (events/rolloutcheck), compiled and cost-checked at admission.
type CanaryAnalysis struct {
	CEL string `json:"cel"`
}

// StrategyType is spec.strategy.type, RollingUpdate when unset.
func (d DeploymentSpec) StrategyType() string {
	if d.Strategy == nil || d.Strategy.Type == "" {
		return RollingUpdateStrategy
	}
	return d.Strategy.Type
}

// ProgressDeadline is spec.progressDeadlineSeconds, 600 s when unset.
func (d DeploymentSpec) ProgressDeadline() time.Duration {
	if d.ProgressDeadlineSeconds == nil {
		return DefaultProgressDeadlineSeconds * time.Second
	}
	return time.Duration(*d.ProgressDeadlineSeconds) * time.Second
}

// Bounds are a rollout's maxSurge and maxUnavailable, as written (nil:
// 25 %).
func (d DeploymentSpec) Bounds() (surge, unavailable *IntOrString) {
	if d.Strategy == nil {
		return nil, nil
	}
	switch {
	case d.Strategy.RollingUpdate != nil:
		return d.Strategy.RollingUpdate.MaxSurge, d.Strategy.RollingUpdate.MaxUnavailable
	case d.Strategy.Canary != nil:
		return d.Strategy.Canary.MaxSurge, d.Strategy.Canary.MaxUnavailable
	}
	return nil, nil
}

// defaultBound is Kubernetes' default maxSurge and maxUnavailable.
var defaultBound = FromString("25%")

// ResolveBounds turns maxSurge and maxUnavailable (nil: 25 %) into counts
// for replicas, as Kubernetes' ResolveFenceposts does: surge rounds up,
// unavailable down, and when both come to 0 unavailable is 1 (validation
// refuses both 0 as written; 0 and a percentage may still round to 0).
//
// Worked numbers: 10 replicas at 25 %/25 % → surge ⌈2.5⌉ = 3, unavailable
// ⌊2.5⌋ = 2; 1 replica at 25 %/25 % → 1 and 0; 3 replicas at 0/10 % → 0
// and ⌊0.3⌋ = 0, so unavailable 1.
func ResolveBounds(surge, unavailable *IntOrString, replicas int32) (maxSurge, maxUnavailable int32) {
	if surge == nil {
		surge = &defaultBound
	}
	if unavailable == nil {
		unavailable = &defaultBound
	}
	maxSurge = scaledBound(*surge, replicas, true)
	maxUnavailable = scaledBound(*unavailable, replicas, false)
	if maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable
}

// scaledBound is a count, or a percentage of total rounded up or down: a
// rollout's bounds, a DaemonSet's, a PodDisruptionBudget's.
func scaledBound(v IntOrString, total int32, up bool) int32 {
	if !v.IsString {
		return max(0, v.Int)
	}
	pct, _ := percent(v.Str)
	n := int64(min(pct, math.MaxInt32)) * int64(max(total, 0))
	if up {
		n += 99
	}
	return int32(min(n/100, math.MaxInt32))
}

// validateBounds checks a maxSurge and maxUnavailable pair (Kubernetes'
// rules, and a surge at most 100 % too: more would bring up more than
// twice the replicas at once): each a count >= 0 or a percentage of at
// most 100 %, not both 0.
func validateBounds(errs *FieldErrors, path string, surge, unavailable *IntOrString) {
	if surge != nil {
		validateIntOrPercent(errs, fieldPath(path, "maxSurge"), *surge)
	}
	if unavailable != nil {
		validateIntOrPercent(errs, fieldPath(path, "maxUnavailable"), *unavailable)
	}
	if isZeroBound(surge) && isZeroBound(unavailable) {
		errs.addf(fieldPath(path, "maxUnavailable"), "may not be 0 when %s is 0: the rollout could never replace a pod", fieldPath(path, "maxSurge"))
	}
}

// isZeroBound reports a bound written as 0 or "0%" (unset is 25 %).
func isZeroBound(v *IntOrString) bool {
	if v == nil {
		return false
	}
	if !v.IsString {
		return v.Int == 0
	}
	pct, ok := percent(v.Str)
	return ok && pct == 0
}

// validateDeploymentRollout checks strategy, minReadySeconds,
// progressDeadlineSeconds and the rollout annotations.
func validateDeploymentRollout(errs *FieldErrors, path string, d DeploymentSpec, ann map[string]string) {
	nonNegative32(errs, fieldPath(path, "minReadySeconds"), &d.MinReadySeconds)
	if p := d.ProgressDeadlineSeconds; p != nil {
		ppath := fieldPath(path, "progressDeadlineSeconds")
		switch {
		case *p <= 0:
			errs.addf(ppath, "must be > 0, got %d", *p)
		case *p <= d.MinReadySeconds:
			errs.addf(ppath, "must be greater than minReadySeconds (%d), got %d", d.MinReadySeconds, *p)
		}
	}
	if s := d.Strategy; s != nil {
		spath := fieldPath(path, "strategy")
		switch s.Type {
		case "", RollingUpdateStrategy:
			if s.Canary != nil {
				errs.addf(fieldPath(spath, "canary"), "may not be specified when strategy type is %s", RollingUpdateStrategy)
			}
			if s.RollingUpdate != nil {
				validateBounds(errs, fieldPath(spath, "rollingUpdate"), s.RollingUpdate.MaxSurge, s.RollingUpdate.MaxUnavailable)
			}
		case RecreateStrategy:
			if s.RollingUpdate != nil {
				errs.addf(fieldPath(spath, "rollingUpdate"), "may not be specified when strategy type is %s", RecreateStrategy)
			}
			if s.Canary != nil {
				errs.addf(fieldPath(spath, "canary"), "may not be specified when strategy type is %s", RecreateStrategy)
			}
		case CanaryStrategy:
			if s.RollingUpdate != nil {
				errs.addf(fieldPath(spath, "rollingUpdate"), "may not be specified when strategy type is %s (bounds go in canary)", CanaryStrategy)
			}
			validateCanary(errs, fieldPath(spath, "canary"), s.Canary)
		default:
			errs.addf(fieldPath(spath, "type"), "unsupported value %q: must be %s, %s or %s", s.Type, RollingUpdateStrategy, RecreateStrategy, CanaryStrategy)
		}
	}
	apath := "metadata.annotations"
	if v, ok := ann[AutoRollbackAnnotation]; ok && v != "true" && v != "false" {
		errs.addf(fieldPath(apath, AutoRollbackAnnotation), "invalid value %q: must be \"true\" or \"false\"", v)
	}
	for _, k := range []string{FailureRestartsAnnotation, UnreadySecondsAnnotation} {
		if v, ok := ann[k]; ok {
			if n, err := strconv.ParseInt(v, 10, 32); err != nil || n <= 0 {
				errs.addf(fieldPath(apath, k), "invalid value %q: must be a whole number > 0", v)
			}
		}
	}
	if v, ok := ann[PromoteAnnotation]; ok {
		if _, _, ok := ParsePromote(v); !ok {
			errs.addf(fieldPath(apath, PromoteAnnotation), "invalid value %q: must be <pod-template-hash>/<step index>, as `gantry rollout promote` writes it", v)
		}
	}
}

// validateCanary checks the steps; their analyses' CEL is compiled by
// admission (events/rolloutcheck), which manifest does not import.
func validateCanary(errs *FieldErrors, path string, c *CanarySpec) {
	if c == nil {
		errs.addf(path, "required when type is %s", CanaryStrategy)
		return
	}
	validateBounds(errs, path, c.MaxSurge, c.MaxUnavailable)
	spath := fieldPath(path, "steps")
	switch {
	case len(c.Steps) == 0:
		errs.add(spath, "required: at least one step")
	case len(c.Steps) > MaxCanarySteps:
		errs.addf(spath, "must have at most %d steps, got %d", MaxCanarySteps, len(c.Steps))
		return
	}
	for i, st := range c.Steps {
		p := indexPath(spath, i)
		n := 0
		if st.SetWeight != nil {
			n++
			if w := *st.SetWeight; w < 0 || w > 100 {
				errs.addf(fieldPath(p, "setWeight"), "must be between 0 and 100, got %d", w)
			}
		}
		if st.Pause != nil {
			n++
			if d := st.Pause.Duration; d != "" {
				if v, err := time.ParseDuration(d); err != nil || v <= 0 {
					errs.addf(fieldPath(fieldPath(p, "pause"), "duration"), "invalid value %q: must be a positive duration such as \"60s\" or \"5m\"", d)
				}
			}
		}
		if st.Analysis != nil {
			n++
			apath := fieldPath(fieldPath(p, "analysis"), "cel")
			switch cel := st.Analysis.CEL; {
			case strings.TrimSpace(cel) == "":
				errs.add(apath, "required: a CEL expression that must hold, e.g. \"pods.ready_ratio == 1.0 && pods.restarts == 0\"")
			case len(cel) > MaxAnalysisLength:
				errs.addf(apath, "must be at most %d bytes, got %d", MaxAnalysisLength, len(cel))
			}
		}
		if n != 1 {
			errs.add(p, "must set exactly one of setWeight, pause and analysis")
		}
	}
}

// PauseDuration is a pause step's duration (0: until promoted).
func (p CanaryPause) PauseDuration() time.Duration {
	d, _ := time.ParseDuration(p.Duration) // validated at admission
	return d
}

// AnalysisCheck is a canary analysis' CEL text and the field path it was
// written at, for admission to compile.
type AnalysisCheck struct {
	Path, Expr string
}

// AnalysisChecks lists a Deployment's canary analyses.
func (o Object) AnalysisChecks() []AnalysisCheck {
	d := o.Deployment()
	if d == nil || d.Strategy == nil || d.Strategy.Canary == nil {
		return nil
	}
	var out []AnalysisCheck
	for i, st := range d.Strategy.Canary.Steps {
		if st.Analysis != nil {
			out = append(out, AnalysisCheck{Path: fmt.Sprintf("spec.strategy.canary.steps[%d].analysis.cel", i), Expr: st.Analysis.CEL})
		}
	}
	return out
}

// RolloutStatus is what the rollout service decided of a Deployment's
// rollout, beyond Kubernetes' conditions: the revision last fully
// available, a failed rollout and where it went back to, a canary's step.
type RolloutStatus struct {
	// StableRevision and StableHash: the revision (and its template hash)
	// that last had every replica available: where a failed rollout goes
	// back to.
	StableRevision int64  `json:"stableRevision,omitempty"`
	StableHash     string `json:"stableHash,omitempty"`
	// FailedGeneration is the Deployment generation whose rollout failed
	// (FailedRevision, FailedHash); while the Deployment is at that
	// generation, it runs RolledBackTo (0: halted where it was). Applying
	// the template again makes a new generation, and a new attempt.
	FailedGeneration int64  `json:"failedGeneration,omitempty"`
	FailedRevision   int64  `json:"failedRevision,omitempty"`
	FailedHash       string `json:"failedHash,omitempty"`
	RolledBackTo     int64  `json:"rolledBackTo,omitempty"`
	RolledBackHash   string `json:"rolledBackHash,omitempty"`
	// Reason (ProgressDeadlineExceeded, CrashLooping, Unready,
	// AnalysisFailed) and Message of the failure.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// CanaryHash, CanaryStep and StepStartedAt: a canary rollout's current
	// step (its index; len(steps): all done) for the template CanaryHash,
	// begun at StepStartedAt.
	CanaryHash    string     `json:"canaryHash,omitempty"`
	CanaryStep    int32      `json:"canaryStep,omitempty"`
	StepStartedAt *time.Time `json:"stepStartedAt,omitempty"`
}

// Failed reports a rollout of the Deployment's generation gen that failed.
func (r *RolloutStatus) Failed(gen int64) bool {
	return r != nil && r.FailedGeneration == gen && gen > 0
}

// Conditions of a Deployment, as Kubernetes names them.
const (
	DeploymentProgressing = "Progressing"
	DeploymentAvailable   = "Available"
)

// Reasons of a Deployment's Progressing condition: Kubernetes', and
// RolloutFailed/RolledBack for Gantry's automatic rollback.
const (
	ReasonNewReplicaSetCreated     = "NewReplicaSetCreated"
	ReasonReplicaSetUpdated        = "ReplicaSetUpdated"
	ReasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonDeploymentPaused         = "DeploymentPaused"
	ReasonDeploymentResumed        = "DeploymentResumed"
	ReasonRolloutFailed            = "RolloutFailed"
	ReasonRolledBack               = "RolledBack"
	ReasonMinimumReplicasAvailable = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavail   = "MinimumReplicasUnavailable"
)

// withDefaults fills the strategy as Kubernetes does: RollingUpdate, and
// maxSurge and maxUnavailable 25 % for a rolling update. The strategy is
// copied before it changes.
func (s *DeploymentStrategy) withDefaults() *DeploymentStrategy {
	out := DeploymentStrategy{}
	if s != nil {
		out = *s
	}
	if out.Type == "" {
		out.Type = RollingUpdateStrategy
	}
	if out.Type == RollingUpdateStrategy {
		ru := RollingUpdateDeployment{}
		if out.RollingUpdate != nil {
			ru = *out.RollingUpdate
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = ptr(defaultBound)
		}
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = ptr(defaultBound)
		}
		out.RollingUpdate = &ru
	}
	return &out
}

// PromoteValue is PromoteAnnotation's value for a template's step.
func PromoteValue(hash string, step int32) string { return hash + "/" + strconv.Itoa(int(step)) }

// ParsePromote reads PromoteAnnotation's value.
func ParsePromote(v string) (hash string, step int32, ok bool) {
	hash, n, found := strings.Cut(v, "/")
	i, err := strconv.ParseInt(n, 10, 32)
	if !found || hash == "" || err != nil || i < 0 || strings.TrimLeft(hash, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return "", 0, false
	}
	return hash, int32(i), true
}
