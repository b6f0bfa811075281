// Package behaviour holds the rules by which the demo image (deploy/images/hello)
// behaves, read from its container's environment: serve until stopped (the
// default), run for a while and exit with a code, fail its first runs, print a
// line per tick. The image's program and the simulated runtime (node/sim) both
// follow these rules, so one manifest means the same on containerd and on the
// simulator. It imports only the standard library, so the image stays a small
// static binary.
//
// Worked example: HELLO_RUN_FOR=2s HELLO_EXIT_CODE=0 HELLO_FAIL_TIMES=2 and
// restartPolicy OnFailure. Run 1 (GANTRY_RESTART_COUNT=0) runs 2 s and exits
// with HELLO_FAIL_CODE (1); run 2 (count 1) does the same; run 3 (count 2)
// runs 2 s and exits 0, and the container is done.
package behaviour

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The variables the demo image reads. Every other HELLO_ variable is refused,
// so a misspelt one is an error rather than a silent default.
const (
	// EnvRunFor is how long a run lasts before it exits (a Go duration: 30s,
	// 1m30s). Unset: the program serves until it is stopped, unless
	// EnvExitCode is set (then it exits at once).
	EnvRunFor = "HELLO_RUN_FOR"
	// EnvExitCode is the code a run that ends by itself exits with (0–255,
	// default 0).
	EnvExitCode = "HELLO_EXIT_CODE"
	// EnvFailTimes makes the first N runs of the container fail: they exit
	// with EnvFailCode (after EnvRunFor when set, else at once).
	EnvFailTimes = "HELLO_FAIL_TIMES"
	// EnvFailCode is the code of a failing run (1–255, default 1).
	EnvFailCode = "HELLO_FAIL_CODE"
	// EnvTick prints a line every interval while the run lasts (a Go
	// duration of at least MinTick).
	EnvTick = "HELLO_TICK"
	// EnvAllocate is how much memory a run allocates (and touches) when it
	// starts and holds while it lasts: a whole number of bytes with an
	// optional suffix Ki, Mi or Gi (256Mi). Over the container's memory
	// limit the kernel's OOM killer ends the run.
	EnvAllocate = "HELLO_ALLOCATE"
	// EnvRestartCount is how many times the runtime restarted this container
	// before this run; Gantry's runtimes set it in every container (the
	// count `gantry get pods` shows as RESTARTS). It is how a run knows it
	// is one of the first EnvFailTimes: the count lives in the runtime, so
	// it survives what a file in the container's root filesystem would not
	// (a container made again, as Kubernetes makes one for every restart).
	EnvRestartCount = "GANTRY_RESTART_COUNT"
	// EnvCompletionIndex is an Indexed Job's index, as Kubernetes names it;
	// it is printed in the run's lines when set.
	EnvCompletionIndex = "JOB_COMPLETION_INDEX"

	// The variables below shape what the server answers, for tests of
	// probes and graceful termination (see serve.go).

	// EnvStartDelay makes the server listen only this long after the run
	// started (a Go duration): a slow start, for startup probes.
	EnvStartDelay = "HELLO_START_DELAY"
	// EnvUnhealthyAfter makes /healthz answer 500 from this long after the
	// run started (a Go duration), for liveness probes.
	EnvUnhealthyAfter = "HELLO_UNHEALTHY_AFTER"
	// EnvUnreadyAfter makes /ready answer 503 from this long after the run
	// started (a Go duration), for readiness probes.
	EnvUnreadyAfter = "HELLO_UNREADY_AFTER"
	// EnvQueueDepth is the queue_depth /status reports (a whole number, 0
	// by default), for CEL checks over a JSON response.
	EnvQueueDepth = "HELLO_QUEUE_DEPTH"
	// EnvIgnoreSIGTERM ("true" or "false") makes the program ignore
	// SIGTERM, so only SIGKILL at the end of the grace period stops it.
	EnvIgnoreSIGTERM = "HELLO_IGNORE_SIGTERM"
)

// Prefix is the prefix of the demo image's own variables.
const Prefix = "HELLO_"

// MinTick is the shortest EnvTick accepted.
const MinTick = 10 * time.Millisecond

// ExitInvalid is the code the program exits with when its environment is
// invalid.
const ExitInvalid = 2

