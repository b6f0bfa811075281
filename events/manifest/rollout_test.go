package manifest

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestValidateDeploymentRollout: the rollout fields of a Deployment,
// refused one reason per field, with the field's path.
func TestValidateDeploymentRollout(t *testing.T) {
	ip := func(n int32) *IntOrString { v := FromInt(n); return &v }
	sp := func(s string) *IntOrString { v := FromString(s); return &v }
	rolling := func(surge, unavailable *IntOrString) func(d *DeploymentSpec) {
		return func(d *DeploymentSpec) {
			d.Strategy = &DeploymentStrategy{Type: RollingUpdateStrategy,
				RollingUpdate: &RollingUpdateDeployment{MaxSurge: surge, MaxUnavailable: unavailable}}
		}
	}
	canary := func(steps ...CanaryStep) func(d *DeploymentSpec) {
		return func(d *DeploymentSpec) {
			d.Strategy = &DeploymentStrategy{Type: CanaryStrategy, Canary: &CanarySpec{Steps: steps}}
		}
	}
	weight := func(w int32) CanaryStep { return CanaryStep{SetWeight: &w} }
	pause := func(d string) CanaryStep { return CanaryStep{Pause: &CanaryPause{Duration: d}} }
	analysis := func(cel string) CanaryStep { return CanaryStep{Analysis: &CanaryAnalysis{CEL: cel}} }
	annotated := func(k, v string) func(o *Object) {
		return func(o *Object) { o.Metadata.Annotations = map[string]string{k: v} }
	}
	const ru, cs = "spec.strategy.rollingUpdate.", "spec.strategy.canary."
	tests := []struct {
		name string
		spec func(d *DeploymentSpec)
		obj  func(o *Object) // for metadata; nil: none
		want []string
	}{
		// bounds
		{"25 % and 25 %", rolling(sp("25%"), sp("25%")), nil, nil},
		{"counts", rolling(ip(2), ip(0)), nil, nil},
		{"surge 0, unavailable 1", rolling(ip(0), ip(1)), nil, nil},
		{"100 % both", rolling(sp("100%"), sp("100%")), nil, nil},
		{"0 % surge, unset unavailable (25 %)", rolling(sp("0%"), nil), nil, nil},
		{"both 0", rolling(ip(0), ip(0)), nil,
			[]string{ru + "maxUnavailable: may not be 0 when " + ru + "maxSurge is 0: the rollout could never replace a pod"}},
		{"both 0 %", rolling(sp("0%"), sp("0%")), nil,
			[]string{ru + "maxUnavailable: may not be 0 when " + ru + "maxSurge is 0: the rollout could never replace a pod"}},
		{"0 and 0 %", rolling(ip(0), sp("0%")), nil,
			[]string{ru + "maxUnavailable: may not be 0 when " + ru + "maxSurge is 0: the rollout could never replace a pod"}},
		{"negative", rolling(ip(-1), ip(-2)), nil,
			[]string{ru + "maxSurge: must be >= 0, got -1", ru + "maxUnavailable: must be >= 0, got -2"}},
		{"a negative percentage", rolling(sp("-10%"), nil), nil,
			[]string{ru + `maxSurge: invalid value "-10%": must be a whole number or a percentage (e.g. 2 or "50%")`}},
		{"unavailable above 100 %", rolling(sp("25%"), sp("101%")), nil,
			[]string{ru + `maxUnavailable: must be no more than 100%, got "101%"`}},
		// Kubernetes bounds only maxUnavailable at 100 %.
		{"surge above 100 %", rolling(sp("200%"), sp("0%")), nil, []string{ru + `maxSurge: must be no more than 100%, got "200%"`}},
		{"a percentage beyond any number", rolling(sp("99999999999999999999%"), nil), nil,
			[]string{ru + `maxSurge: invalid value "99999999999999999999%": must be a whole number or a percentage (e.g. 2 or "50%")`}},
		{"not percentages", rolling(sp("25"), sp("a quarter")), nil, []string{
			ru + `maxSurge: invalid value "25": must be a whole number or a percentage (e.g. 2 or "50%")`,
			ru + `maxUnavailable: invalid value "a quarter": must be a whole number or a percentage (e.g. 2 or "50%")`}},
		{"a fraction of a percent", rolling(sp("12.5%"), nil), nil,
			[]string{ru + `maxSurge: invalid value "12.5%": must be a whole number or a percentage (e.g. 2 or "50%")`}},
		{"canary bounds both 0", func(d *DeploymentSpec) {
			canary(weight(50))(d)
			d.Strategy.Canary.MaxSurge, d.Strategy.Canary.MaxUnavailable = ip(0), sp("0%")
		}, nil, []string{cs + "maxUnavailable: may not be 0 when " + cs + "maxSurge is 0: the rollout could never replace a pod"}},

		// strategy types
		{"Recreate", func(d *DeploymentSpec) { d.Strategy = &DeploymentStrategy{Type: RecreateStrategy} }, nil, nil},
		{"Recreate with rollingUpdate", func(d *DeploymentSpec) {
			d.Strategy = &DeploymentStrategy{Type: RecreateStrategy, RollingUpdate: &RollingUpdateDeployment{MaxSurge: ip(1)}}
		}, nil, []string{"spec.strategy.rollingUpdate: may not be specified when strategy type is Recreate"}},
		{"Recreate with canary", func(d *DeploymentSpec) {
			d.Strategy = &DeploymentStrategy{Type: RecreateStrategy, Canary: &CanarySpec{Steps: []CanaryStep{weight(10)}}}
		}, nil, []string{"spec.strategy.canary: may not be specified when strategy type is Recreate"}},
		{"RollingUpdate with canary", func(d *DeploymentSpec) {
			d.Strategy = &DeploymentStrategy{Type: RollingUpdateStrategy, Canary: &CanarySpec{Steps: []CanaryStep{weight(10)}}}
		}, nil, []string{"spec.strategy.canary: may not be specified when strategy type is RollingUpdate"}},
		{"an unknown type", func(d *DeploymentSpec) { d.Strategy = &DeploymentStrategy{Type: "BlueGreen"} }, nil,
			[]string{`spec.strategy.type: unsupported value "BlueGreen": must be RollingUpdate, Recreate or Canary`}},

		// canary
		{"the issue's canary", canary(weight(10), pause("60s"), analysis("pods.ready_ratio == 1.0 && pods.restarts == 0"), weight(50), pause("")),
			nil, nil},
		{"canary without its spec", func(d *DeploymentSpec) { d.Strategy = &DeploymentStrategy{Type: CanaryStrategy} }, nil,
			[]string{"spec.strategy.canary: required when type is Canary"}},
		{"canary without steps", canary(), nil, []string{cs + "steps: required: at least one step"}},
		{"too many steps", canary(make([]CanaryStep, MaxCanarySteps+1)...), nil,
			[]string{cs + "steps: must have at most 32 steps, got 33"}},
		{"canary with rollingUpdate", func(d *DeploymentSpec) {
			canary(weight(10))(d)
			d.Strategy.RollingUpdate = &RollingUpdateDeployment{}
		}, nil, []string{"spec.strategy.rollingUpdate: may not be specified when strategy type is Canary (bounds go in canary)"}},
		{"a step with two fields", canary(weight(10), CanaryStep{SetWeight: new(int32(20)), Pause: &CanaryPause{}}), nil,
			[]string{cs + "steps[1]: must set exactly one of setWeight, pause and analysis"}},
		{"an empty step", canary(CanaryStep{}), nil, []string{cs + "steps[0]: must set exactly one of setWeight, pause and analysis"}},
		{"setWeight 101", canary(weight(101)), nil, []string{cs + "steps[0].setWeight: must be between 0 and 100, got 101"}},
		{"setWeight -1", canary(weight(-1)), nil, []string{cs + "steps[0].setWeight: must be between 0 and 100, got -1"}},
		{"pause abc", canary(weight(10), pause("abc")), nil,
			[]string{cs + `steps[1].pause.duration: invalid value "abc": must be a positive duration such as "60s" or "5m"`}},
		{"pause 0s", canary(pause("0s")), nil,
			[]string{cs + `steps[0].pause.duration: invalid value "0s": must be a positive duration such as "60s" or "5m"`}},
		{"pause without a unit", canary(pause("60")), nil,
			[]string{cs + `steps[0].pause.duration: invalid value "60": must be a positive duration such as "60s" or "5m"`}},
		{"analysis empty", canary(weight(10), analysis(" \n")), nil,
			[]string{cs + `steps[1].analysis.cel: required: a CEL expression that must hold, e.g. "pods.ready_ratio == 1.0 && pods.restarts == 0"`}},
		{"analysis too long", canary(analysis(strings.Repeat("x", MaxAnalysisLength+1))), nil,
			[]string{cs + "steps[0].analysis.cel: must be at most 4096 bytes, got 4097"}},

		// times
		{"minReadySeconds and a longer deadline", func(d *DeploymentSpec) { d.MinReadySeconds, d.ProgressDeadlineSeconds = 10, new(int32(11)) }, nil, nil},
		{"negative minReadySeconds", func(d *DeploymentSpec) { d.MinReadySeconds = -1 }, nil,
			[]string{"spec.minReadySeconds: must be >= 0, got -1"}},
		{"deadline equal to minReadySeconds", func(d *DeploymentSpec) { d.MinReadySeconds, d.ProgressDeadlineSeconds = 30, new(int32(30)) }, nil,
			[]string{"spec.progressDeadlineSeconds: must be greater than minReadySeconds (30), got 30"}},
		{"deadline below minReadySeconds", func(d *DeploymentSpec) { d.MinReadySeconds, d.ProgressDeadlineSeconds = 30, new(int32(5)) }, nil,
			[]string{"spec.progressDeadlineSeconds: must be greater than minReadySeconds (30), got 5"}},
		{"deadline 0", func(d *DeploymentSpec) { d.ProgressDeadlineSeconds = new(int32(0)) }, nil,
			[]string{"spec.progressDeadlineSeconds: must be > 0, got 0"}},

		// annotations
		{"good annotations", nil, func(o *Object) {
			o.Metadata.Annotations = map[string]string{AutoRollbackAnnotation: "false", FailureRestartsAnnotation: "3",
				UnreadySecondsAnnotation: "120", PromoteAnnotation: "g5bjhqv2xj/0"}
		}, nil},
		{"auto-rollback not a bool", nil, annotated(AutoRollbackAnnotation, "no"),
			[]string{`metadata.annotations.rollout.gantry.sh/auto-rollback: invalid value "no": must be "true" or "false"`}},
		{"failure-restarts 0", nil, annotated(FailureRestartsAnnotation, "0"),
			[]string{`metadata.annotations.rollout.gantry.sh/failure-restarts: invalid value "0": must be a whole number > 0`}},
		{"failure-restarts not a number", nil, annotated(FailureRestartsAnnotation, "many"),
			[]string{`metadata.annotations.rollout.gantry.sh/failure-restarts: invalid value "many": must be a whole number > 0`}},
		{"unready-seconds a duration", nil, annotated(UnreadySecondsAnnotation, "5m"),
			[]string{`metadata.annotations.rollout.gantry.sh/unready-seconds: invalid value "5m": must be a whole number > 0`}},
		{"unready-seconds too large", nil, annotated(UnreadySecondsAnnotation, "9999999999"),
			[]string{`metadata.annotations.rollout.gantry.sh/unready-seconds: invalid value "9999999999": must be a whole number > 0`}},
		{"promote negative", nil, annotated(PromoteAnnotation, "g5bjhqv2xj/-1"),
			[]string{"metadata.annotations.rollout.gantry.sh/promote: invalid value \"g5bjhqv2xj/-1\": must be <pod-template-hash>/<step index>, as `gantry rollout promote` writes it"}},
		{"promote without its template", nil, annotated(PromoteAnnotation, "1"),
			[]string{"metadata.annotations.rollout.gantry.sh/promote: invalid value \"1\": must be <pod-template-hash>/<step index>, as `gantry rollout promote` writes it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, goodDeploymentYAML)
			if tt.spec != nil {
				tt.spec(o.Deployment())
			}
			if tt.obj != nil {
				tt.obj(&o)
			}
			o.Defaults()
			got := Validate(o)
			if !reflect.DeepEqual(got.Strings(), tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got.Strings(), "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestResolveBounds: maxSurge and maxUnavailable as counts, as Kubernetes
// resolves them; surge rounds up, unavailable down, and both 0 makes
// unavailable 1 so that the rollout can move.
func TestResolveBounds(t *testing.T) {
	ip := func(n int32) *IntOrString { v := FromInt(n); return &v }
	sp := func(s string) *IntOrString { v := FromString(s); return &v }
	tests := []struct {
		name               string
		surge, unavailable *IntOrString
		replicas           int32
		wantSurge, wantUn  int32
	}{
		// 25 % of 10 is 2.5: surge ⌈2.5⌉ = 3, unavailable ⌊2.5⌋ = 2.
		{"defaults of 10", nil, nil, 10, 3, 2},
		// 25 % of 4 is exactly 1 both ways.
		{"defaults of 4", nil, nil, 4, 1, 1},
		// 25 % of 1 is 0.25: surge 1, unavailable 0.
		{"defaults of 1", nil, nil, 1, 1, 0},
		// 25 % of 3 is 0.75: surge 1, unavailable 0.
		{"defaults of 3", sp("25%"), sp("25%"), 3, 1, 0},
		// 25 % of 7 is 1.75: surge 2, unavailable 1.
		{"defaults of 7", nil, nil, 7, 2, 1},
		// 25 % of 1,000 is 250 both ways: the benchmark.
		{"defaults of 1000", nil, nil, 1000, 250, 250},
		// 33 % of 5 is 1.65: surge 2, unavailable 1.
		{"a third of 5", sp("33%"), sp("33%"), 5, 2, 1},
		// 50 % of 9 is 4.5: surge 5, unavailable 4.
		{"half of 9", sp("50%"), sp("50%"), 9, 5, 4},
		// 1 % of 99 is 0.99: surge 1, unavailable 0.
		{"1 % of 99", sp("1%"), sp("1%"), 99, 1, 0},
		// 0 surge and 10 % of 3 (0.3 → 0): both 0, so unavailable 1.
		{"both round to 0", ip(0), sp("10%"), 3, 0, 1},
		// 0 % surge and 20 % of 4 (0.8 → 0): unavailable 1.
		{"0 % and a percentage rounding to 0", sp("0%"), sp("20%"), 4, 0, 1},
		// counts stay counts, whatever the replicas.
		{"counts", ip(3), ip(0), 10, 3, 0},
		{"counts above replicas", ip(5), ip(5), 2, 5, 5},
		// 100 % of 6: every pod at once, both ways.
		{"100 % of 6", sp("100%"), sp("100%"), 6, 6, 6},
		// 200 % of 5 is 10: surge may double the replicas, as Kubernetes'.
		{"surge 200 % of 5", sp("200%"), sp("0%"), 5, 10, 0},
		// a percentage far beyond 100 % stops at the largest count.
		{"surge of a huge percentage", sp("2147483647%"), nil, 1000000, math.MaxInt32, 250000},
		// no replicas: 25 % of 0 is 0 both ways, so unavailable 1.
		{"no replicas", nil, nil, 0, 0, 1},
		// a count below 0 (refused at admission) counts as 0.
		{"a negative count", ip(-2), ip(1), 4, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u := ResolveBounds(tt.surge, tt.unavailable, tt.replicas)
			if s != tt.wantSurge || u != tt.wantUn {
				t.Errorf("ResolveBounds(%v, %v, %d) = %d, %d; want %d, %d", tt.surge, tt.unavailable, tt.replicas, s, u, tt.wantSurge, tt.wantUn)
			}
		})
	}
}
