package scheduler

// Examined counts the pods Decide has examined, so tests can tell a pod
// left alone from a pod examined again to the same verdict.
func (s *Service) Examined() int { return s.examined }