// Spec is the behaviour a container's environment asks for.
type Spec struct {
	RunFor    time.Duration // 0 with Exits: at once
	Exits     bool          // EnvRunFor or EnvExitCode set: a run ends by itself
	ExitCode  int
	FailTimes int
	FailCode  int
	Tick      time.Duration // 0: no tick lines
	Allocate  int64         // EnvAllocate in bytes, 0 when unset
	Restarts  int           // EnvRestartCount
	Index     string        // EnvCompletionIndex, "" when unset

	StartDelay     time.Duration // EnvStartDelay: listens after it
	UnhealthyAfter time.Duration // EnvUnhealthyAfter, when Unhealthy
	Unhealthy      bool          // EnvUnhealthyAfter set
	UnreadyAfter   time.Duration // EnvUnreadyAfter, when Unready
	Unready        bool          // EnvUnreadyAfter set
	QueueDepth     int           // EnvQueueDepth
	IgnoreSIGTERM  bool          // EnvIgnoreSIGTERM
}

// Parse reads a Spec from an environment of NAME=value entries (as
// os.Environ gives it; a later entry overrides an earlier one, as in a
// Kubernetes container's env). An empty value counts as unset. The error
// names the variable and says what it wants.
func Parse(environ []string) (Spec, error) {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	s := Spec{FailCode: 1}
	for k := range env {
		if strings.HasPrefix(k, Prefix) && !known(k) {
			return Spec{}, fmt.Errorf("%s: unknown variable (the demo image reads %s)", k, strings.Join(Variables, ", "))
		}
	}
	var err error
	if v := env[EnvRunFor]; v != "" {
		if s.RunFor, err = duration(EnvRunFor, v, 0); err != nil {
			return Spec{}, err
		}
		s.Exits = true
	}
	if v := env[EnvExitCode]; v != "" {
		if s.ExitCode, err = integer(EnvExitCode, v, 0, 255); err != nil {
			return Spec{}, err
		}
		s.Exits = true
	}
	if v := env[EnvFailTimes]; v != "" {
		if s.FailTimes, err = integer(EnvFailTimes, v, 0, -1); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvFailCode]; v != "" {
		if s.FailCode, err = integer(EnvFailCode, v, 1, 255); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvTick]; v != "" {
		if s.Tick, err = duration(EnvTick, v, MinTick); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvAllocate]; v != "" {
		if s.Allocate, err = size(EnvAllocate, v); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvRestartCount]; v != "" {
		if s.Restarts, err = integer(EnvRestartCount, v, 0, -1); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvStartDelay]; v != "" {
		if s.StartDelay, err = duration(EnvStartDelay, v, 0); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvUnhealthyAfter]; v != "" {
		if s.UnhealthyAfter, err = duration(EnvUnhealthyAfter, v, 0); err != nil {
			return Spec{}, err
		}
		s.Unhealthy = true
	}
	if v := env[EnvUnreadyAfter]; v != "" {
		if s.UnreadyAfter, err = duration(EnvUnreadyAfter, v, 0); err != nil {
			return Spec{}, err
		}
		s.Unready = true
	}
	if v := env[EnvQueueDepth]; v != "" {
		if s.QueueDepth, err = integer(EnvQueueDepth, v, 0, -1); err != nil {
			return Spec{}, err
		}
	}
	if v := env[EnvIgnoreSIGTERM]; v != "" {
		switch v {
		case "true":
			s.IgnoreSIGTERM = true
		case "false":
		default:
			return Spec{}, fmt.Errorf("%s=%q: must be true or false", EnvIgnoreSIGTERM, v)
		}
	}
	if v := env[EnvCompletionIndex]; v != "" {
		if _, err = integer(EnvCompletionIndex, v, 0, -1); err != nil {
			return Spec{}, err
		}
		s.Index = v
	}
	return s, nil
}

// Variables are the demo image's own variables (Prefix).
var Variables = []string{EnvRunFor, EnvExitCode, EnvFailTimes, EnvFailCode, EnvTick,
	EnvStartDelay, EnvUnhealthyAfter, EnvUnreadyAfter, EnvQueueDepth, EnvIgnoreSIGTERM, EnvAllocate}

func known(name string) bool {
	for _, v := range Variables {
		if v == name {
			return true
		}
	}
	return false
}

// duration parses a Go duration of at least min.
func duration(name, v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration (write it as 30s, 1m30s or 500ms)", name, v)
	}
	if d < min || d < 0 {
		if min == 0 {
			return 0, fmt.Errorf("%s=%q: must not be negative", name, v)
		}
		return 0, fmt.Errorf("%s=%q: must be at least %s", name, v, min)
	}
	return d, nil
}

