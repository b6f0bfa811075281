package probe

import (
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Change is what a probe result changed about a container.
type Change int

// The changes a Prober reports.
const (
	// Started: the startup probe succeeded (a container without one is
	// started from the beginning); liveness and readiness run from now.
	Started Change = iota + 1
	// Ready: the container became ready (its readiness probe reached its
	// successThreshold, or it started and has no readiness probe).
	Ready
	// NotReady: the container stopped being ready.
	NotReady
	// Kill: the liveness or startup probe reached its failureThreshold; the
	// container is to be killed and restarted per the pod's restart policy.
	Kill
)

func (c Change) String() string {
	switch c {
	case Started:
		return "Started"
	case Ready:
		return "Ready"
	case NotReady:
		return "NotReady"
	case Kill:
		return "Kill"
	}
	return "Change(?)"
}

// Transition is one change, the probe that caused it and when.
type Transition struct {
	Probe  Kind
	Change Change
	At     time.Time
	// GracePeriodSeconds is, for Kill, the probe's
	// terminationGracePeriodSeconds when it sets one (else the pod's
	// applies).
	GracePeriodSeconds *int64
	// Message is the output of the result that caused the change (why a
	// probe failed).
	Message string
}

// outcome is a probe's published result: unknown until its first
// threshold is reached (startup), else success or failure.
type outcome int8

const (
	unknown outcome = iota
	success
	failure
)

func outcomeOf(ok bool) outcome {
	if ok {
		return success
	}
	return failure
}

// state is one probe of a container instance.
type state struct {
	kind Kind
	spec manifest.Probe // defaults filled in
	next time.Time      // when it runs next
	busy bool           // a check is running
	// published is what the probe last said; it changes only once
	// successThreshold successes or failureThreshold failures came in a row.
	published outcome
	last      outcome // the last raw result
	run       int32   // how many of last came in a row
}

// Prober is the probes of one container instance (a restart makes a new
// instance, with a new Prober), kept as Kubernetes' prober workers keep
// them, without clock or I/O: the caller asks which checks are due (Begin),
// runs them and hands back their results (Observe), which return the
// changes.
//
//   - No probe runs before initialDelaySeconds after the container started;
//     then each runs every periodSeconds.
//   - Until the startup probe succeeds, liveness and readiness do not run
//     and the container is not ready; once it succeeds it stops running.
//   - A probe's result changes only after successThreshold successes or
//     failureThreshold failures in a row, and only a change is reported: a
//     probe that passes every period reports nothing.
//   - Liveness and startup start out passing; their failure is Kill, after
//     which no probe of the instance runs. Readiness starts out failing
//     (not ready); a container without a readiness probe is ready once it
//     started.
//
// Worked example: readiness with periodSeconds 10, initialDelaySeconds 5,
// successThreshold 2, failureThreshold 3, the container started at 0 s:
// checks run at 5, 15, 25, … s; passing at 5 and 15 makes it Ready at 15;
// failing at 25 and 35 changes nothing; a third failure at 45 makes it
// NotReady.
type Prober struct {
	probes  [3]*state // startup, liveness, readiness
	started bool
	ready   bool
	killed  bool
}

// NewProber is the probes of container c, whose instance started at
// startedAt.
func NewProber(c manifest.Container, startedAt time.Time) *Prober {
	pr := &Prober{}
	for i, p := range []*manifest.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
		if p == nil {
			continue
		}
		s := &state{kind: kinds[i], spec: p.WithDefaults()}
		s.next = startedAt.Add(time.Duration(s.spec.InitialDelaySeconds) * time.Second)
		switch s.kind {
		case Liveness:
			s.published = success
		case Readiness:
			s.published = failure
		}
		pr.probes[i] = s
	}
	pr.started = c.StartupProbe == nil
	pr.ready = pr.started && c.ReadinessProbe == nil
	return pr
}

var kinds = [3]Kind{Startup, Liveness, Readiness}

// Resume takes up an instance that ran, and was ready, before this Prober
// (the agent restarted): it is started (its startup probe passed then) and
// ready until its readiness probe fails failureThreshold times, so a
// restart of the agent does not flap the container's readiness.
func (pr *Prober) Resume() {
	if pr.killed {
		return
	}
	pr.started, pr.ready = true, true
	if s := pr.get(Readiness); s != nil {
		s.published = success
	}
}

