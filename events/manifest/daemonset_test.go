package manifest

import (
	"reflect"
	"testing"
)

func TestValidateDaemonSetSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *DaemonSetSpec)
		want   []string
	}{
		{"good", func(s *DaemonSetSpec) {}, nil},
		{"OnDelete", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: DaemonSetOnDelete} }, nil},
		{"strategy without a type", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{} }, nil},
		{"RollingUpdate", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: DaemonSetRollingUpdate} }, nil},
		{"maxUnavailable a count", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(3)), nil) }, nil},
		{"maxUnavailable a percentage", func(s *DaemonSetSpec) {
			s.UpdateStrategy = rolling(DaemonSetRollingUpdate, ios(FromString("100%")), nil)
		}, nil},
		{"maxSurge with maxUnavailable 0", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(0)), ios(FromString("20%"))) }, nil},
		{"both 0", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(0)), ios(FromString("0%"))) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: may not be 0 when spec.updateStrategy.rollingUpdate.maxSurge is 0: the rollout could never replace a pod"}},
		{"maxUnavailable 0 alone (maxSurge defaults to 0)", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(0)), nil) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: may not be 0 when spec.updateStrategy.rollingUpdate.maxSurge is 0: the rollout could never replace a pod"}},
		{"maxSurge alone (maxUnavailable defaults to 1)", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", nil, ios(FromInt(1))) },
			[]string{"spec.updateStrategy.rollingUpdate.maxSurge: may not be set when spec.updateStrategy.rollingUpdate.maxUnavailable is non-zero (it defaults to 1: set it to 0 to surge)"}},
		{"negative", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(-1)), nil) },
			[]string{"spec.updateStrategy.rollingUpdate.maxUnavailable: must be >= 0, got -1"}},
		{"over 100 %", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromInt(0)), ios(FromString("150%"))) },
			[]string{`spec.updateStrategy.rollingUpdate.maxSurge: must be no more than 100%, got "150%"`}},
		{"not a percentage", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling("", ios(FromString("half")), nil) },
			[]string{`spec.updateStrategy.rollingUpdate.maxUnavailable: invalid value "half": must be a whole number or a percentage (e.g. 2 or "50%")`}},
		{"rollingUpdate with OnDelete", func(s *DaemonSetSpec) { s.UpdateStrategy = rolling(DaemonSetOnDelete, ios(FromInt(1)), nil) },
			[]string{"spec.updateStrategy.rollingUpdate: may not be specified when updateStrategy type is OnDelete"}},
		{"unknown strategy", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: "Recreate"} },
			[]string{`spec.updateStrategy.type: unsupported value "Recreate": must be RollingUpdate or OnDelete`}},
		{"no selector", func(s *DaemonSetSpec) { s.Selector = nil }, []string{"spec.selector: required"}},
		{"empty selector", func(s *DaemonSetSpec) { s.Selector = &LabelSelector{} },
			[]string{"spec.selector: required: a DaemonSet must select its pods by at least one of matchLabels and matchExpressions (an empty selector would match every pod)"}},
		{"selector does not match template labels", func(s *DaemonSetSpec) { s.Selector.MatchLabels["track"] = "canary" },
			[]string{"spec.selector: does not match template labels"}},
		{"template labels", func(s *DaemonSetSpec) { s.Template.Metadata.Labels["bad key"] = "" },
			[]string{
				`spec.template.metadata.labels: invalid key "bad key": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
			}},
		{"template pod spec", func(s *DaemonSetSpec) { s.Template.Spec.Containers = nil },
			[]string{"spec.template.spec.containers: required: at least one container"}},
		{"restartPolicy Never", func(s *DaemonSetSpec) { s.Template.Spec.RestartPolicy = RestartNever },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Never": a DaemonSet's pods must restart Always`}},
		{"restartPolicy Always", func(s *DaemonSetSpec) { s.Template.Spec.RestartPolicy = RestartAlways }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DaemonSetSpec{Selector: testSelector(), Template: testTemplate("")}
			tt.mutate(&s)
			var errs FieldErrors
			validateDaemonSetSpec(&errs, "spec", s)
			checkErrs(t, errs, tt.want)
		})
	}
}

func rolling(typ string, unavailable, surge *IntOrString) *DaemonSetUpdateStrategy {
	return &DaemonSetUpdateStrategy{Type: typ, RollingUpdate: &RollingUpdateDaemonSet{MaxUnavailable: unavailable, MaxSurge: surge}}
}

func ios(v IntOrString) *IntOrString { return &v }

