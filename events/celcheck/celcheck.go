// Package celcheck is what Gantry's CEL checks share (probecheck's probe
// checks, rolloutcheck's canary analyses): compiling a boolean expression
// within a length and an estimated cost, CEL's errors on one line, and a
// cache of compiled checks.
package celcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
)

// Limits bound a kind of check; What names it in errors ("probe check").
type Limits struct {
	What      string
	MaxLength int
	MaxCost   uint64
	// Hint follows the refusal of a check that returns no bool, given the
	// type it returns ("" for none).
	Hint func(t *cel.Type) string
}

// Compile parses and type-checks expr in e, checks that it returns a bool
// and that its estimated cost (with est's sizes) is at most l.MaxCost, and
// prepares a program that stops beyond l.MaxCost. It returns the program,
// the checked expression and its estimated cost. Errors carry CEL's
// messages with line and column ("1:10: undefined field 'stauts'").
func Compile(e *cel.Env, l Limits, expr string, est cost.Estimator) (cel.Program, *cel.Ast, uint64, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil, 0, fmt.Errorf("%s is empty", l.What)
	}
	if len(expr) > l.MaxLength {
		return nil, nil, 0, fmt.Errorf("%s is %d bytes, more than %d", l.What, len(expr), l.MaxLength)
	}
	checked, iss := e.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, nil, 0, IssuesError(iss)
	}
	if t := checked.OutputType(); !t.IsExactType(types.BoolType) {
		hint := ""
		if l.Hint != nil {
			hint = l.Hint(t)
		}
		return nil, nil, 0, fmt.Errorf("%s must return a bool, not %s%s", l.What, cel.FormatCELType(t), hint)
	}
	c, err := e.EstimateCost(checked, est)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: estimating its cost: %w", l.What, err)
	}
	if c.Max > l.MaxCost {
		if c.Max == math.MaxUint64 {
			return nil, nil, 0, fmt.Errorf("%s too expensive: estimated cost is unbounded (exceeds %d)", l.What, l.MaxCost)
		}
		return nil, nil, 0, fmt.Errorf("%s too expensive: estimated cost %d exceeds %d", l.What, c.Max, l.MaxCost)
	}
	prg, err := e.Program(checked, cel.CostLimit(l.MaxCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s: %w", l.What, err)
	}
	return prg, checked, c.Max, nil
}

// maxIssues bounds the errors reported for one check.
const maxIssues = 5

// IssuesError formats CEL's errors one per clause, "line:column: message",
// without CEL's multi-line source snippet.
func IssuesError(iss *cel.Issues) error {
	var b bytes.Buffer
	for i, e := range iss.Errors() {
		if i == maxIssues {
			fmt.Fprintf(&b, "; and %d more", len(iss.Errors())-maxIssues)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		if e.Location != nil && e.Location.Line() > 0 {
			fmt.Fprintf(&b, "%d:%d: ", e.Location.Line(), e.Location.Column()+1)
		}
		b.WriteString(e.Message)
	}
	return errors.New(b.String())
}

// Numbers turns the json.Numbers of a value decoded with UseNumber into
// int64 (integers that fit) or float64, the numbers CEL compares, in place.
func Numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = Numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = Numbers(e)
		}
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n
		}
		f, _ := strconv.ParseFloat(string(x), 64) // ±Inf when out of range
		return f
	}
	return v
}
