// Package admissionpolicy compiles, matches and evaluates CEL admission
// policies in the shape of Kubernetes' ValidatingAdmissionPolicy: which
// intents a policy and its bindings select, and whether its validations
// hold. It is pure: admission gives it the policy, the binding and the
// request, and records what it returns.
//
// An expression sees, as in Kubernetes:
//
//	object           the object as applied, in its JSON shape (null for a DELETE)
//	oldObject        the object as accepted before (null for a CREATE)
//	request          {operation, namespace, name, kind{group,version,kind},
//	                  resource{group,version,resource}, userInfo{username}, dryRun}
//	namespaceObject  the object's Namespace (null for a cluster-scoped object)
//	variables        the policy's variables by name
//
// JSON integers are ints and other numbers doubles; the two compare.
//
// Costs are bounded twice. Compile estimates each expression's cost,
// assuming lists and maps of at most AssumedEntries entries and strings of
// at most AssumedStringBytes, and refuses one above MaxEstimatedCost or a
// policy whose expressions together exceed MaxPolicyCost (nested
// comprehensions over an object's lists are refused here). At evaluation
// each expression stops beyond MaxExpressionCost and an intent's policies
// together beyond MaxIntentCost: an object larger than assumed is still
// bounded, and an expression stopped is an error that follows the policy's
// failurePolicy.
package admissionpolicy

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/gantry-sh/gantry/events/celcheck"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Cost limits, in CEL's cost units (about one per operation, more for
// string and list work): Kubernetes' own limits for CEL in its API server.
const (
	// MaxEstimatedCost bounds one expression's estimated cost
	// (Kubernetes' StaticEstimatedCostLimit).
	MaxEstimatedCost = 10_000_000
	// MaxPolicyCost bounds the estimated cost of a policy's expressions
	// together (Kubernetes' StaticEstimatedCRDCostLimit).
	MaxPolicyCost = 100_000_000
	// MaxExpressionCost bounds one expression's run (Kubernetes'
	// PerCallLimit).
	MaxExpressionCost = 1_000_000
	// MaxIntentCost bounds the run-time cost of every policy judging one
	// intent (Kubernetes' RuntimeCELCostBudget).
	MaxIntentCost = 10_000_000
)

// Sizes the cost estimate assumes of an object's lists, maps and strings.
const (
	AssumedEntries     = 1000
	AssumedStringBytes = 1000
)

// Policy is a compiled ValidatingAdmissionPolicy.
type Policy struct {
	Name          string
	Spec          manifest.ValidatingAdmissionPolicySpec
	variables     []compiled
	conditions    []compiled
	validations   []validation
	EstimatedCost uint64
}

type compiled struct {
	name string
	expr string
	prg  cel.Program
}

type validation struct {
	compiled
	message compiled // its messageExpression, prg nil when none
}

