package placement

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/gantry-sh/gantry/events/manifest"
)

// CEL type names of the node and its taints.
const (
	nodeTypeName  = "placement.NodeView"
	taintTypeName = "placement.Taint"
)

// quantity is quantity(string) int: a Kubernetes quantity in base units.
func quantity(arg ref.Val) ref.Val {
	s, ok := arg.(types.String)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	v, err := quantityValue(string(s))
	if err != nil {
		return types.NewErr("%v", err)
	}
	return types.Int(v)
}

func quantityValue(s string) (int64, error) {
	q, err := manifest.ParseQuantity(s)
	if err != nil {
		return 0, err // names the quantity
	}
	if q.MilliValue()%1000 != 0 {
		return 0, fmt.Errorf("quantity(%q) is not a whole number of units (cpu is in millicores: write %d, not quantity(%q))",
			s, q.MilliValue(), s)
	}
	return q.MilliValue() / 1000, nil
}

// ruleChecks refuses at compile time what would fail on every node:
// quantity('…') on a bad literal, and objects built in the rule.
type ruleChecks struct{}

func (ruleChecks) Name() string { return "gantry.placement.rules" }

func (ruleChecks) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	root := ast.NavigateAST(a)
	for _, e := range ast.MatchDescendants(root, ast.KindMatcher(ast.StructKind)) {
		iss.ReportErrorAtID(e.ID(), "a placement rule cannot create %s values", e.AsStruct().TypeName())
	}
	for _, call := range ast.MatchDescendants(root, ast.FunctionMatcher("quantity")) {
		args := call.AsCall().Args()
		if len(args) != 1 || args[0].Kind() != ast.LiteralKind {
			continue
		}
		s, ok := args[0].AsLiteral().(types.String)
		if !ok {
			continue
		}
		if _, err := quantityValue(string(s)); err != nil {
			iss.ReportErrorAtID(args[0].ID(), "%s", err.Error())
		}
	}
}

// estimator gives CEL's cost estimate the sizes of a node's fields, so a
// rule that walks node.labels costs in proportion to MaxLabels instead of
// an unbounded map.
type estimator struct{}

func (estimator) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	p := n.Path()
	if len(p) < 2 || p[0] != "node" {
		return nil
	}
	var sz cost.SizeEstimate
	switch {
	case slices.Equal(p, []string{"node", "name"}):
		sz = cost.RangedSizeEstimate(0, maxNameLength)
	case slices.Equal(p, []string{"node", "labels"}):
		sz = cost.RangedSizeEstimate(0, MaxLabels)
	case slices.Equal(p, []string{"node", "labels", "@keys"}):
		sz = cost.RangedSizeEstimate(1, maxKeyLength)
	case slices.Equal(p, []string{"node", "labels", "@values"}):
		sz = cost.RangedSizeEstimate(0, maxValueLength)
	case slices.Equal(p, []string{"node", "taints"}):
		sz = cost.RangedSizeEstimate(0, MaxTaints)
	case slices.Equal(p, []string{"node", "taints", "@items", "key"}):
		sz = cost.RangedSizeEstimate(0, maxKeyLength)
	case slices.Equal(p, []string{"node", "taints", "@items", "value"}):
		sz = cost.RangedSizeEstimate(0, maxValueLength)
	case slices.Equal(p, []string{"node", "taints", "@items", "effect"}):
		sz = cost.RangedSizeEstimate(0, uint64(maxEffectLength))
	case len(p) == 2 && (p[1] == "capacity" || p[1] == "allocatable"):
		sz = cost.RangedSizeEstimate(0, MaxResources)
	case len(p) == 3 && (p[1] == "capacity" || p[1] == "allocatable") && p[2] == "@keys":
		sz = cost.RangedSizeEstimate(1, maxKeyLength)
	case len(p) == 3 && p[1] == "labels":
		// node.labels.zone: a label value
		sz = cost.RangedSizeEstimate(0, maxValueLength)
	default:
		return nil
	}
	return &sz
}

func (estimator) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
