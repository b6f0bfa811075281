package runner

import "time"

// FullPasses says when an incremental decider (one that examines only what
// changed since its last pass) should examine everything instead: at its
// first pass, and whenever Every has passed since the last full one (or the
// clock went back), to bound the cost of a change its fold failed to name.
// Every at zero or less: every pass is full.
type FullPasses struct {
	Every time.Duration
	done  bool
	last  time.Time
}

// Full reports whether the pass at now is a full one, and notes it.
func (f *FullPasses) Full(now time.Time) bool {
	full := !f.done || f.Every <= 0 || now.Before(f.last) || !now.Before(f.last.Add(f.Every))
	if full {
		f.done, f.last = true, now
	}
	return full
}
