package manifest

import (
	"reflect"
	"strings"
	"testing"
	"time"
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

func cronJobObject(name string) Object {
	s := testCronJob()
	s.JobTemplate.Metadata = TemplateMeta{Labels: map[string]string{"team": "data"},
		Annotations: map[string]string{"owner": "ops"}}
	return Object{APIVersion: APIBatchV1, Kind: KindCronJob, Metadata: ObjectMeta{Name: name, Namespace: "prod"}, Spec: &s}
}

// A CronJob name of 52 characters is accepted, 53 refused: its Jobs add
// "-" and up to 10 digits and must fit in 63.
func TestCronJobNameLength(t *testing.T) {
	ok := strings.Repeat("a", MaxCronJobNameLength)
	if errs := Validate(cronJobObject(ok)); errs != nil {
		t.Errorf("52 characters: %v", errs)
	}
	long := ok + "b"
	errs := Validate(cronJobObject(long))
	want := `metadata.name: invalid value "` + long + `": must be no more than 52 characters (a CronJob's Jobs add 11 to it and must fit in 63)`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("53 characters: %v, want %s", errs, want)
	}
	// Other kinds keep the DNS label's 63.
	job := JobFromCronJob(cronJobObject("x"), long)
	if errs := Validate(job); errs != nil {
		t.Errorf("a Job of 53 characters: %v", errs)
	}
}

func TestJobFromCronJob(t *testing.T) {
	cj := cronJobObject("backup")
	j := JobFromCronJob(cj, "backup-manual-1")
	want := Object{APIVersion: APIBatchV1, Kind: KindJob,
		Metadata: ObjectMeta{Name: "backup-manual-1", Namespace: "prod", Labels: map[string]string{"team": "data"},
			Annotations: map[string]string{"owner": "ops", CronJobInstantiateAnnotation: "manual"}},
		Spec: &cj.CronJob().JobTemplate.Spec}
	if !reflect.DeepEqual(j, want) {
		t.Errorf("JobFromCronJob =\n%+v\nwant\n%+v", j, want)
	}
	if errs := Validate(j); errs != nil {
		t.Errorf("not valid: %v", errs)
	}
	// The Job's maps and spec are its own: changing them leaves the CronJob alone.
	j.Metadata.Labels["team"] = "x"
	j.Job().Parallelism = int32p(7)
	if cj.CronJob().JobTemplate.Metadata.Labels["team"] != "data" || cj.CronJob().JobTemplate.Spec.Parallelism != nil {
		t.Error("the Job shares the CronJob's template")
	}
	if _, has := cj.CronJob().JobTemplate.Metadata.Annotations[CronJobInstantiateAnnotation]; has {
		t.Error("the CronJob's template was annotated")
	}
}

// A scheduled Job carries its time in the CronJob's zone: 10:00 UTC is
// 15:30 in Kolkata (+05:30).
func TestScheduledJob(t *testing.T) {
	cj := cronJobObject("backup")
	at := time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC)
	j := ScheduledJob(cj, "backup-29166360", at)
	if got := j.Metadata.Annotations[CronJobScheduledTimestampAnnotation]; got != "2025-06-15T10:00:00Z" {
		t.Errorf("UTC annotation %q", got)
	}
	if j.Job() == nil || j.Job().CompletionMode == "" {
		t.Errorf("defaults not filled: %+v", j.Spec)
	}
	tz := "Asia/Kolkata"
	cj.CronJob().TimeZone = &tz
	j = ScheduledJob(cj, "backup-29166360", at)
	if got := j.Metadata.Annotations[CronJobScheduledTimestampAnnotation]; got != "2025-06-15T15:30:00+05:30" {
		t.Errorf("Kolkata annotation %q", got)
	}
	if j.Metadata.Labels["team"] != "data" || j.Metadata.Annotations["owner"] != "ops" {
		t.Errorf("template metadata lost: %+v", j.Metadata)
	}
}