// Started reports whether the startup probe succeeded (or there is none).
func (pr *Prober) Started() bool { return pr.started }

// Ready reports whether the container is ready.
func (pr *Prober) Ready() bool { return pr.ready }

// Killed reports whether the liveness or startup probe failed: the
// instance is to be killed, and no probe of it runs any more.
func (pr *Prober) Killed() bool { return pr.killed }

// Has reports whether the container has a probe of kind.
func (pr *Prober) Has(kind Kind) bool { return pr.get(kind) != nil }

// Spec is the container's probe of kind, defaults filled in; false when it
// has none.
func (pr *Prober) Spec(kind Kind) (manifest.Probe, bool) {
	if s := pr.get(kind); s != nil {
		return s.spec, true
	}
	return manifest.Probe{}, false
}

func (pr *Prober) get(kind Kind) *state {
	for _, s := range pr.probes {
		if s != nil && s.kind == kind {
			return s
		}
	}
	return nil
}

// active reports whether probe s runs at all now.
func (pr *Prober) active(s *state) bool {
	if s == nil || pr.killed {
		return false
	}
	if s.kind == Startup {
		return !pr.started
	}
	return pr.started
}

// Next is when the next check is due; false when none will be (no probes,
// all running, or the instance is to be killed).
func (pr *Prober) Next() (time.Time, bool) {
	var next time.Time
	found := false
	for _, s := range pr.probes {
		if pr.active(s) && !s.busy && (!found || s.next.Before(next)) {
			next, found = s.next, true
		}
	}
	return next, found
}

// Begin returns the probes due at now, in the order startup, liveness,
// readiness, and marks them running: each is due again a period after it
// was due (a period after now when it fell further behind), once its
// result is in.
func (pr *Prober) Begin(now time.Time) []Kind {
	var due []Kind
	for _, s := range pr.probes {
		if !pr.active(s) || s.busy || now.Before(s.next) {
			continue
		}
		period := time.Duration(s.spec.PeriodSeconds) * time.Second
		s.busy = true
		s.next = s.next.Add(period)
		if !s.next.After(now) {
			s.next = now.Add(period)
		}
		due = append(due, s.kind)
	}
	return due
}

// Observe takes the result of a check of kind begun earlier and returns the
// changes it makes, at now. A result nobody waits for (the instance is to be
// killed, or the probe is not running) changes nothing.
func (pr *Prober) Observe(kind Kind, now time.Time, r Result) []Transition {
	s := pr.get(kind)
	if s == nil || !s.busy {
		return nil
	}
	s.busy = false
	if !pr.active(s) {
		return nil
	}
	got := outcomeOf(r.Success)
	if got == s.last {
		s.run++
	} else {
		s.last, s.run = got, 1
	}
	if (got == failure && s.run < s.spec.FailureThreshold) || (got == success && s.run < s.spec.SuccessThreshold) {
		return nil
	}
	if got == s.published {
		return nil
	}
	s.published = got
	change := func(c Change) Transition {
		return Transition{Probe: kind, Change: c, At: now, Message: r.Output}
	}
	var out []Transition
	switch {
	case got == failure && (kind == Liveness || kind == Startup):
		pr.killed = true
		k := change(Kill)
		k.GracePeriodSeconds = s.spec.TerminationGracePeriodSeconds
		out = append(out, k)
		if pr.ready {
			pr.ready = false
			out = append(out, change(NotReady))
		}
	case kind == Startup:
		pr.started = true
		out = append(out, change(Started))
		// Liveness and readiness run from now on, at once if their initial
		// delay has passed.
		for _, o := range pr.probes {
			if o != nil && o.kind != Startup && o.next.Before(now) {
				o.next = now
			}
		}
		if pr.get(Readiness) == nil {
			pr.ready = true
			out = append(out, change(Ready))
		}
	case kind == Readiness:
		pr.ready = got == success
		if pr.ready {
			out = append(out, change(Ready))
		} else {
			out = append(out, change(NotReady))
		}
	}
	return out
}
