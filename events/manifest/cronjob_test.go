package manifest

import (
	"reflect"
	"testing"
)

func testCronJob() CronJobSpec {
	return CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: JobTemplateSpec{Spec: testJob()}}
}

func TestValidateCronJobSpec(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *CronJobSpec)
		want   []string
	}{
		{"good", func(s *CronJobSpec) {}, nil},
		{"every field", func(s *CronJobSpec) {
			s.StartingDeadlineSeconds, s.Suspend = int64p(0), boolp(true)
			s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = int32p(0), int32p(0)
			s.JobTemplate.Metadata.Labels = map[string]string{"app": "report"}
			s.JobTemplate.Metadata.Annotations = map[string]string{"example.com/owner": "team a"}
		}, nil},
		{"concurrency policies", func(s *CronJobSpec) { s.ConcurrencyPolicy = ConcurrencyForbid }, nil},
		{"Allow", func(s *CronJobSpec) { s.ConcurrencyPolicy = ConcurrencyAllow }, nil},
		{"Replace", func(s *CronJobSpec) { s.ConcurrencyPolicy = ConcurrencyReplace }, nil},
		{"unknown concurrency policy", func(s *CronJobSpec) { s.ConcurrencyPolicy = "forbid" },
			[]string{`spec.concurrencyPolicy: unsupported value "forbid": must be one of Allow, Forbid, Replace`}},
		{"negative values", func(s *CronJobSpec) {
			s.StartingDeadlineSeconds = int64p(-1)
			s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = int32p(-2), int32p(-3)
		}, []string{
			"spec.startingDeadlineSeconds: must be >= 0, got -1",
			"spec.successfulJobsHistoryLimit: must be >= 0, got -2",
			"spec.failedJobsHistoryLimit: must be >= 0, got -3",
		}},
		{"job template metadata", func(s *CronJobSpec) {
			s.JobTemplate.Metadata.Labels = map[string]string{"app": "a b"}
			s.JobTemplate.Metadata.Annotations = map[string]string{"/x": ""}
		}, []string{
			`spec.jobTemplate.metadata.labels.app: invalid value "a b": must be empty or consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit`,
			`spec.jobTemplate.metadata.annotations: invalid key "/x": prefix before '/' must not be empty`,
		}},
		{"job template spec", func(s *CronJobSpec) {
			s.JobTemplate.Spec.Parallelism = int32p(-1)
			s.JobTemplate.Spec.Template.Spec.RestartPolicy = RestartAlways
		}, []string{
			"spec.jobTemplate.spec.parallelism: must be >= 0, got -1",
			`spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`,
		}},
		{"Indexed job template without completions", func(s *CronJobSpec) { s.JobTemplate.Spec.CompletionMode = CompletionIndexed },
			[]string{"spec.jobTemplate.spec.completions: required when completionMode is Indexed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testCronJob()
			tt.mutate(&s)
			var errs FieldErrors
			validateCronJobSpec(&errs, "spec", s)
			checkErrs(t, errs, tt.want)
		})
	}
}

func TestCronJobDefaults(t *testing.T) {
	in := testCronJob()
	got := in.withDefaults()
	if got.ConcurrencyPolicy != ConcurrencyAllow || got.Suspend == nil || *got.Suspend ||
		*got.SuccessfulJobsHistoryLimit != 3 || *got.FailedJobsHistoryLimit != 1 {
		t.Errorf("got %+v", got)
	}
	job := got.JobTemplate.Spec
	if *job.Parallelism != 1 || *job.Completions != 1 || *job.BackoffLimit != DefaultBackoffLimit || job.CompletionMode != CompletionNonIndexed ||
		job.Template.Spec.RestartPolicy != RestartNever || job.Template.Spec.Containers[0].Ports[0].Protocol != ProtocolTCP {
		t.Errorf("job template not defaulted: %+v", job)
	}
	if !reflect.DeepEqual(in, testCronJob()) {
		t.Errorf("withDefaults changed its input: %+v", in)
	}
	if again := got.withDefaults(); !reflect.DeepEqual(again, got) {
		t.Errorf("not idempotent: %+v", again)
	}
	set := CronJobSpec{ConcurrencyPolicy: ConcurrencyForbid, Suspend: boolp(true), SuccessfulJobsHistoryLimit: int32p(0), FailedJobsHistoryLimit: int32p(5)}.withDefaults()
	if set.ConcurrencyPolicy != ConcurrencyForbid || !*set.Suspend || *set.SuccessfulJobsHistoryLimit != 0 || *set.FailedJobsHistoryLimit != 5 {
		t.Errorf("set values changed: %+v", set)
	}
	var errs FieldErrors
	validateCronJobSpec(&errs, "spec", got)
	checkErrs(t, errs, nil)
}