// integer parses a decimal integer in [min, max] (max < 0: no bound).
func integer(name, v string, min, max int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a whole number", name, v)
	}
	switch {
	case max >= 0 && (n < min || n > max):
		return 0, fmt.Errorf("%s=%q: must be between %d and %d", name, v, min, max)
	case n < min:
		return 0, fmt.Errorf("%s=%q: must be %d or more", name, v, min)
	}
	return n, nil
}

// size parses a size: a whole number with an optional binary suffix (Ki,
// Mi, Gi), as Kubernetes writes memory.
func size(name, v string) (int64, error) {
	num, unit := v, int64(1)
	for suffix, u := range map[string]int64{"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if n, ok := strings.CutSuffix(v, suffix); ok {
			num, unit = n, u
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/unit {
		return 0, fmt.Errorf("%s=%q: not a size (write it as 64Mi, 1Gi or a number of bytes, at most 1Ti)", name, v)
	}
	return n * unit, nil
}

// Outcome is how one run ends.
type Outcome struct {
	Ends    bool          // false: the run serves until it is stopped
	After   time.Duration // how long the run lasts when it Ends
	Code    int           // the exit code when it Ends
	Failing bool          // one of the first FailTimes runs
}

// Outcome is how this run (the one after Restarts restarts) ends.
func (s Spec) Outcome() Outcome {
	if s.Restarts < s.FailTimes {
		return Outcome{Ends: true, After: s.RunFor, Code: s.FailCode, Failing: true}
	}
	if s.Exits {
		return Outcome{Ends: true, After: s.RunFor, Code: s.ExitCode}
	}
	return Outcome{}
}

// Active reports whether the environment asks for anything but the default
// (serve until stopped, no tick lines).
func (s Spec) Active() bool { return s.Outcome().Ends || s.Tick > 0 || s.Allocate > 0 }

// OOMKilled reports whether the kernel's OOM killer ends a run in a
// container whose memory limit is limit bytes (0: none): it allocates more.
func (s Spec) OOMKilled(limit int64) bool { return limit > 0 && s.Allocate > limit }

// ExitOOMKilled is the code of a run the OOM killer ended (128 + SIGKILL).
const ExitOOMKilled = 137

// StartLine is what a run prints when it starts with anything but the
// default behaviour.
func (s Spec) StartLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hello: run %d", s.Restarts+1)
	if s.Index != "" {
		fmt.Fprintf(&b, ", index %s", s.Index)
	}
	if s.Allocate > 0 {
		fmt.Fprintf(&b, ", holds %d bytes", s.Allocate)
	}
	switch o := s.Outcome(); {
	case o.Failing:
		fmt.Fprintf(&b, ": failing run %d of %d (%s=%d), exits with %d after %s", s.Restarts+1, s.FailTimes, EnvFailTimes, s.FailTimes, o.Code, o.After)
	case o.Ends:
		fmt.Fprintf(&b, ": exits with %d after %s", o.Code, o.After)
	default:
		b.WriteString(": serves until stopped")
	}
	return b.String()
}

// TickLine is the line printed at the n-th tick (from 1).
func (s Spec) TickLine(n int) string {
	if s.Index != "" {
		return fmt.Sprintf("hello: tick %d, index %s", n, s.Index)
	}
	return fmt.Sprintf("hello: tick %d", n)
}

// ExitLine is what a run that ends by itself prints last.
func (o Outcome) ExitLine() string {
	return fmt.Sprintf("hello: exiting with code %d after %s", o.Code, o.After)
}

// Ticks is how many tick lines a run has printed after running for elapsed:
// one at every multiple of Tick, but none at or after the moment a run that
// ends by itself exits (HELLO_RUN_FOR=3s HELLO_TICK=1s prints ticks 1 and 2,
// then exits at 3 s).
func (s Spec) Ticks(elapsed time.Duration) int {
	if s.Tick <= 0 || elapsed < 0 {
		return 0
	}
	n := elapsed / s.Tick
	if o := s.Outcome(); o.Ends {
		last := time.Duration(0)
		if o.After > 0 {
			last = (o.After - 1) / s.Tick
		}
		n = min(n, last)
	}
	return int(n)
}

// Stamp is msg as the program's log prints it: the UTC time to the second, a
// space, msg and a newline (Go's log with LstdFlags|LUTC).
func Stamp(t time.Time, msg string) string {
	return t.UTC().Format("2006/01/02 15:04:05") + " " + msg + "\n"
}
