// Package placement compiles and evaluates placement rules: CEL expressions
// over a node, written in a pod's gantry.dev/placement annotation
// (manifest.AnnotationPlacement), that say on which nodes the pod may run.
//
// A rule sees one variable, node, with these fields:
//
//	node.name         string
//	node.labels       map(string, string)
//	node.taints       list(placement.Taint), each with key, value, effect (strings)
//	node.capacity     map(string, int)
//	node.allocatable  map(string, int)
//
// Capacity and allocatable are in base units: cpu in millicores, memory in
// bytes, pods and extended resources (example.com/gpu) as counts. The
// function quantity(string) int turns a Kubernetes quantity into base units,
// so memory reads naturally:
//
//	node.allocatable.memory >= quantity('8Gi')
//
// cpu is in millicores, so compare it with a number of millicores,
// node.allocatable.cpu >= 2000 for two cores: quantity('2') is 2, not 2000,
// and quantity('500m') is refused because half a unit is not an int.
//
// A rule must return a bool. Reading a map key that is not there is an
// error in CEL, not false, so test for the key first:
//
//	'zone' in node.labels && node.labels['zone'] in ['a', 'b']
//
// (has(node.labels.zone) works too, for keys that are CEL identifiers.)
// An error at evaluation makes Eval return false with the error; the
// scheduler reads that as "this node does not match" and gives the error as
// the reason.
//
// Every rule's cost is bounded: Compile refuses a rule whose estimated cost,
// on a node within the sizes below (MaxLabels labels and so on), exceeds
// MaxCost, and Eval stops a rule that goes beyond MaxCost on a larger node.
package placement

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// MaxCost bounds a rule's cost, in CEL's cost units (roughly one per
// operation, more for string and collection work): statically at Compile,
// and at run time in Eval.
const MaxCost = 10000

// MaxRuleLength bounds a rule's text, in bytes.
const MaxRuleLength = 4096

// Sizes Compile assumes of a node when it estimates a rule's cost. A node
// beyond them still works; a rule that then costs more than MaxCost stops
// with an error.
const (
	MaxLabels    = 128 // entries in node.labels
	MaxTaints    = 32  // entries in node.taints
	MaxResources = 32  // entries in node.capacity and node.allocatable
)

// String lengths assumed by the cost estimate: a qualified name (prefix up
// to 253, '/', name up to 63), a label value, a node name, a taint effect.
const (
	maxKeyLength    = 253 + 1 + 63
	maxValueLength  = 63
	maxNameLength   = 253
	maxEffectLength = len(manifest.TaintPreferNoSchedule)
)

// NodeView is what a placement rule sees of a node. Build it with View,
// which turns it into CEL values once, so that evaluating many rules
// against one node is cheap. A NodeView built by hand works too, but is
// converted again on every Eval. Treat a NodeView from View as read-only:
// Eval reads the values prepared by View, not later changes to the fields.
type NodeView struct {
	Name        string
	Labels      map[string]string
	Taints      []Taint
	Capacity    map[string]int64
	Allocatable map[string]int64

	vars *activation // prepared by View
}

// Taint is a node taint as a rule sees it: node.taints[0].effect.
type Taint struct {
	Key    string
	Value  string
	Effect string
}

