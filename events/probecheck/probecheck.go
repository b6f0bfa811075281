// Package probecheck compiles and evaluates the CEL check of an httpGet
// probe (manifest.HTTPGetAction.CEL): a boolean expression over the HTTP
// response that must hold, besides a status from 200 to 399, for the probe
// to pass. Admission compiles every check so that a bad one is refused with
// its field path; the node agent evaluates it on each response.
//
// A check sees one variable, response, with these fields:
//
//	response.status   int                  the HTTP status code
//	response.headers  map(string, string)  lower-case name → first value
//	response.body     string               the body, at most MaxBodyBytes
//	response.json     dyn                  the body parsed as JSON, absent when it does not parse
//
// JSON integers are ints and other numbers doubles; the two compare with
// each other (response.json.load < 0.8 works for either). Reading a key
// that is not there is an error, and an error fails the probe, so test for
// optional keys, and for the JSON itself, with has():
//
//	response.status == 200 && response.json.queue_depth < 1000
//	has(response.json) && has(response.json.ready) && response.json.ready == true
//	response.headers['content-type'].startsWith('application/json')
//
// Every check's cost is bounded: Compile refuses one whose estimated cost,
// on a response within the sizes below, exceeds MaxCost, and Eval stops one
// that goes beyond MaxCost on a larger response (a JSON list longer than
// MaxJSONEntries).
package probecheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/gantry-sh/gantry/events/celcheck"
)

// MaxCost bounds a check's cost, in CEL's cost units (roughly one per
// operation, more for string and collection work): statically at Compile,
// and at run time in Eval. A check within it evaluates in well under a
// millisecond, small beside the HTTP request it judges.
const MaxCost = 100000

// MaxLength bounds a check's text, in bytes.
const MaxLength = 4096

// Sizes of a response: Eval reads at most MaxBodyBytes of the body and
// MaxHeaders headers of at most MaxHeaderBytes each (the rest is dropped).
// Compile assumes JSON lists, objects and strings of at most MaxJSONEntries
// entries or bytes when it estimates a check's cost; a larger one still
// works unless the check then costs more than MaxCost.
const (
	MaxBodyBytes   = 64 << 10
	MaxHeaders     = 64
	MaxHeaderBytes = 4096
	MaxJSONEntries = 1000
)

// Response is what a check sees of an HTTP response. Build it with
// NewResponse from what the HTTP client returned, or by hand in tests.
type Response struct {
	Status int
	// Headers maps a lower-case header name to its first value.
	Headers map[string]string
	Body    string
}

// NewResponse builds a Response from a status, the response's headers and
// (up to) the first MaxBodyBytes of its body, within the sizes above.
func NewResponse(status int, h http.Header, body []byte) Response {
	r := Response{Status: status, Headers: make(map[string]string, min(len(h), MaxHeaders))}
	for name, vals := range h {
		if len(vals) == 0 || len(r.Headers) == MaxHeaders {
			continue
		}
		r.Headers[strings.ToLower(name)] = truncate(vals[0], MaxHeaderBytes)
	}
	r.Body = truncate(string(body), MaxBodyBytes)
	return r
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// view is the response as CEL reads it (the type response is declared as).
type view struct {
	Status  int               `cel:"status"`
	Headers map[string]string `cel:"headers"`
	Body    string            `cel:"body"`
	JSON    any               `cel:"json"`
}

// viewTypeName is view's CEL type name, as ext.NativeTypes names it.
const viewTypeName = "probecheck.view"

// Check is a compiled check, safe for concurrent use.
type Check struct {
	expr     string
	prg      cel.Program
	cost     uint64
	readJSON bool // the check reads response.json: parse the body
}

// String is the check's text.
func (c *Check) String() string { return c.expr }

// Cost is the check's estimated worst-case cost (at most MaxCost).
func (c *Check) Cost() uint64 { return c.cost }

// Eval reports whether the response passes the check. An error (a missing
// key, a check that costs more than MaxCost on this response) comes with
// false: the probe fails, with the error as its message.
func (c *Check) Eval(r Response) (bool, error) {
	v := view{Status: r.Status, Headers: r.Headers, Body: truncate(r.Body, MaxBodyBytes)}
	if v.Headers == nil {
		v.Headers = map[string]string{}
	}
	if c.readJSON {
		v.JSON = parseJSON(v.Body)
	}
	out, _, err := c.prg.Eval(map[string]any{"response": v})
	if err != nil {
		return false, evalError(err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("probe check returned %s, not a bool", out.Type().TypeName())
	}
	return bool(b), nil
}

func evalError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no such key"):
		return fmt.Errorf("probe check: %s (test for a key before reading it: has(response.json.ready) && response.json.ready)", msg)
	case strings.Contains(msg, "cost limit exceeded"):
		return fmt.Errorf("probe check: %s (more than %d on this response)", msg, MaxCost)
	}
	return fmt.Errorf("probe check: %w", err)
}

// parseJSON is the body as JSON values CEL reads (maps, lists, strings,
// bools, int64 for integers, float64 for other numbers), or nil when it is
// not JSON.
func parseJSON(body string) any {
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	if _, err := d.Token(); err == nil {
		return nil // more than one value
	}
	return celcheck.Numbers(v)
}

// limits are a check's bounds and name in errors.
var limits = celcheck.Limits{What: "probe check", MaxLength: MaxLength, MaxCost: MaxCost,
	Hint: func(t *cel.Type) string {
		if t.IsExactType(types.DynType) {
			return " (compare a JSON value: response.json.ready == true)"
		}
		return ""
	}}

// Compile parses and type-checks a check, checks that it returns a bool and
// that its estimated cost is at most MaxCost, and prepares it for Eval.
// Errors carry CEL's messages with line and column ("1:10: undefined field
// 'stauts'").
func Compile(expr string) (*Check, error) {
	e, err := environment()
	if err != nil {
		return nil, err
	}
	prg, checked, est, err := celcheck.Compile(e, limits, expr, estimator{})
	if err != nil {
		return nil, err
	}
	return &Check{expr: expr, prg: prg, cost: est, readJSON: readsJSON(checked)}, nil
}

// readsJSON reports whether the check selects response.json anywhere.
func readsJSON(checked *cel.Ast) bool {
	root := ast.NavigateAST(checked.NativeRep())
	return len(ast.MatchDescendants(root, func(e ast.NavigableExpr) bool {
		return e.Kind() == ast.SelectKind && e.AsSelect().FieldName() == "json" &&
			e.AsSelect().Operand().Kind() == ast.IdentKind && e.AsSelect().Operand().AsIdent() == "response"
	})) > 0
}

var environment = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[view](), ext.ParseStructTags(true)),
		cel.Variable("response", cel.ObjectType(viewTypeName)),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(MaxLength),
	)
})
