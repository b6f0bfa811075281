package manifest

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
