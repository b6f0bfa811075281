package placement

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

func testNode() events.NodeInfo {
	return events.NodeInfo{
		Name: "n1",
		Labels: map[string]string{
			"kubernetes.io/hostname": "n1", "topology.kubernetes.io/zone": "a", "zone": "a", "disk": "ssd", "gen": "7",
		},
		Capacity:    map[string]int64{"cpu": 8000, "memory": 32 << 30, "pods": 110, "example.com/gpu": 2},
		Allocatable: map[string]int64{"cpu": 7500, "memory": 30 << 30, "pods": 110, "example.com/gpu": 2},
		Taints:      []manifest.Taint{{Key: "gpu", Value: "true", Effect: manifest.TaintNoSchedule}},
	}
}

func TestGoodRules(t *testing.T) {
	n := View(testNode())
	tests := []struct {
		expr string
		want bool
	}{
		{"node.labels['zone'] in ['a', 'b'] && node.allocatable.memory >= quantity('8Gi')", true},
		{"'zone' in node.labels && node.labels['zone'] == 'b'", false},
		{"'rack' in node.labels && node.labels['rack'] == 'r1'", false}, // the guard keeps it an answer, not an error
		{"has(node.labels.disk) && node.labels.disk == 'ssd'", true},
		{"node.labels['topology.kubernetes.io/zone'] == 'a'", true},
		{"node.name == 'n1'", true},
		{"node.name.startsWith('n') && node.name.matches('^n[0-9]+$')", true},
		{"node.allocatable.cpu >= 2000", true}, // millicores
		{"node.allocatable.cpu >= 8000", false},
		{"node.capacity['example.com/gpu'] >= 1", true},
		{"node.allocatable.memory >= quantity('1.5Gi') && node.allocatable.memory < quantity('1Ti')", true},
		{"quantity('2k') == 2000 && quantity('1Mi') == 1048576 && quantity('3') == 3", true},
		{"int(node.labels.gen) >= 6", true},
		{"node.taints.exists(t, t.key == 'gpu' && t.effect == 'NoSchedule')", true},
		{"node.taints.all(t, t.effect != 'NoExecute')", true},
		{"size(node.taints) == 0", false},
		{"node.labels.exists(k, k.startsWith('topology.kubernetes.io/'))", true},
		{"node.capacity.all(r, node.capacity[r] >= node.allocatable[r])", true},
		{"!('gantry.dev/maintenance' in node.labels)", true},
		{"true", true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			r, err := Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if r.String() != tt.expr || r.Cost() > MaxCost {
				t.Errorf("String() = %q, Cost() = %d", r.String(), r.Cost())
			}
			got, err := r.Eval(n)
			if err != nil || got != tt.want {
				t.Errorf("Eval = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ name, expr, want string }{
		{"syntax error with position", "node.labels['zone'] ==", "1:23: Syntax error: "},
		{"syntax error on a later line", "node.name == 'n1' &&\n  node.labels[", "2:15: Syntax error: "},
		{"unterminated string", "node.name == 'n1", "1:14: Syntax error: "},
		{"not a bool", "1 + 2", "placement rule must return a bool, not int"},
		{"a map is not a bool", "node.labels", "placement rule must return a bool, not map(string, string)"},
		{"a string is not a bool", "node.name", "placement rule must return a bool, not string"},
		{"unknown field", "node.zone == 'a'", "1:5: undefined field 'zone'"},
		{"unknown taint field", "node.taints.exists(t, t.operator == 'Exists')", "1:24: undefined field 'operator'"},
		{"unknown variable", "pod.name == 'x'", "1:1: undeclared reference to 'pod'"},
		{"unknown function", "node.name.lower() == 'x'", "1:16: undeclared reference to 'lower'"},
		{"wrong type", "node.allocatable.cpu >= '2'", "1:22: found no matching overload for '_>=_' applied to '(int, string)'"},
		{"bad quantity literal", "node.allocatable.memory >= quantity('8GB')", `1:37: quantity "8GB": unknown suffix "GB"`},
		{"fractional quantity literal", "node.allocatable.cpu >= quantity('500m')",
			`1:34: quantity("500m") is not a whole number of units (cpu is in millicores: write 500, not quantity("500m"))`},
		{"empty", "  ", "placement rule is empty"},
		{"too long", strings.Repeat("true || ", MaxRuleLength/8) + "true", fmt.Sprintf("placement rule is %d bytes, more than %d", MaxRuleLength+4, MaxRuleLength)},
		{"too expensive: nested all over labels", "node.labels.all(a, node.labels.all(b, a == b || node.labels[a] != node.labels[b]))",
			"placement rule too expensive: estimated cost "},
		{"too expensive: labels times taints times labels", "node.labels.exists(k, node.taints.exists(t, node.labels.exists(j, t.key + k == j)))",
			"placement rule too expensive: estimated cost "},
		{"too expensive: a comprehension over a huge literal range", "[" + strings.Repeat("0,", 60) + "0].all(x, [" + strings.Repeat("0,", 60) + "0].all(y, [" + strings.Repeat("0,", 60) + "0].all(z, x + y + z == 0)))",
			"placement rule too expensive: estimated cost "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(tt.expr)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tt.expr, r)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Compile(%q):\n got  %v\n want %s…", tt.expr, err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestTooExpensiveNamesTheCost(t *testing.T) {
	_, err := Compile("node.labels.all(a, node.labels.all(b, a != b))")
	var cost uint64
	if err == nil {
		t.Fatal("accepted")
	}
	if _, scanErr := fmt.Sscanf(err.Error(), "placement rule too expensive: estimated cost %d exceeds 10000", &cost); scanErr != nil || cost <= MaxCost {
		t.Errorf("error %q (cost %d, %v)", err, cost, scanErr)
	}
	// One walk over the labels is fine.
	r, err := Compile("node.labels.all(a, a != 'x')")
	if err != nil || r.Cost() == 0 || r.Cost() > MaxCost {
		t.Fatalf("single walk: %v, %v", r, err)
	}
}

func TestMissingKeyIsAnError(t *testing.T) {
	n := View(testNode())
	for _, expr := range []string{
		"node.labels['rack'] == 'r1'",
		"node.labels.rack == 'r1'",
		"node.allocatable['nvidia.com/gpu'] > 0",
	} {
		r, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := r.Eval(n)
		if ok || err == nil {
			t.Fatalf("%s: Eval = %v, %v; want false and an error", expr, ok, err)
		}
		if !strings.Contains(err.Error(), "no such key") || !strings.Contains(err.Error(), "in node.labels &&") {
			t.Errorf("%s: error %q should name the missing key and the fix", expr, err)
		}
	}
}

func TestRunawayStopsAtTheCostLimit(t *testing.T) {
	// The estimate assumes at most MaxLabels labels; a node with far more
	// makes a rule that walks them run past MaxCost, and Eval stops it.
	r, err := Compile("node.labels.exists(k, k.startsWith('zzz'))")
	if err != nil {
		t.Fatal(err)
	}
	info := testNode()
	if ok, err := r.Eval(View(info)); ok || err != nil {
		t.Fatalf("normal node: %v, %v", ok, err)
	}
	info.Labels = map[string]string{}
	for i := range 20 * MaxLabels {
		info.Labels[fmt.Sprintf("example.com/label-%d", i)] = "x"
	}
	ok, err := r.Eval(View(info))
	if ok || err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Fatalf("huge node: Eval = %v, %v; want false and a cost limit error", ok, err)
	}
}

func TestQuantityAtRunTime(t *testing.T) {
	info := testNode()
	info.Labels["min-mem"] = "4Gi"
	info.Labels["half"] = "500m"
	r, err := Compile("node.allocatable.memory >= quantity(node.labels['min-mem'])")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(View(info)); !ok || err != nil {
		t.Errorf("Eval = %v, %v", ok, err)
	}
	for label, want := range map[string]string{"zone": `quantity "a" must start with a number`, "half": "not a whole number"} {
		r, err := Compile(fmt.Sprintf("quantity(node.labels['%s']) > 0", label))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := r.Eval(View(info)); ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Eval = %v, %v; want an error with %q", label, ok, err, want)
		}
	}
}

func TestView(t *testing.T) {
	info := testNode()
	v := View(info)
	info.Labels["zone"] = "changed" // the view holds its own copy
	r, err := Compile("node.labels.zone == 'a' && node.taints[0].value == 'true'")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(v); !ok || err != nil {
		t.Errorf("Eval = %v, %v", ok, err)
	}
	if v.Name != "n1" || len(v.Taints) != 1 || v.Taints[0] != (Taint{Key: "gpu", Value: "true", Effect: "NoSchedule"}) ||
		v.Allocatable["example.com/gpu"] != 2 {
		t.Errorf("view = %+v", v)
	}

	// A node that reports nothing: absent maps are empty, not errors.
	empty := View(events.NodeInfo{Name: "bare"})
	r, err = Compile("!('zone' in node.labels) && size(node.taints) == 0 && size(node.allocatable) == 0")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(empty); !ok || err != nil {
		t.Errorf("empty node: Eval = %v, %v", ok, err)
	}

	// A NodeView made by hand, without View, is prepared on the fly.
	hand := NodeView{Name: "h", Labels: map[string]string{"zone": "a"}}
	r, err = Compile("node.name == 'h' && node.labels.zone == 'a' && !('cpu' in node.capacity)")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Eval(hand); !ok || err != nil {
		t.Errorf("hand-made view: Eval = %v, %v", ok, err)
	}
}

func TestNodeValues(t *testing.T) {
	a, b := View(testNode()).vars.node, View(testNode()).vars.node
	other := testNode()
	other.Labels["zone"] = "b"
	c := View(other).vars.node
	if a.Equal(b) != types.True || a.Equal(c) != types.False || a.Equal(types.String("n1")) != types.False {
		t.Errorf("equality: a==b %v, a==c %v", a.Equal(b), a.Equal(c))
	}
	if a.Type().TypeName() != "placement.NodeView" || a.ConvertToType(types.TypeType).(ref.Type).TypeName() != "placement.NodeView" {
		t.Errorf("type %v", a.Type())
	}
	if _, err := a.ConvertToNative(reflect.TypeFor[string]()); err == nil {
		t.Error("converted a node to a string")
	}
	// Rules cannot make nodes.
	if _, err := Compile("placement.NodeView{name: 'x'}.name == 'x'"); err == nil ||
		err.Error() != "1:19: a placement rule cannot create placement.NodeView values" {
		t.Errorf("a rule built a node: %v", err)
	}
}

func TestEvalConcurrently(t *testing.T) {
	r, err := Compile("'zone' in node.labels && node.labels['zone'] == 'a' && node.allocatable.cpu >= 1000")
	if err != nil {
		t.Fatal(err)
	}
	views := []NodeView{View(testNode()), View(events.NodeInfo{Name: "other", Labels: map[string]string{"zone": "b"}})}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := views[(g+i)%2]
				ok, err := r.Eval(v)
				if err != nil || ok != (v.Name == "n1") {
					t.Errorf("%s: %v, %v", v.Name, ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCache(t *testing.T) {
	c := NewCache(2)
	r1, err := c.Get("node.name == 'a'")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Get("node.name == 'a'"); again != r1 {
		t.Error("second Get compiled again")
	}
	_, err1 := c.Get("node.nope")
	_, err2 := c.Get("node.nope")
	if err1 == nil || err2 == nil || err1 != err2 {
		t.Errorf("failures are not cached: %v, %v", err1, err2)
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d", c.Len())
	}
	// "node.name == 'a'" is the least recently used: a third rule evicts it.
	c.Get("node.name == 'a'")
	c.Get("node.name == 'b'")
	if c.Len() != 2 {
		t.Errorf("Len = %d, want the bound 2", c.Len())
	}
	if again, _ := c.Get("node.name == 'a'"); again != r1 {
		t.Error("the most recently used rule was evicted")
	}
	if _, err := c.Get(strings.Repeat(" ", MaxRuleLength+1)); err == nil || c.Len() != 2 {
		t.Errorf("a too long rule: %v, Len %d", err, c.Len())
	}
}

func TestCacheZeroValueConcurrent(t *testing.T) {
	var c Cache
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				expr := fmt.Sprintf("node.allocatable.cpu >= %d", (g+i)%10)
				r, err := c.Get(expr)
				if err != nil || r.String() != expr {
					t.Errorf("Get(%q) = %v, %v", expr, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() != 10 {
		t.Errorf("Len = %d, want 10", c.Len())
	}
}

// BenchmarkEval is one rule against one prepared node, as the scheduler
// does for every (pod, node) pair.
func BenchmarkEval(b *testing.B) {
	n := View(testNode())
	for _, expr := range []string{
		"node.labels['zone'] == 'a'",
		"'zone' in node.labels && node.labels['zone'] in ['a', 'b'] && node.allocatable.memory >= quantity('8Gi')",
	} {
		r, err := Compile(expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("cost%d", r.Cost()), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := r.Eval(n); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkView is the once-per-node preparation.
func BenchmarkView(b *testing.B) {
	info := testNode()
	b.ReportAllocs()
	for b.Loop() {
		View(info)
	}
}
