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
		{"RollingUpdate refused by name", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: DaemonSetRollingUpdate} },
			[]string{`spec.updateStrategy.type: unsupported value "RollingUpdate": not supported yet (rolling updates of DaemonSets come with rollouts); use OnDelete, which is what runs (an unset strategy behaves as OnDelete)`}},
		{"unknown strategy", func(s *DaemonSetSpec) { s.UpdateStrategy = &DaemonSetUpdateStrategy{Type: "Recreate"} },
			[]string{`spec.updateStrategy.type: unsupported value "Recreate": must be OnDelete or unset (RollingUpdate is not supported yet)`}},
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

func TestDaemonSetDefaults(t *testing.T) {
	empty := &DaemonSetUpdateStrategy{}
	in := DaemonSetSpec{Selector: testSelector(), Template: testTemplate(""), UpdateStrategy: empty}
	got := in.withDefaults()
	if got.UpdateStrategy == nil || got.UpdateStrategy.Type != DaemonSetOnDelete {
		t.Errorf("updateStrategy = %+v, want OnDelete", got.UpdateStrategy)
	}
	if got.Template.Spec.RestartPolicy != RestartAlways || got.Template.Spec.Containers[0].Ports[0].Protocol != ProtocolTCP {
		t.Errorf("template not defaulted: %+v", got.Template.Spec)
	}
	if empty.Type != "" || in.Template.Spec.Containers[0].Ports[0].Protocol != "" || in.Template.Spec.RestartPolicy != "" {
		t.Errorf("withDefaults changed its input: %+v", in)
	}
	if nilStrategy := (DaemonSetSpec{}).withDefaults(); nilStrategy.UpdateStrategy == nil || nilStrategy.UpdateStrategy.Type != DaemonSetOnDelete {
		t.Errorf("nil updateStrategy became %+v", nilStrategy.UpdateStrategy)
	}
	if again := got.withDefaults(); !reflect.DeepEqual(again, got) {
		t.Errorf("not idempotent: %+v", again)
	}
	var errs FieldErrors
	validateDaemonSetSpec(&errs, "spec", got)
	checkErrs(t, errs, nil)
}
