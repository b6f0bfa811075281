package manifest

// replaced by cron.go
func validateSchedule(errs *FieldErrors, path string, s CronJobSpec) {}
