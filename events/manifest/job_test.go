package manifest

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func testJob() JobSpec {
	return JobSpec{Template: testTemplate(RestartNever)}
}

func exitCodes(op string, values ...int32) *PodFailurePolicyOnExitCodesRequirement {
	return &PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}
}

func TestValidateJobSpec(t *testing.T) {
	many := make([]int32, 256)
	for i := range many {
		many[i] = int32(i + 1)
	}
	rules := make([]PodFailurePolicyRule, 21)
	for i := range rules {
		rules[i] = PodFailurePolicyRule{Action: PodFailureIgnore, OnExitCodes: exitCodes(ExitCodesIn, 1)}
	}
	tests := []struct {
		name   string
		mutate func(s *JobSpec)
		want   []string
	}{
		{"good", func(s *JobSpec) {}, nil},
		{"OnFailure", func(s *JobSpec) { s.Template.Spec.RestartPolicy = RestartOnFailure }, nil},
		{"every field", func(s *JobSpec) {
			s.Parallelism, s.Completions = int32p(2), int32p(4)
			s.ActiveDeadlineSeconds, s.BackoffLimit, s.TTLSecondsAfterFinished = int64p(60), int32p(0), int32p(0)
			s.CompletionMode, s.BackoffLimitPerIndex, s.MaxFailedIndexes = CompletionIndexed, int32p(1), int32p(4)
			s.Suspend = boolp(true)
		}, nil},

		// counts
		{"parallelism > completions accepted", func(s *JobSpec) { s.Parallelism, s.Completions = int32p(5), int32p(2) }, nil},
		{"zero parallelism and completions", func(s *JobSpec) { s.Parallelism, s.Completions = int32p(0), int32p(0) }, nil},
		{"negative values", func(s *JobSpec) {
			s.Parallelism, s.Completions, s.BackoffLimit, s.TTLSecondsAfterFinished = int32p(-1), int32p(-2), int32p(-3), int32p(-4)
		}, []string{
			"spec.parallelism: must be >= 0, got -1",
			"spec.completions: must be >= 0, got -2",
			"spec.backoffLimit: must be >= 0, got -3",
			"spec.ttlSecondsAfterFinished: must be >= 0, got -4",
		}},
		{"activeDeadlineSeconds zero", func(s *JobSpec) { s.ActiveDeadlineSeconds = int64p(0) },
			[]string{"spec.activeDeadlineSeconds: must be > 0, got 0"}},
		{"activeDeadlineSeconds negative", func(s *JobSpec) { s.ActiveDeadlineSeconds = int64p(-1) },
			[]string{"spec.activeDeadlineSeconds: must be > 0, got -1"}},

		// completion mode
		{"NonIndexed", func(s *JobSpec) { s.CompletionMode = CompletionNonIndexed }, nil},
		{"Indexed", func(s *JobSpec) {
			s.CompletionMode, s.Completions = CompletionIndexed, int32p(MaxIndexedJobCompletions)
		}, nil},
		{"Indexed without completions", func(s *JobSpec) { s.CompletionMode = CompletionIndexed },
			[]string{"spec.completions: required when completionMode is Indexed"}},
		{"Indexed with too many completions", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.Parallelism = CompletionIndexed, int32p(MaxIndexedJobCompletions+1), int32p(MaxIndexedJobCompletions+1)
		}, []string{
			"spec.completions: must be <= 100000 when completionMode is Indexed, got 100001",
			"spec.parallelism: must be <= 100000 when completionMode is Indexed, got 100001",
		}},
		{"NonIndexed with many completions", func(s *JobSpec) { s.Completions = int32p(MaxIndexedJobCompletions + 1) }, nil},
		{"unknown completion mode", func(s *JobSpec) { s.CompletionMode = "indexed" },
			[]string{`spec.completionMode: unsupported value "indexed": must be one of NonIndexed, Indexed`}},

		// backoff per index
		{"backoffLimitPerIndex negative", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.BackoffLimitPerIndex = CompletionIndexed, int32p(3), int32p(-1)
		}, []string{"spec.backoffLimitPerIndex: must be >= 0, got -1"}},
		{"backoffLimitPerIndex without Indexed", func(s *JobSpec) { s.BackoffLimitPerIndex = int32p(1) },
			[]string{"spec.backoffLimitPerIndex: requires completionMode Indexed"}},
		{"maxFailedIndexes without backoffLimitPerIndex", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.MaxFailedIndexes = CompletionIndexed, int32p(3), int32p(1)
		}, []string{"spec.maxFailedIndexes: requires backoffLimitPerIndex"}},
		{"maxFailedIndexes negative", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.BackoffLimitPerIndex, s.MaxFailedIndexes = CompletionIndexed, int32p(3), int32p(1), int32p(-1)
		}, []string{"spec.maxFailedIndexes: must be >= 0, got -1"}},
		{"maxFailedIndexes above completions", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.BackoffLimitPerIndex, s.MaxFailedIndexes = CompletionIndexed, int32p(3), int32p(1), int32p(4)
		}, []string{"spec.maxFailedIndexes: must be <= completions (3), got 4"}},

		// template
		{"restartPolicy required", func(s *JobSpec) { s.Template.Spec.RestartPolicy = "" },
			[]string{`spec.template.spec.restartPolicy: required: supported values: "OnFailure", "Never"`}},
		{"restartPolicy Always refused", func(s *JobSpec) { s.Template.Spec.RestartPolicy = RestartAlways },
			[]string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`}},
		{"restartPolicy unknown, reported once", func(s *JobSpec) { s.Template.Spec.RestartPolicy = "never" },
			[]string{`spec.template.spec.restartPolicy: unsupported value "never": must be one of Always, OnFailure, Never`}},
		{"template labels", func(s *JobSpec) { s.Template.Metadata.Labels["app"] = "-web" },
			[]string{`spec.template.metadata.labels.app: invalid value "-web": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`}},
		{"template annotations", func(s *JobSpec) {
			s.Template.Metadata.Annotations = map[string]string{"a": strings.Repeat("x", 256<<10)}
		},
			[]string{"spec.template.metadata.annotations: must be no more than 262144 bytes in total, got 262145"}},
		{"template pod spec", func(s *JobSpec) { s.Template.Spec.Containers[0].Name = "" },
			[]string{"spec.template.spec.containers[0].name: required"}},

		// pod failure policy
		{"pod failure policy", func(s *JobSpec) {
			s.CompletionMode, s.Completions, s.BackoffLimitPerIndex = CompletionIndexed, int32p(3), int32p(1)
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
				{Action: PodFailureFailJob, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{ContainerName: strp("sidecar"), Operator: ExitCodesIn, Values: []int32{1, 2, 42}}},
				{Action: PodFailureFailIndex, OnExitCodes: exitCodes(ExitCodesIn, 3)},
				{Action: PodFailureIgnore, OnExitCodes: exitCodes(ExitCodesNotIn, 0)},
				{Action: PodFailureCount, OnExitCodes: exitCodes(ExitCodesNotIn, -1, 0, 1)},
			}}
		}, nil},
		{"pod failure policy with OnFailure", func(s *JobSpec) {
			s.Template.Spec.RestartPolicy = RestartOnFailure
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn, 1)}}}
		}, []string{`spec.template.spec.restartPolicy: unsupported value "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"pod failure policy with Always", func(s *JobSpec) {
			s.Template.Spec.RestartPolicy = RestartAlways
			s.PodFailurePolicy = &PodFailurePolicy{}
		}, []string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`}},
		{"too many rules", func(s *JobSpec) { s.PodFailurePolicy = &PodFailurePolicy{Rules: rules} },
			[]string{"spec.podFailurePolicy.rules: must have at most 20 rules, got 21"}},
		{"actions", func(s *JobSpec) {
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
				{OnExitCodes: exitCodes(ExitCodesIn, 1)},
				{Action: "Restart", OnExitCodes: exitCodes(ExitCodesIn, 1)},
				{Action: PodFailureFailIndex, OnExitCodes: exitCodes(ExitCodesIn, 1)},
			}}
		}, []string{
			"spec.podFailurePolicy.rules[0].action: required: must be one of FailJob, FailIndex, Ignore, Count",
			`spec.podFailurePolicy.rules[1].action: unsupported value "Restart": must be one of FailJob, FailIndex, Ignore, Count`,
			`spec.podFailurePolicy.rules[2].action: unsupported value "FailIndex": requires backoffLimitPerIndex`,
		}},
		{"onExitCodes required", func(s *JobSpec) {
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{{Action: PodFailureFailJob}}}
		}, []string{"spec.podFailurePolicy.rules[0].onExitCodes: required: onPodConditions is not supported yet, so a rule matches by exit codes"}},
		{"operators", func(s *JobSpec) {
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
				{Action: PodFailureFailJob, OnExitCodes: exitCodes("", 1)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes("Exists", 1)},
			}}
		}, []string{
			"spec.podFailurePolicy.rules[0].onExitCodes.operator: required: must be one of In, NotIn",
			`spec.podFailurePolicy.rules[1].onExitCodes.operator: unsupported value "Exists": must be one of In, NotIn`,
		}},
		{"values", func(s *JobSpec) {
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn, 0, 1)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesNotIn, 1, 1, 2)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn, 2, 1)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn, many...)},
				{Action: PodFailureFailJob, OnExitCodes: exitCodes(ExitCodesIn, many[:255]...)},
			}}
		}, []string{
			"spec.podFailurePolicy.rules[0].onExitCodes.values: required: at least one exit code",
			"spec.podFailurePolicy.rules[1].onExitCodes.values[0]: must not be 0 for the In operator (exit code 0 is success)",
			"spec.podFailurePolicy.rules[2].onExitCodes.values[1]: duplicate value 1",
			"spec.podFailurePolicy.rules[3].onExitCodes.values: must be ordered",
			"spec.podFailurePolicy.rules[4].onExitCodes.values: must have at most 255 values, got 256",
		}},
		{"containerName", func(s *JobSpec) {
			s.PodFailurePolicy = &PodFailurePolicy{Rules: []PodFailurePolicyRule{
				{Action: PodFailureFailJob, OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{ContainerName: strp("main"), Operator: ExitCodesIn, Values: []int32{1}}},
			}}
		}, []string{`spec.podFailurePolicy.rules[0].onExitCodes.containerName: invalid value "main": must be the name of a container in the pod template`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testJob()
			tt.mutate(&s)
			var errs FieldErrors
			validateJobSpec(&errs, "spec", s)
			checkErrs(t, errs, tt.want)
		})
	}
}

func TestJobDefaults(t *testing.T) {
	tests := []struct {
		name                    string
		in                      JobSpec
		parallelism             int32
		completions             *int32
		backoffLimit            int32
		completionMode          string
		suspend                 bool
		restartPolicy, protocol string
	}{
		{"nothing set", testJob(), 1, int32p(1), DefaultBackoffLimit, CompletionNonIndexed, false, RestartNever, ProtocolTCP},
		{"parallelism alone: a work queue", JobSpec{Parallelism: int32p(3), Template: testTemplate(RestartOnFailure)},
			3, nil, DefaultBackoffLimit, CompletionNonIndexed, false, RestartOnFailure, ProtocolTCP},
		{"completions alone", JobSpec{Completions: int32p(5)}, 1, int32p(5), DefaultBackoffLimit, CompletionNonIndexed, false, "", ""},
		{"per-index backoff", JobSpec{CompletionMode: CompletionIndexed, Completions: int32p(4), BackoffLimitPerIndex: int32p(1)},
			1, int32p(4), math.MaxInt32, CompletionIndexed, false, "", ""},
		{"per-index backoff with a backoffLimit", JobSpec{BackoffLimitPerIndex: int32p(1), BackoffLimit: int32p(2)},
			1, int32p(1), 2, CompletionNonIndexed, false, "", ""},
		{"set values kept", JobSpec{Parallelism: int32p(0), Completions: int32p(0), BackoffLimit: int32p(0), Suspend: boolp(true)},
			0, int32p(0), 0, CompletionNonIndexed, true, "", ""},
		{"restartPolicy not defaulted", JobSpec{Template: testTemplate("")}, 1, int32p(1), DefaultBackoffLimit, CompletionNonIndexed, false, "", ProtocolTCP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if got.Parallelism == nil || *got.Parallelism != tt.parallelism {
				t.Errorf("parallelism = %v, want %d", got.Parallelism, tt.parallelism)
			}
			if !reflect.DeepEqual(got.Completions, tt.completions) {
				t.Errorf("completions = %v, want %v", got.Completions, tt.completions)
			}
			if got.BackoffLimit == nil || *got.BackoffLimit != tt.backoffLimit {
				t.Errorf("backoffLimit = %v, want %d", got.BackoffLimit, tt.backoffLimit)
			}
			if got.CompletionMode != tt.completionMode {
				t.Errorf("completionMode = %q, want %q", got.CompletionMode, tt.completionMode)
			}
			if got.Suspend == nil || *got.Suspend != tt.suspend {
				t.Errorf("suspend = %v, want %v", got.Suspend, tt.suspend)
			}
			if got.Template.Spec.RestartPolicy != tt.restartPolicy {
				t.Errorf("restartPolicy = %q, want %q", got.Template.Spec.RestartPolicy, tt.restartPolicy)
			}
			if len(got.Template.Spec.Containers) > 0 && got.Template.Spec.Containers[0].Ports[0].Protocol != tt.protocol {
				t.Errorf("protocol = %q, want %q", got.Template.Spec.Containers[0].Ports[0].Protocol, tt.protocol)
			}
			if again := got.withDefaults(); !reflect.DeepEqual(again, got) {
				t.Errorf("not idempotent: %+v", again)
			}
		})
	}
}

func TestJobDefaultsDoNotChangeTheInput(t *testing.T) {
	in := testJob()
	before := testJob()
	got := in.withDefaults()
	if !reflect.DeepEqual(in, before) {
		t.Errorf("withDefaults changed its input: %+v", in)
	}
	if got.Template.Spec.Containers[0].Ports[0].Protocol != ProtocolTCP {
		t.Errorf("template not defaulted")
	}
	var errs FieldErrors
	validateJobSpec(&errs, "spec", got)
	checkErrs(t, errs, nil)

	// Defaulted, a template without a restartPolicy is still refused.
	noPolicy := JobSpec{Template: testTemplate("")}.withDefaults()
	errs = nil
	validateJobSpec(&errs, "spec", noPolicy)
	checkErrs(t, errs, []string{`spec.template.spec.restartPolicy: required: supported values: "OnFailure", "Never"`})
}
