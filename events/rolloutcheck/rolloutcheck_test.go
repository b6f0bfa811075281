package rolloutcheck

import (
	"strings"
	"testing"
)

// healthy is a canary step of 4 pods all up; shaky one with trouble.
var (
	healthy = Facts{Replicas: 4, Desired: 4, Ready: 4, Available: 4}
	shaky   = Facts{Replicas: 4, Desired: 4, Ready: 3, Available: 2, Restarts: 5, NotReadyTransitions: 2, Failed: 1}
)

func TestEval(t *testing.T) {
	tests := []struct {
		name, expr string
		facts      Facts
		want       bool
		err        string // a substring of Eval's error; "" for none
	}{
		{"the issue's example passes", "pods.ready_ratio == 1.0 && pods.restarts == 0", healthy, true, ""},
		{"the issue's example fails", "pods.ready_ratio == 1.0 && pods.restarts == 0", shaky, false, ""},
		{"a ratio ordered against an int", "pods.ready_ratio >= 1 && pods.restarts < 1.5", healthy, true, ""},
		{"a ratio of three in four", "pods.ready_ratio >= 0.75 && pods.ready_ratio < 0.76", shaky, true, ""},
		{"no pods desired: ratio 0", "pods.ready_ratio == 0.0", Facts{}, true, ""},
		{"every fact", "pods.replicas == 4 && pods.desired == 4 && pods.ready == 3 && pods.available == 2 && " +
			"pods.restarts == 5 && pods.not_ready_transitions == 2 && pods.failed == 1", shaky, true, ""},
		{"transitions bounded", "pods.not_ready_transitions < 3 && pods.failed == 0", shaky, false, ""},
		{"available over replicas", "pods.available * 2 >= pods.replicas", shaky, true, ""},
		{"a small comprehension", "[1, 2, 3].all(n, pods.ready >= n)", shaky, true, ""},
		{"a division by zero", "pods.ready / pods.desired == 1", Facts{}, false, "canary analysis: division by zero"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if c.String() != tt.expr || c.Cost() > MaxCost {
				t.Errorf("String() = %q, Cost() = %d", c.String(), c.Cost())
			}
			got, err := c.Eval(tt.facts)
			if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Eval = %v, %v; want %v, error containing %q", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	list := "[" + strings.TrimSuffix(strings.Repeat("1,", 100), ",") + "]"
	tests := []struct{ name, expr, want string }{
		{"syntax error with its position", "pods.ready ==", "1:14: Syntax error: "},
		{"syntax error on a later line", "pods.ready == 4 &&\n  pods.(", "2:8: Syntax error: "},
		{"not a bool", "pods.ready_ratio", "canary analysis must return a bool, not double (compare a fact: pods.ready_ratio == 1.0)"},
		{"an int is not a bool", "pods.restarts + 1", "canary analysis must return a bool, not int"},
		{"unknown field", "pods.redy == 4", "1:5: undefined field 'redy'"},
		{"unknown variable", "ready == 4", "1:1: undeclared reference to 'ready'"},
		{"a double equal to an int", "pods.ready_ratio == 1", "1:18: found no matching overload for '_==_' applied to '(double, int)'"},
		{"wrong type", "pods.ready == '4'", "1:12: found no matching overload for '_==_'"},
		{"a comprehension over a long list, nested", list + ".all(a, " + list + ".all(b, a + b > pods.restarts))",
			"canary analysis too expensive: estimated cost "},
		{"comprehensions three deep", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(a, " +
			"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(b, " +
			"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25].all(c, a + b + c > pods.ready)))",
			"canary analysis too expensive: estimated cost "},
		{"empty", "  ", "canary analysis is empty"},
		{"too long", strings.Repeat("true && ", 600) + "true", "canary analysis is 4804 bytes, more than 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Compile(tt.expr)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Compile = %v, %v; want an error starting %q", c, err, tt.want)
			}
		})
	}
}

// A Cache compiles an analysis once and keeps its failure too (the cache
// itself is celcheck's, tested there).
func TestCache(t *testing.T) {
	c := NewCache(0)
	a1, err := c.Get("pods.ready == 4")
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := c.Get("pods.ready == 4"); a1 != a2 {
		t.Error("the same text compiled twice")
	}
	if ok, err := a1.Eval(healthy); !ok || err != nil {
		t.Errorf("Eval = %v, %v", ok, err)
	}
	if _, err := c.Get("pods.redy == 4"); err == nil || c.Len() != 2 {
		t.Errorf("a bad analysis: %v, Len %d", err, c.Len())
	}
}