// View builds a rule's view of a node from what the node reports. Nil maps
// become empty ones, so 'x' in node.labels is false rather than an error.
func View(info events.NodeInfo) NodeView {
	v := NodeView{
		Name:        info.Name,
		Labels:      copyMap(info.Labels),
		Capacity:    copyMap(info.Capacity),
		Allocatable: copyMap(info.Allocatable),
		Taints:      make([]Taint, len(info.Taints)),
	}
	for i, t := range info.Taints {
		v.Taints[i] = Taint{Key: t.Key, Value: t.Value, Effect: t.Effect}
	}
	v.vars = prepare(v)
	return v
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// activation binds the variable node to a node's CEL value, adapted once.
type activation struct {
	node ref.Val
}

func (a *activation) ResolveName(name string) (any, bool) {
	if name == "node" {
		return a.node, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func prepare(v NodeView) *activation {
	e, err := environment()
	if err != nil {
		return &activation{node: types.NewErr("%v", err)}
	}
	return &activation{node: nodeValue(e.CELTypeAdapter(), v)}
}

// Rule is a compiled placement rule, safe for concurrent use.
type Rule struct {
	expr string
	prg  cel.Program
	cost uint64
}

// String is the rule's text.
func (r *Rule) String() string { return r.expr }

// Cost is the rule's estimated worst-case cost (at most MaxCost).
func (r *Rule) Cost() uint64 { return r.cost }

// Eval reports whether the node matches the rule. An error (a missing map
// key, a bad quantity, a rule that costs more than MaxCost on this node)
// comes with false.
func (r *Rule) Eval(n NodeView) (bool, error) {
	vars := n.vars
	if vars == nil {
		vars = prepare(n)
	}
	out, _, err := r.prg.Eval(vars)
	if err != nil {
		return false, evalError(err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("placement rule returned %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

func evalError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such key"):
		return fmt.Errorf("placement rule: %s (test for a key before reading it: 'zone' in node.labels && node.labels['zone'] == 'a')", msg)
	case strings.Contains(msg, "cost limit exceeded"):
		return fmt.Errorf("placement rule: %s (more than %d on this node)", msg, MaxCost)
	}
	return fmt.Errorf("placement rule: %w", err)
}

// Compile parses and type-checks a rule, checks that it returns a bool and
// that its estimated cost is at most MaxCost, and prepares it for Eval.
// Errors carry CEL's messages with line and column ("1:6: undefined field
// 'foo'").
func Compile(expr string) (*Rule, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("placement rule is empty")
	}
	if len(expr) > MaxRuleLength {
		return nil, fmt.Errorf("placement rule is %d bytes, more than %d", len(expr), MaxRuleLength)
	}
	e, err := environment()
	if err != nil {
		return nil, err
	}
	checked, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, issuesError(iss)
	}
	if t := checked.OutputType(); !t.IsExactType(types.BoolType) {
		return nil, fmt.Errorf("placement rule must return a bool, not %s", cel.FormatCELType(t))
	}
	est, err := e.EstimateCost(checked, estimator{})
	if err != nil {
		return nil, fmt.Errorf("placement rule: estimating its cost: %w", err)
	}
	if est.Max > MaxCost {
		if est.Max == math.MaxUint64 {
			return nil, fmt.Errorf("placement rule too expensive: estimated cost is unbounded (exceeds %d)", MaxCost)
		}
		return nil, fmt.Errorf("placement rule too expensive: estimated cost %d exceeds %d", est.Max, MaxCost)
	}
	// Fold the constant parts (quantity('8Gi'), list literals) once, here,
	// rather than on every evaluation. Only now: folding evaluates them, and
	// the estimate above bounds what that costs.
	if opt, err := folder(); err == nil {
		if folded, iss := opt.Optimize(e, checked); iss == nil || iss.Err() == nil {
			checked = folded
		}
	}
	prg, err := e.Program(checked, cel.CostLimit(MaxCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("placement rule: %w", err)
	}
	return &Rule{expr: expr, prg: prg, cost: est.Max}, nil
}

// maxIssues bounds the errors reported for one rule.
const maxIssues = 5

// issuesError formats CEL's errors one per clause, "line:column: message",
// without CEL's multi-line source snippet.
func issuesError(iss *cel.Issues) error {
	errs := iss.Errors()
	more := 0
	if len(errs) > maxIssues {
		errs, more = errs[:maxIssues], len(errs)-maxIssues
	}
	parts := make([]string, 0, len(errs)+1)
	for _, e := range errs {
		if e.Location != nil && e.Location.Line() > 0 {
			parts = append(parts, fmt.Sprintf("%d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		} else {
			parts = append(parts, e.Message)
		}
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	return errors.New(strings.Join(parts, "; "))
}

var folder = sync.OnceValues(func() (*cel.StaticOptimizer, error) {
	f, err := cel.NewConstantFoldingOptimizer()
	if err != nil {
		return nil, err
	}
	return cel.NewStaticOptimizer(f)
})

var environment = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Types(nodeType, taintType),
		cel.Variable("node", cel.ObjectType(nodeTypeName)),
		cel.Function("quantity",
			cel.Overload("quantity_string", []*cel.Type{cel.StringType}, cel.IntType,
				cel.UnaryBinding(quantity))),
		cel.ASTValidators(ruleChecks{}),
		cel.ParserExpressionSizeLimit(MaxRuleLength),
	)
})
