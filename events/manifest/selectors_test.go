package manifest

import (
	"maps"
	"reflect"
	"testing"
)

func TestLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "frontend", "empty": ""}
	req := func(key, op string, values ...string) LabelSelectorRequirement {
		return LabelSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	tests := []struct {
		name string
		sel  LabelSelector
		want bool
	}{
		{"empty selector matches everything", LabelSelector{}, true},
		{"matchLabels", LabelSelector{MatchLabels: map[string]string{"app": "web"}}, true},
		{"matchLabels, all of them", LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "backend"}}, false},
		{"matchLabels, missing key", LabelSelector{MatchLabels: map[string]string{"track": "stable"}}, false},
		{"matchLabels, empty value", LabelSelector{MatchLabels: map[string]string{"empty": ""}}, true},
		{"In", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("tier", OpIn, "backend", "frontend")}}, true},
		{"In, other value", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("tier", OpIn, "backend")}}, false},
		{"In, missing key", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("track", OpIn, "stable")}}, false},
		{"NotIn", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("tier", OpNotIn, "backend")}}, true},
		{"NotIn, the value", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("tier", OpNotIn, "frontend")}}, false},
		{"NotIn, missing key", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("track", OpNotIn, "stable")}}, true},
		{"Exists", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("empty", OpExists)}}, true},
		{"Exists, missing", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("track", OpExists)}}, false},
		{"DoesNotExist", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("track", OpDoesNotExist)}}, true},
		{"DoesNotExist, present", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("app", OpDoesNotExist)}}, false},
		{"Gt is for node selectors only", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("app", OpGt, "1")}}, false},
		{"unknown operator", LabelSelector{MatchExpressions: []LabelSelectorRequirement{req("app", "in", "web")}}, false},
		{"labels and expressions together", LabelSelector{MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []LabelSelectorRequirement{req("tier", OpExists), req("track", OpDoesNotExist)}}, true},
		{"labels and expressions, one fails", LabelSelector{MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []LabelSelectorRequirement{req("tier", OpExists), req("app", OpNotIn, "web")}}, false},
	}
	for _, tt := range tests {
		if got := tt.sel.Matches(labels); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
	if (LabelSelector{}).Matches(nil) != true || (LabelSelector{MatchLabels: map[string]string{"a": ""}}).Matches(nil) {
		t.Error("nil labels")
	}
}

