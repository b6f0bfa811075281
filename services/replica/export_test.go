package replica

// Examined counts the workloads Decide has examined, so tests can tell a
// workload left alone from one examined again to the same verdict.
func (s *Service) Examined() int { return s.examined }

// MissChanges forgets what changed and what is pending, as if the fold had
// failed to name a change: only a full pass can find it then.
func (s *Service) MissChanges() {
	s.c.ClearDirty()
	clear(s.pendingW)
	clear(s.pendingP)
}

// Assumed counts the decisions assumed and not yet read back or forgotten:
// the pending plan the service holds.
func (s *Service) Assumed() int { return len(s.assumed) }