// RollingBounds against the nodes that should run the pod: percentages
// round up (both of them, unlike a Deployment's maxUnavailable).
func TestDaemonSetRollingBounds(t *testing.T) {
	tests := []struct {
		name                   string
		strategy               *DaemonSetUpdateStrategy
		nodes                  int32
		wantSurge, wantUnavail int32
	}{
		{"defaults: one node at a time", nil, 10, 0, 1},
		{"unset rollingUpdate", &DaemonSetUpdateStrategy{Type: DaemonSetRollingUpdate}, 10, 0, 1},
		{"a count", rolling("", ios(FromInt(3)), nil), 10, 0, 3},
		{"a count above the nodes", rolling("", ios(FromInt(30)), nil), 10, 0, 30},
		{"10 nodes at 25 %: ⌈2.5⌉", rolling("", ios(FromString("25%")), nil), 10, 0, 3},
		{"3 nodes at 10 %: ⌈0.3⌉", rolling("", ios(FromString("10%")), nil), 3, 0, 1},
		{"4 nodes at 50 %: exactly 2", rolling("", ios(FromString("50%")), nil), 4, 0, 2},
		{"10 nodes at maxSurge 30 %", rolling("", ios(FromInt(0)), ios(FromString("30%"))), 10, 3, 0},
		{"1 node at maxSurge 50 %: ⌈0.5⌉", rolling("", ios(FromInt(0)), ios(FromString("50%"))), 1, 1, 0},
		{"no node: unavailable 1", rolling("", ios(FromString("10%")), nil), 0, 0, 1},
		{"0 nodes surging: unavailable 1", rolling("", ios(FromInt(0)), ios(FromString("30%"))), 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DaemonSetSpec{UpdateStrategy: tt.strategy}
			surge, unavail := s.RollingBounds(tt.nodes)
			if surge != tt.wantSurge || unavail != tt.wantUnavail {
				t.Errorf("RollingBounds(%d) = surge %d, unavailable %d; want %d, %d", tt.nodes, surge, unavail, tt.wantSurge, tt.wantUnavail)
			}
		})
	}
}

func TestDaemonSetDefaults(t *testing.T) {
	empty := &DaemonSetUpdateStrategy{}
	in := DaemonSetSpec{Selector: testSelector(), Template: testTemplate(""), UpdateStrategy: empty}
	got := in.withDefaults()
	if us := got.UpdateStrategy; us == nil || us.Type != DaemonSetRollingUpdate || us.RollingUpdate == nil ||
		*us.RollingUpdate.MaxUnavailable != FromInt(1) || *us.RollingUpdate.MaxSurge != FromInt(0) {
		t.Errorf("updateStrategy = %+v, want RollingUpdate with maxUnavailable 1, maxSurge 0", got.UpdateStrategy)
	}
	if got.Template.Spec.RestartPolicy != RestartAlways || got.Template.Spec.Containers[0].Ports[0].Protocol != ProtocolTCP {
		t.Errorf("template not defaulted: %+v", got.Template.Spec)
	}
	if empty.Type != "" || in.Template.Spec.Containers[0].Ports[0].Protocol != "" || in.Template.Spec.RestartPolicy != "" {
		t.Errorf("withDefaults changed its input: %+v", in)
	}
	if nilStrategy := (DaemonSetSpec{}).withDefaults(); nilStrategy.UpdateStrategy == nil || nilStrategy.UpdateStrategy.Type != DaemonSetRollingUpdate {
		t.Errorf("nil updateStrategy became %+v", nilStrategy.UpdateStrategy)
	}
	onDelete := DaemonSetSpec{UpdateStrategy: &DaemonSetUpdateStrategy{Type: DaemonSetOnDelete}}.withDefaults()
	if us := onDelete.UpdateStrategy; us.Type != DaemonSetOnDelete || us.RollingUpdate != nil {
		t.Errorf("OnDelete became %+v", us)
	}
	surging := rolling("", ios(FromInt(0)), ios(FromInt(2)))
	if us := (DaemonSetSpec{UpdateStrategy: surging}).withDefaults().UpdateStrategy; *us.RollingUpdate.MaxUnavailable != FromInt(0) ||
		*us.RollingUpdate.MaxSurge != FromInt(2) || surging.Type != "" {
		t.Errorf("a written maxSurge became %+v (input %+v)", us.RollingUpdate, surging)
	}
	if again := got.withDefaults(); !reflect.DeepEqual(again, got) {
		t.Errorf("not idempotent: %+v", again)
	}
	var errs FieldErrors
	validateDaemonSetSpec(&errs, "spec", got)
	checkErrs(t, errs, nil)
}
