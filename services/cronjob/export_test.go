package cronjob

// Examined counts the CronJobs Decide has examined, so tests can tell one
// left alone from one examined again to the same verdict.
func (s *Service) Examined() int { return s.examined }
