package manifest

import (
	"maps"
	"time"
)

// A CronJob stamps a Job from spec.jobTemplate at each time its schedule
// names. validateSchedule (cron.go) checks schedule and timeZone; the rest
// is checked here, with Kubernetes' rules.

func validateCronJobSpec(errs *FieldErrors, path string, s CronJobSpec) {
	validateSchedule(errs, path, s)
	if d := s.StartingDeadlineSeconds; d != nil && *d < 0 {
		errs.addf(fieldPath(path, "startingDeadlineSeconds"), "must be >= 0, got %d", *d)
	}
	switch p := s.ConcurrencyPolicy; p {
	case "", ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace:
	default:
		errs.addf(fieldPath(path, "concurrencyPolicy"), "unsupported value %q: must be one of %s, %s, %s",
			p, ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace)
	}
	nonNegative32(errs, fieldPath(path, "successfulJobsHistoryLimit"), s.SuccessfulJobsHistoryLimit)
	nonNegative32(errs, fieldPath(path, "failedJobsHistoryLimit"), s.FailedJobsHistoryLimit)
	jpath := fieldPath(path, "jobTemplate")
	validateTemplateMeta(errs, fieldPath(jpath, "metadata"), s.JobTemplate.Metadata)
	validateJobSpec(errs, fieldPath(jpath, "spec"), s.JobTemplate.Spec)
}

// withDefaults fills what Kubernetes would: concurrencyPolicy Allow,
// suspend false, history limits 3 successful and 1 failed, and the job
// template's defaults. Slices and pointers are copied before they change.
func (s CronJobSpec) withDefaults() CronJobSpec {
	if s.ConcurrencyPolicy == "" {
		s.ConcurrencyPolicy = ConcurrencyAllow
	}
	if s.Suspend == nil {
		s.Suspend = ptr(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = ptr(int32(DefaultSuccessfulJobsHistory))
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = ptr(int32(DefaultFailedJobsHistory))
	}
	s.JobTemplate.Spec = s.JobTemplate.Spec.withDefaults()
	return s
}

// MaxCronJobNameLength is the longest CronJob name: its Jobs are named
// <cronjob>-<minutes since the epoch>, a dash and up to 10 digits, and must
// stay DNS-1123 labels of at most 63 characters, so 63 - 11 = 52, the limit
// Kubernetes' validation sets for the same reason (services/cronjob
// explains the arithmetic).
const MaxCronJobNameLength = 52

// validateCronJob checks a CronJob's name and spec.
func validateCronJob(errs *FieldErrors, o Object) {
	validateCronJobName(errs, o.Metadata.Name)
	validateCronJobSpec(errs, "spec", *o.CronJob())
}

// validateCronJobName refuses a name too long for the Jobs it stamps out,
// as Kubernetes does at creation, rather than letting a valid CronJob
// decide Jobs whose names would be refused.
func validateCronJobName(errs *FieldErrors, name string) {
	if len(name) > MaxCronJobNameLength {
		errs.addf("metadata.name", "invalid value %q: must be no more than %d characters (a CronJob's Jobs add 11 to it and must fit in 63)",
			name, MaxCronJobNameLength)
	}
}

// Annotations Kubernetes puts on the Jobs of a CronJob.
const (
	// CronJobScheduledTimestampAnnotation is the scheduled time a Job was
	// started for (RFC 3339, in the CronJob's time zone).
	CronJobScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"
	// CronJobInstantiateAnnotation marks a Job made from a CronJob by hand
	// (kubectl create job --from=cronjob/NAME), with the value "manual".
	CronJobInstantiateAnnotation = "cronjob.kubernetes.io/instantiate"
)

// JobFromCronJob is the Job `create job NAME --from=cronjob/CRONJOB` makes:
// the CronJob's jobTemplate (labels, annotations and spec) under the given
// name, in the CronJob's namespace, annotated
// cronjob.kubernetes.io/instantiate: manual. Kubernetes also makes the
// CronJob its owner; here the Job is applied by a user, and user objects
// have no owner, so the CronJob neither counts it as one of its Jobs
// (concurrency, history limits) nor deletes it with itself. Nil-safe: an
// object that is not a CronJob gives a Job with no spec, which validation
// refuses.
func JobFromCronJob(cj Object, name string) Object {
	return jobFromCronJob(cj, name, CronJobInstantiateAnnotation, "manual")
}

// ScheduledJob is the Job a CronJob's controller starts for the scheduled
// time at, as Kubernetes' getJobFromTemplate2 makes it: the jobTemplate
// under the given name, annotated with the scheduled time in the CronJob's
// time zone ("2025-06-15T15:30:00+05:30" for 10:00 UTC in Asia/Kolkata),
// defaults filled.
func ScheduledJob(cj Object, name string, at time.Time) Object {
	loc := time.UTC
	if s := cj.CronJob(); s != nil {
		if l, err := loadTimeZone(s.TimeZone); err == nil {
			loc = l
		}
	}
	j := jobFromCronJob(cj, name, CronJobScheduledTimestampAnnotation, at.In(loc).Format(time.RFC3339))
	j.Defaults()
	return j
}

func jobFromCronJob(cj Object, name, annotation, value string) Object {
	j := Object{APIVersion: APIBatchV1, Kind: KindJob,
		Metadata: ObjectMeta{Name: name, Namespace: cj.Metadata.Namespace}}
	s := cj.CronJob()
	if s == nil {
		return j
	}
	j.Metadata.Labels = maps.Clone(s.JobTemplate.Metadata.Labels)
	j.Metadata.Annotations = maps.Clone(s.JobTemplate.Metadata.Annotations)
	if j.Metadata.Annotations == nil {
		j.Metadata.Annotations = map[string]string{}
	}
	j.Metadata.Annotations[annotation] = value
	spec := s.JobTemplate.Spec
	j.Spec = &spec
	return j
}