func TestNodeSelectorTermMatches(t *testing.T) {
	node := map[string]string{"zone": "a", "gen": "7", "cores": "-2", "disk": "ssd", "version": "1.2"}
	req := func(key, op string, values ...string) NodeSelectorRequirement {
		return NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	tests := []struct {
		name string
		reqs []NodeSelectorRequirement
		want bool
	}{
		{"no requirements matches nothing", nil, false},
		{"In", []NodeSelectorRequirement{req("zone", OpIn, "a", "b")}, true},
		{"In, other", []NodeSelectorRequirement{req("zone", OpIn, "b")}, false},
		{"NotIn", []NodeSelectorRequirement{req("zone", OpNotIn, "b")}, true},
		{"NotIn, missing key", []NodeSelectorRequirement{req("rack", OpNotIn, "r1")}, true},
		{"Exists", []NodeSelectorRequirement{req("disk", OpExists)}, true},
		{"DoesNotExist", []NodeSelectorRequirement{req("disk", OpDoesNotExist)}, false},
		{"Gt", []NodeSelectorRequirement{req("gen", OpGt, "6")}, true},
		{"Gt, equal", []NodeSelectorRequirement{req("gen", OpGt, "7")}, false},
		{"Gt compares integers, not strings", []NodeSelectorRequirement{req("gen", OpGt, "10")}, false},
		{"Lt", []NodeSelectorRequirement{req("gen", OpLt, "10")}, true},
		{"Lt, negative", []NodeSelectorRequirement{req("cores", OpLt, "-1")}, true},
		{"Gt, label not an integer", []NodeSelectorRequirement{req("version", OpGt, "1")}, false},
		{"Gt, label missing", []NodeSelectorRequirement{req("rack", OpGt, "1")}, false},
		{"Gt, bound not an integer", []NodeSelectorRequirement{req("gen", OpGt, "x")}, false},
		{"Gt, two bounds", []NodeSelectorRequirement{req("gen", OpGt, "1", "2")}, false},
		{"all requirements hold", []NodeSelectorRequirement{req("zone", OpIn, "a"), req("gen", OpGt, "5"), req("gpu", OpDoesNotExist)}, true},
		{"one fails", []NodeSelectorRequirement{req("zone", OpIn, "a"), req("gen", OpLt, "5")}, false},
		{"unknown operator", []NodeSelectorRequirement{req("zone", "Equals", "a")}, false},
	}
	for _, tt := range tests {
		if got := (NodeSelectorTerm{MatchExpressions: tt.reqs}).Matches(node); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}

	// A NodeSelector ORs its terms.
	sel := NodeSelector{NodeSelectorTerms: []NodeSelectorTerm{
		{MatchExpressions: []NodeSelectorRequirement{req("zone", OpIn, "b")}},
		{MatchExpressions: []NodeSelectorRequirement{req("disk", OpIn, "ssd")}},
	}}
	if !sel.Matches(node) || sel.Matches(map[string]string{"zone": "c"}) || (NodeSelector{}).Matches(node) {
		t.Error("NodeSelector.Matches")
	}
}

func TestTolerates(t *testing.T) {
	gpu := Taint{Key: "gpu", Value: "true", Effect: TaintNoSchedule}
	tests := []struct {
		name string
		tol  Toleration
		want bool
	}{
		{"equal key, value and effect", Toleration{Key: "gpu", Operator: "Equal", Value: "true", Effect: TaintNoSchedule}, true},
		{"empty operator is Equal", Toleration{Key: "gpu", Value: "true"}, true},
		{"other value", Toleration{Key: "gpu", Value: "false"}, false},
		{"other key", Toleration{Key: "ssd", Value: "true"}, false},
		{"other effect", Toleration{Key: "gpu", Value: "true", Effect: TaintNoExecute}, false},
		{"Exists ignores the value", Toleration{Key: "gpu", Operator: "Exists"}, true},
		{"Exists with an effect", Toleration{Key: "gpu", Operator: "Exists", Effect: TaintNoSchedule}, true},
		{"empty key and Exists tolerates everything", Toleration{Operator: "Exists"}, true},
		{"empty key and Exists, other effect", Toleration{Operator: "Exists", Effect: TaintPreferNoSchedule}, false},
		{"unknown operator", Toleration{Key: "gpu", Operator: "exists"}, false},
	}
	for _, tt := range tests {
		if got := tt.tol.Tolerates(gpu); got != tt.want {
			t.Errorf("%s: Tolerates = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestResourceRequests(t *testing.T) {
	s := PodSpec{Containers: []Container{
		{Resources: ResourceRequirements{
			Requests: ResourceList{"cpu": MustQuantity("250m"), "memory": MustQuantity("64Mi"), "example.com/gpu": MustQuantity("1")},
			Limits:   ResourceList{"cpu": MustQuantity("1"), "example.com/gpu": MustQuantity("1")},
		}},
		{Resources: ResourceRequirements{
			Limits: ResourceList{"memory": MustQuantity("1e6"), "example.com/gpu": MustQuantity("2"), "example.com/fpga": MustQuantity("1")},
		}},
		{}, // nothing requested
	}}
	want := map[string]int64{"cpu": 250, "memory": 64<<20 + 1e6, "example.com/gpu": 3, "example.com/fpga": 1}
	if got := s.ResourceRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	cpu, mem := s.Requests()
	if cpu != want["cpu"] || mem != want["memory"] {
		t.Errorf("Requests = %d, %d; disagrees with ResourceRequests", cpu, mem)
	}
	if got := (PodSpec{}).ResourceRequests(); got == nil || len(got) != 0 {
		t.Errorf("empty pod: %v", got)
	}
	huge := Container{Resources: ResourceRequirements{Limits: ResourceList{"example.com/x": MustQuantity("4e15")}}}
	if got := (PodSpec{Containers: []Container{huge, huge, huge}}).ResourceRequests()["example.com/x"]; got != 12e15 {
		t.Errorf("large counts: %d", got)
	}
	fine := Container{Resources: ResourceRequirements{Requests: ResourceList{"cpu": MustQuantity("4e15")}}}
	if got := (PodSpec{Containers: []Container{fine, fine, fine}}).ResourceRequests()["cpu"]; got != 1<<63-1 {
		t.Errorf("cpu does not saturate: %d", got)
	}
}

func TestPriority(t *testing.T) {
	classes := PriorityClasses()
	want := map[string]int32{"system-node-critical": 2000001000, "system-cluster-critical": 2000000000, "high": 1000000, "default": 0, "low": -1000}
	if !maps.Equal(classes, want) {
		t.Errorf("PriorityClasses = %v", classes)
	}
	classes["high"] = 1
	if PriorityClasses()["high"] != 1000000 {
		t.Error("PriorityClasses returned the table itself")
	}
	tests := []struct {
		spec PodSpec
		want int32
	}{
		{PodSpec{}, 0},
		{PodSpec{PriorityClassName: "high"}, 1000000},
		{PodSpec{PriorityClassName: "low"}, -1000},
		{PodSpec{PriorityClassName: "system-node-critical"}, 2000001000},
		{PodSpec{Priority: int32p(42)}, 42},
		{PodSpec{Priority: int32p(-5), PriorityClassName: "high"}, -5}, // Validate refuses the pair; the field wins
		{PodSpec{PriorityClassName: "unknown"}, 0},
	}
	for _, tt := range tests {
		if got := PriorityOf(tt.spec); got != tt.want {
			t.Errorf("PriorityOf(%q, %v) = %d, want %d", tt.spec.PriorityClassName, tt.spec.Priority, got, tt.want)
		}
	}
}

func TestDefaultsTopologySpread(t *testing.T) {
	shared := []TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone"}, {MaxSkew: 1, TopologyKey: "rack", WhenUnsatisfiable: ScheduleAnyway}}
	o := mustDecode(t, goodPodYAML)
	o.Pod().TopologySpreadConstraints = shared
	o.Defaults()
	got := o.Pod().TopologySpreadConstraints
	if got[0].WhenUnsatisfiable != DoNotSchedule || got[1].WhenUnsatisfiable != ScheduleAnyway {
		t.Errorf("got %+v", got)
	}
	if shared[0].WhenUnsatisfiable != "" {
		t.Error("Defaults changed a shared slice")
	}
	if shared[0].WhenUnsatisfiableOrDefault() != DoNotSchedule || shared[1].WhenUnsatisfiableOrDefault() != ScheduleAnyway {
		t.Error("WhenUnsatisfiableOrDefault")
	}
}
