// Package rolloutcheck compiles and evaluates a canary analysis
// (manifest.CanaryAnalysis.CEL): a boolean expression over the health of a
// Deployment's new pods that must hold for its canary rollout to go on.
// Admission compiles every analysis so that a bad one is refused with its
// field path; the rollout service evaluates it at the analysis step, with
// Facts it reads from the fold, and rolls back when it does not hold.
//
// An analysis sees one variable, pods, with these fields, all of the new
// revision's pods:
//
//	pods.replicas               int     pods neither ended nor being deleted
//	pods.desired                int     the replicas the step asks for
//	pods.ready                  int     pods Ready
//	pods.available              int     pods Ready for minReadySeconds
//	pods.ready_ratio            double  ready / desired (0 when desired is 0)
//	pods.restarts               int     the containers' restarts, summed
//	pods.not_ready_transitions  int     the times a pod went from Ready to not Ready
//	pods.failed                 int     pods ended Failed
//
// Ints and doubles are ordered against each other (pods.ready_ratio >= 1),
// but == wants the same type on both sides (pods.ready_ratio == 1.0):
//
//	pods.ready_ratio == 1.0 && pods.restarts == 0
//	pods.ready_ratio >= 0.9 && pods.not_ready_transitions < 3 && pods.failed == 0
//
// Every analysis's cost is bounded: Compile refuses one whose estimated
// cost exceeds MaxCost (a comprehension over a long list), and Eval stops
// one that goes beyond it.
package rolloutcheck

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/gantry-sh/gantry/events/celcheck"
	"github.com/gantry-sh/gantry/events/manifest"
)

// MaxCost bounds an analysis's cost, in CEL's cost units (roughly one per
// operation): statically at Compile, and at run time in Eval. The facts are
// a handful of numbers, so an honest analysis costs tens.
const MaxCost = 10000

// MaxLength bounds an analysis's text, in bytes, as validation does.
const MaxLength = manifest.MaxAnalysisLength

// Facts are the health of a Deployment's new pods that an analysis reads,
// filled by the rollout service from the fold.
type Facts struct {
	// Replicas: the new revision's pods neither ended nor being deleted.
	Replicas int
	// Desired: the replicas the current step asks of the new revision.
	Desired int
	// Ready and Available: of those pods, the Ready ones, and the ones Ready
	// for at least minReadySeconds.
	Ready, Available int
	// Restarts: the restartCounts of the pods' containers, summed.
	Restarts int
	// NotReadyTransitions: the times one of the pods went from Ready to not
	// Ready (projections.Pod.NotReadyTransitions, summed).
	NotReadyTransitions int
	// Failed: the pods that ended Failed.
	Failed int
}

// ReadyRatio is Ready / Desired, 0 when Desired is 0.
func (f Facts) ReadyRatio() float64 {
	if f.Desired <= 0 {
		return 0
	}
	return float64(f.Ready) / float64(f.Desired)
}

// view is the facts as CEL reads them (the type pods is declared as).
type view struct {
	Replicas            int     `cel:"replicas"`
	Desired             int     `cel:"desired"`
	Ready               int     `cel:"ready"`
	Available           int     `cel:"available"`
	ReadyRatio          float64 `cel:"ready_ratio"`
	Restarts            int     `cel:"restarts"`
	NotReadyTransitions int     `cel:"not_ready_transitions"`
	Failed              int     `cel:"failed"`
}

// viewTypeName is view's CEL type name, as ext.NativeTypes names it.
const viewTypeName = "rolloutcheck.view"

// Check is a compiled analysis, safe for concurrent use.
type Check struct {
	expr string
	prg  cel.Program
	cost uint64
}

// String is the analysis's text.
func (c *Check) String() string { return c.expr }

// Cost is the analysis's estimated worst-case cost (at most MaxCost).
func (c *Check) Cost() uint64 { return c.cost }

// Eval reports whether the facts pass the analysis. An error (a division
// by zero, a cost beyond MaxCost) comes with false.
func (c *Check) Eval(f Facts) (bool, error) {
	v := view{Replicas: f.Replicas, Desired: f.Desired, Ready: f.Ready, Available: f.Available,
		ReadyRatio: f.ReadyRatio(), Restarts: f.Restarts, NotReadyTransitions: f.NotReadyTransitions, Failed: f.Failed}
	out, _, err := c.prg.Eval(map[string]any{"pods": v})
	if err != nil {
		if strings.Contains(err.Error(), "cost limit exceeded") {
			return false, fmt.Errorf("canary analysis: %v (more than %d)", err, MaxCost)
		}
		return false, fmt.Errorf("canary analysis: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("canary analysis returned %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// limits are an analysis's bounds and name in errors.
var limits = celcheck.Limits{What: "canary analysis", MaxLength: MaxLength, MaxCost: MaxCost,
	Hint: func(*cel.Type) string { return " (compare a fact: pods.ready_ratio == 1.0)" }}

// Compile parses and type-checks an analysis, checks that it returns a bool
// and that its estimated cost is at most MaxCost, and prepares it for Eval.
// Errors carry CEL's messages with line and column ("1:5: undefined field
// 'redy'").
func Compile(expr string) (*Check, error) {
	e, err := environment()
	if err != nil {
		return nil, err
	}
	prg, _, est, err := celcheck.Compile(e, limits, expr, estimator{})
	if err != nil {
		return nil, err
	}
	return &Check{expr: expr, prg: prg, cost: est}, nil
}

// estimator adds nothing to CEL's estimate: the facts have no collections,
// so only the expression's own literals have sizes, which CEL knows.
type estimator struct{}

func (estimator) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (estimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}

var environment = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[view](), ext.ParseStructTags(true)),
		cel.Variable("pods", cel.ObjectType(viewTypeName)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxLength),
	)
})
