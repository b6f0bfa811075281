package manifest

import (
	"reflect"
	"testing"
)

func TestValidateReplicaSetSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *ReplicaSetSpec)
		want   []string
	}{
		{"good", func(s *ReplicaSetSpec) {}, nil},
		{"zero replicas", func(s *ReplicaSetSpec) { s.Replicas = int32p(0) }, nil},
		{"negative replicas", func(s *ReplicaSetSpec) { s.Replicas = int32p(-1) }, []string{"spec.replicas: must be >= 0, got -1"}},
		{"no selector", func(s *ReplicaSetSpec) { s.Selector = nil }, []string{"spec.selector: required"}},
		{"empty selector", func(s *ReplicaSetSpec) { s.Selector = &LabelSelector{} },
			[]string{"spec.selector: required: a ReplicaSet must select its pods by at least one of matchLabels and matchExpressions (an empty selector would match every pod)"}},
		{"matchExpressions alone", func(s *ReplicaSetSpec) {
			s.Selector = &LabelSelector{MatchExpressions: []LabelSelectorRequirement{{Key: "app", Operator: OpIn, Values: []string{"web", "api"}}}}
		}, nil},
		{"selector does not match template labels", func(s *ReplicaSetSpec) { s.Selector.MatchLabels["app"] = "api" },
			[]string{"spec.selector: does not match template labels"}},
		{"expression does not match template labels", func(s *ReplicaSetSpec) {
			s.Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: OpDoesNotExist}}
		}, []string{"spec.selector: does not match template labels"}},
		{"bad selector expression", func(s *ReplicaSetSpec) {
			s.Selector.MatchExpressions = []LabelSelectorRequirement{{Key: "tier", Operator: OpGt, Values: []string{"1"}}}
		}, []string{
			"spec.selector.matchExpressions[0].operator: must be one of In, NotIn, Exists, DoesNotExist",
			"spec.selector: does not match template labels",
		}},
		{"template labels", func(s *ReplicaSetSpec) { s.Template.Metadata.Labels["tier"] = "front end" },
			[]string{`spec.template.metadata.labels.tier: invalid value "front end": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`}},
		{"template annotations", func(s *ReplicaSetSpec) { s.Template.Metadata.Annotations = map[string]string{"a b": ""} },
			[]string{`spec.template.metadata.annotations: invalid key "a b": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`}},
		{"template pod spec", func(s *ReplicaSetSpec) { s.Template.Spec.Containers[1].Image = "" },
			[]string{"spec.template.spec.containers[1].image: required"}},
		{"restartPolicy Always", func(s *ReplicaSetSpec) { s.Template.Spec.RestartPolicy = RestartAlways }, nil},
		{"restartPolicy Never", func(s *ReplicaSetSpec) { s.Template.Spec.RestartPolicy = RestartNever },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Never": a ReplicaSet's pods must restart Always`}},
		{"restartPolicy OnFailure", func(s *ReplicaSetSpec) { s.Template.Spec.RestartPolicy = RestartOnFailure },
			[]string{`spec.template.spec.restartPolicy: unsupported value "OnFailure": a ReplicaSet's pods must restart Always`}},
		{"restartPolicy unknown, reported once", func(s *ReplicaSetSpec) { s.Template.Spec.RestartPolicy = "Sometimes" },
			[]string{`spec.template.spec.restartPolicy: unsupported value "Sometimes": must be one of Always, OnFailure, Never`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ReplicaSetSpec{Replicas: int32p(3), Selector: testSelector(), Template: testTemplate("")}
			tt.mutate(&s)
			var errs FieldErrors
			validateReplicaSetSpec(&errs, "spec", s)
			checkErrs(t, errs, tt.want)
		})
	}
}

func TestReplicaSetDefaults(t *testing.T) {
	in := ReplicaSetSpec{Selector: testSelector(), Template: testTemplate("")}
	got := in.withDefaults()
	if got.Replicas == nil || *got.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", got.Replicas)
	}
	if got.Template.Spec.RestartPolicy != RestartAlways || got.Template.Spec.Containers[0].Ports[0].Protocol != ProtocolTCP {
		t.Errorf("template not defaulted: %+v", got.Template.Spec)
	}
	if in.Replicas != nil || in.Template.Spec.Containers[0].Ports[0].Protocol != "" {
		t.Errorf("withDefaults changed its input: %+v", in)
	}
	if again := got.withDefaults(); !reflect.DeepEqual(again, got) {
		t.Errorf("not idempotent: %+v", again)
	}
	if three := (ReplicaSetSpec{Replicas: int32p(3)}).withDefaults(); *three.Replicas != 3 {
		t.Errorf("replicas 3 became %d", *three.Replicas)
	}
	var errs FieldErrors
	validateReplicaSetSpec(&errs, "spec", got)
	checkErrs(t, errs, nil)
}