// Compile compiles every expression of a policy, in the environment it
// will be evaluated in, and checks its types and estimated costs. The
// errors name the field ("spec.validations[0].expression: ...").
func Compile(name string, spec manifest.ValidatingAdmissionPolicySpec) (*Policy, manifest.FieldErrors) {
	p := &Policy{Name: name, Spec: spec}
	var errs manifest.FieldErrors
	add := func(path, expr string, want *cel.Type) (compiled, bool) {
		prg, est, err := compileOne(expr, want)
		if err != nil {
			errs = append(errs, manifest.FieldError{Path: path, Message: err.Error()})
			return compiled{}, false
		}
		p.EstimatedCost = saturatingAdd(p.EstimatedCost, est)
		return compiled{expr: expr, prg: prg}, true
	}
	for i, v := range spec.Variables {
		if c, ok := add(fmt.Sprintf("spec.variables[%d].expression", i), v.Expression, nil); ok {
			c.name = v.Name
			p.variables = append(p.variables, c)
		}
	}
	for i, m := range spec.MatchConditions {
		if c, ok := add(fmt.Sprintf("spec.matchConditions[%d].expression", i), m.Expression, cel.BoolType); ok {
			c.name = m.Name
			p.conditions = append(p.conditions, c)
		}
	}
	for i, v := range spec.Validations {
		c, ok := add(fmt.Sprintf("spec.validations[%d].expression", i), v.Expression, cel.BoolType)
		val := validation{compiled: c}
		if strings.TrimSpace(v.MessageExpression) != "" {
			m, mok := add(fmt.Sprintf("spec.validations[%d].messageExpression", i), v.MessageExpression, cel.StringType)
			ok = ok && mok
			val.message = m
		}
		if ok {
			p.validations = append(p.validations, val)
		}
	}
	if len(errs) == 0 && p.EstimatedCost > MaxPolicyCost {
		errs = append(errs, manifest.FieldError{Path: "spec", Message: fmt.Sprintf(
			"too expensive: the estimated cost of the policy's expressions together is %d, more than %d", p.EstimatedCost, MaxPolicyCost)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

func saturatingAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// compileOne compiles one expression that must return want (any type when
// nil), within MaxEstimatedCost estimated, with a program that stops
// beyond MaxExpressionCost.
func compileOne(expr string, want *cel.Type) (cel.Program, uint64, error) {
	e, err := environment()
	if err != nil {
		return nil, 0, err
	}
	if strings.TrimSpace(expr) == "" {
		return nil, 0, fmt.Errorf("Required value: expression is not specified")
	}
	if len(expr) > manifest.MaxPolicyExpressionLength {
		return nil, 0, fmt.Errorf("Too long: may not be more than %d bytes", manifest.MaxPolicyExpressionLength)
	}
	checked, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, 0, fmt.Errorf("compilation failed: %v", celcheck.IssuesError(iss))
	}
	if t := checked.OutputType(); want != nil && !t.IsExactType(want) && !t.IsExactType(types.DynType) {
		return nil, 0, fmt.Errorf("must evaluate to %s, not %s", cel.FormatCELType(want), cel.FormatCELType(t))
	}
	c, err := e.EstimateCost(checked, estimator{})
	if err != nil {
		return nil, 0, fmt.Errorf("estimating its cost: %v", err)
	}
	if c.Max > MaxEstimatedCost {
		if c.Max == math.MaxUint64 {
			return nil, 0, fmt.Errorf("too expensive: the estimated cost is unbounded, more than %d", MaxEstimatedCost)
		}
		return nil, 0, fmt.Errorf("too expensive: the estimated cost %d is more than %d (lists of %d entries assumed)",
			c.Max, MaxEstimatedCost, AssumedEntries)
	}
	prg, err := e.Program(checked, cel.CostLimit(MaxExpressionCost), cel.EvalOptions(cel.OptOptimize, cel.OptTrackCost))
	if err != nil {
		return nil, 0, err
	}
	return prg, c.Max, nil
}

// environment is the one CEL environment of every policy expression.
var environment = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
		cel.Variable("request", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(manifest.MaxPolicyExpressionLength),
		ext.Strings(), ext.Lists(), ext.Sets(),
		cel.OptionalTypes(),
	)
})

// estimator gives the cost estimate the sizes of an object: every list,
// map or string reached from the variables is assumed to have at most
// AssumedEntries entries or AssumedStringBytes bytes.
type estimator struct{}

func (estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) == 0 {
		return nil
	}
	switch p[0] {
	case "object", "oldObject", "namespaceObject", "request", "variables":
	default:
		return nil
	}
	sz := cost.RangedSizeEstimate(0, max(AssumedEntries, AssumedStringBytes))
	return &sz
}

func (estimator) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// SpecOf reads a policy's spec from the canonical JSON of its object (as
// admission stores it).
func SpecOf(canonical json.RawMessage) (manifest.Object, error) {
	var o manifest.Object
	if err := json.Unmarshal(canonical, &o); err != nil {
		return o, err
	}
	if o.ValidatingAdmissionPolicy() == nil && o.ValidatingAdmissionPolicyBinding() == nil {
		return o, fmt.Errorf("%s is not an admission policy or binding", o.Kind)
	}
	return o, nil
}
