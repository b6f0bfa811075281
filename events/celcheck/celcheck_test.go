package celcheck

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
)

var limits = Limits{What: "test check", MaxLength: 200, MaxCost: 1000,
	Hint: func(t *cel.Type) string { return " (hint for " + cel.FormatCELType(t) + ")" }}

type noSizes struct{}

func (noSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

func (noSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

func compile(expr string) (cel.Program, error) {
	e, err := cel.NewEnv(cel.Variable("x", cel.IntType))
	if err != nil {
		return nil, err
	}
	prg, _, _, err := Compile(e, limits, expr, noSizes{})
	return prg, err
}

func TestCompile(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"good", "x > 1", ""},
		{"empty", " ", "test check is empty"},
		{"too long", strings.Repeat("x", 201), "test check is 201 bytes, more than 200"},
		{"errors on one line each", "y + z > 1", "1:1: undeclared reference to 'y'; 1:5: undeclared reference to 'z'"},
		{"not a bool, with its hint", "x + 1", "test check must return a bool, not int (hint for int)"},
		{"too expensive", "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c > x)))",
			"test check too expensive: estimated cost "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prg, err := compile(tt.expr)
			switch {
			case tt.want == "" && (err != nil || prg == nil):
				t.Errorf("Compile = %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Compile = %v; want an error starting %q", err, tt.want)
			}
		})
	}
}

func TestCache(t *testing.T) {
	compiles := 0
	var mu sync.Mutex
	c := NewCache(2, limits.MaxLength, func(expr string) (cel.Program, error) {
		mu.Lock()
		compiles++
		mu.Unlock()
		return compile(expr)
	})
	a1, err := c.Get("x == 1")
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := c.Get("x == 1"); a1 != a2 || compiles != 1 {
		t.Errorf("the same text compiled twice (%d compiles)", compiles)
	}
	_, err1 := c.Get("x +")
	_, err2 := c.Get("x +")
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() || compiles != 2 {
		t.Errorf("a failure is not kept: %v, %v (%d compiles)", err1, err2, compiles)
	}
	c.Get("x == 2")
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	if _, err := c.Get(strings.Repeat("x", limits.MaxLength+1)); err == nil || c.Len() != 2 {
		t.Errorf("a text too long: %v, Len %d", err, c.Len())
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			prg, err := c.Get(fmt.Sprintf("x == %d", i%3))
			if err != nil {
				t.Error(err)
				return
			}
			if out, _, err := prg.Eval(map[string]any{"x": 1}); err != nil || out.Value() != (i%3 == 1) {
				t.Errorf("Eval = %v, %v", out, err)
			}
		})
	}
	wg.Wait()
}
