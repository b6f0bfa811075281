package scheduler

// Examined counts the pods Decide has examined, so tests can tell a pod
// left alone from a pod examined again to the same verdict.
func (s *Service) Examined() int { return s.examined }

// FreshViews makes every pod work out its own view of the cluster (no view
// shared by the pods of a template), the reference shared views must match.
func (s *Service) FreshViews() { s.cy.fresh = true }

// Assumed counts the bindings this scheduler counts on nodes but has not
// read back.
func (s *Service) Assumed() int { return len(s.assumed) }
