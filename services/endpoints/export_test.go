package endpoints

// Examined counts the Services examined, ever.
func (s *Service) Examined() int { return s.examined }
