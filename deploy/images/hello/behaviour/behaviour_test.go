package behaviour

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		want    Spec
		outcome Outcome
		err     string // a part of the error; "" for none
	}{
		{name: "nothing: serve until stopped", env: []string{"PATH=/bin", "POD_NAME=p"},
			want: Spec{FailCode: 1}},
		{name: "run for then exit with a code", env: []string{"HELLO_RUN_FOR=30s", "HELLO_EXIT_CODE=3"},
			want:    Spec{RunFor: 30 * time.Second, Exits: true, ExitCode: 3, FailCode: 1},
			outcome: Outcome{Ends: true, After: 30 * time.Second, Code: 3}},
		{name: "run for alone exits 0", env: []string{"HELLO_RUN_FOR=1m30s"},
			want:    Spec{RunFor: 90 * time.Second, Exits: true, FailCode: 1},
			outcome: Outcome{Ends: true, After: 90 * time.Second}},
		{name: "exit code alone exits at once", env: []string{"HELLO_EXIT_CODE=42"},
			want:    Spec{Exits: true, ExitCode: 42, FailCode: 1},
			outcome: Outcome{Ends: true, Code: 42}},
		{name: "an empty value is unset", env: []string{"HELLO_RUN_FOR=", "HELLO_TICK="},
			want: Spec{FailCode: 1}},
		{name: "a later entry wins", env: []string{"HELLO_EXIT_CODE=1", "HELLO_EXIT_CODE=7"},
			want:    Spec{Exits: true, ExitCode: 7, FailCode: 1},
			outcome: Outcome{Ends: true, Code: 7}},
		{name: "first of two failing runs", env: []string{"HELLO_FAIL_TIMES=2", "HELLO_RUN_FOR=1s", "GANTRY_RESTART_COUNT=0"},
			want:    Spec{RunFor: time.Second, Exits: true, FailTimes: 2, FailCode: 1},
			outcome: Outcome{Ends: true, After: time.Second, Code: 1, Failing: true}},
		{name: "second of two failing runs, own code", env: []string{"HELLO_FAIL_TIMES=2", "HELLO_FAIL_CODE=9", "GANTRY_RESTART_COUNT=1"},
			want:    Spec{FailTimes: 2, FailCode: 9, Restarts: 1},
			outcome: Outcome{Ends: true, Code: 9, Failing: true}},
		{name: "after the failing runs it serves", env: []string{"HELLO_FAIL_TIMES=2", "GANTRY_RESTART_COUNT=2"},
			want: Spec{FailTimes: 2, FailCode: 1, Restarts: 2}},
		{name: "after the failing runs it exits as asked", env: []string{"HELLO_FAIL_TIMES=1", "HELLO_RUN_FOR=2s", "GANTRY_RESTART_COUNT=5"},
			want:    Spec{RunFor: 2 * time.Second, Exits: true, FailTimes: 1, FailCode: 1, Restarts: 5},
			outcome: Outcome{Ends: true, After: 2 * time.Second}},
		{name: "tick and index", env: []string{"HELLO_TICK=1s", "JOB_COMPLETION_INDEX=4"},
			want: Spec{Tick: time.Second, FailCode: 1, Index: "4"}},
		{name: "allocate in Mi", env: []string{"HELLO_ALLOCATE=64Mi"},
			want: Spec{Allocate: 64 << 20, FailCode: 1}},
		{name: "allocate in bytes", env: []string{"HELLO_ALLOCATE=1000"},
			want: Spec{Allocate: 1000, FailCode: 1}},

		{name: "probe behaviours", env: []string{"HELLO_START_DELAY=2s", "HELLO_UNHEALTHY_AFTER=5s", "HELLO_UNREADY_AFTER=0s",
			"HELLO_QUEUE_DEPTH=12", "HELLO_IGNORE_SIGTERM=true"},
			want: Spec{FailCode: 1, StartDelay: 2 * time.Second, UnhealthyAfter: 5 * time.Second, Unhealthy: true,
				Unready: true, QueueDepth: 12, IgnoreSIGTERM: true}},

		{name: "allocate not a size", env: []string{"HELLO_ALLOCATE=64MB"}, err: `HELLO_ALLOCATE="64MB": not a size`},
		{name: "allocate negative", env: []string{"HELLO_ALLOCATE=-1Ki"}, err: `HELLO_ALLOCATE="-1Ki": not a size`},
		{name: "allocate too much", env: []string{"HELLO_ALLOCATE=2048Gi"}, err: `HELLO_ALLOCATE="2048Gi": not a size`},
		{name: "misspelt variable", env: []string{"HELLO_RUNFOR=30s"}, err: "HELLO_RUNFOR: unknown variable"},
		{name: "ignore SIGTERM not a boolean", env: []string{"HELLO_IGNORE_SIGTERM=yes"}, err: `HELLO_IGNORE_SIGTERM="yes": must be true or false`},
		{name: "negative queue depth", env: []string{"HELLO_QUEUE_DEPTH=-1"}, err: `HELLO_QUEUE_DEPTH="-1": must be 0 or more`},
		{name: "unhealthy after not a duration", env: []string{"HELLO_UNHEALTHY_AFTER=5"}, err: `HELLO_UNHEALTHY_AFTER="5": not a duration`},
		{name: "run for not a duration", env: []string{"HELLO_RUN_FOR=30"}, err: `HELLO_RUN_FOR="30": not a duration`},
		{name: "negative run for", env: []string{"HELLO_RUN_FOR=-1s"}, err: `HELLO_RUN_FOR="-1s": must not be negative`},
		{name: "exit code too big", env: []string{"HELLO_EXIT_CODE=256"}, err: `HELLO_EXIT_CODE="256": must be between 0 and 255`},
		{name: "exit code not a number", env: []string{"HELLO_EXIT_CODE=three"}, err: `HELLO_EXIT_CODE="three": not a whole number`},
		{name: "negative fail times", env: []string{"HELLO_FAIL_TIMES=-1"}, err: `HELLO_FAIL_TIMES="-1": must be 0 or more`},
		{name: "fail code 0 is no failure", env: []string{"HELLO_FAIL_CODE=0"}, err: `HELLO_FAIL_CODE="0": must be between 1 and 255`},
		{name: "tick too short", env: []string{"HELLO_TICK=1ms"}, err: `HELLO_TICK="1ms": must be at least 10ms`},
		{name: "tick zero", env: []string{"HELLO_TICK=0s"}, err: `HELLO_TICK="0s": must be at least 10ms`},
		{name: "bad restart count", env: []string{"GANTRY_RESTART_COUNT=x"}, err: `GANTRY_RESTART_COUNT="x": not a whole number`},
		{name: "bad index", env: []string{"JOB_COMPLETION_INDEX=-2"}, err: `JOB_COMPLETION_INDEX="-2": must be 0 or more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Parse(%q) error %v, want one containing %q", tc.env, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.env, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.env, got, tc.want)
			}
			if o := got.Outcome(); o != tc.outcome {
				t.Errorf("outcome %+v, want %+v", o, tc.outcome)
			}
		})
	}
}

// HELLO_RUN_FOR=3s HELLO_TICK=1s prints ticks 1 and 2 and exits at 3 s; a
// run that serves prints one per second for as long as it runs.
func TestTicks(t *testing.T) {
	s := Spec{Tick: time.Second}
	for elapsed, want := range map[time.Duration]int{-time.Second: 0, 0: 0, 999 * time.Millisecond: 0, time.Second: 1, 10500 * time.Millisecond: 10} {
		if got := s.Ticks(elapsed); got != want {
			t.Errorf("serving, after %s: %d ticks, want %d", elapsed, got, want)
		}
	}
	s.Exits, s.RunFor = true, 3*time.Second
	for elapsed, want := range map[time.Duration]int{2 * time.Second: 2, 3 * time.Second: 2, time.Hour: 2} {
		if got := s.Ticks(elapsed); got != want {
			t.Errorf("running 3s, after %s: %d ticks, want %d", elapsed, got, want)
		}
	}
	s.RunFor = 3500 * time.Millisecond
	if got := s.Ticks(time.Hour); got != 3 {
		t.Errorf("running 3.5s: %d ticks, want 3", got)
	}
	s.RunFor = 0
	if got := s.Ticks(time.Hour); got != 0 {
		t.Errorf("exiting at once: %d ticks, want 0", got)
	}
	if got := (Spec{}).Ticks(time.Hour); got != 0 {
		t.Errorf("no tick: %d ticks", got)
	}
}

func TestLines(t *testing.T) {
	s := Spec{RunFor: 2 * time.Second, Exits: true, ExitCode: 3, FailTimes: 2, FailCode: 1, Restarts: 1, Index: "4"}
	if got, want := s.StartLine(), "hello: run 2, index 4: failing run 2 of 2 (HELLO_FAIL_TIMES=2), exits with 1 after 2s"; got != want {
		t.Errorf("start line %q, want %q", got, want)
	}
	s.Restarts = 2
	if got, want := s.StartLine(), "hello: run 3, index 4: exits with 3 after 2s"; got != want {
		t.Errorf("start line %q, want %q", got, want)
	}
	if got, want := (Spec{Tick: time.Second}).StartLine(), "hello: run 1: serves until stopped"; got != want {
		t.Errorf("start line %q, want %q", got, want)
	}
	if got, want := s.TickLine(7), "hello: tick 7, index 4"; got != want {
		t.Errorf("tick line %q, want %q", got, want)
	}
	if got, want := s.Outcome().ExitLine(), "hello: exiting with code 3 after 2s"; got != want {
		t.Errorf("exit line %q, want %q", got, want)
	}
	at := time.Date(2026, 12, 3, 11, 5, 9, 700, time.FixedZone("x", 3600))
	if got, want := Stamp(at, "hi"), "2026/12/03 10:05:09 hi\n"; got != want {
		t.Errorf("stamp %q, want %q", got, want)
	}
}

// The demo image stays a small static binary: this package may import the
// standard library only.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "github.com/gantry-sh/gantry/deploy/images/hello/behaviour" {
		t.Errorf("imports beyond the standard library:\n%s", got)
	}
}

// What the server answers, by path and by how long the run has lasted.
func TestAnswer(t *testing.T) {
	s := Spec{Unhealthy: true, UnhealthyAfter: 5 * time.Second, Unready: true, UnreadyAfter: 3 * time.Second, QueueDepth: 7}
	for _, tc := range []struct {
		path    string
		elapsed time.Duration
		code    int
		body    string
	}{
		{"/", 0, 200, "hello from p\n"},
		{"/healthz", 4 * time.Second, 200, "ok"},
		{"/healthz", 5 * time.Second, 500, "unhealthy"},
		{"/ready", 2 * time.Second, 200, "ready"},
		{"/ready", 3 * time.Second, 503, "not ready"},
		{"/nope", 0, 404, "404 page not found\n"},
	} {
		code, _, body := s.Answer("p", tc.path, tc.elapsed)
		if code != tc.code || string(body) != tc.body {
			t.Errorf("GET %s after %s: %d %q, want %d %q", tc.path, tc.elapsed, code, body, tc.code, tc.body)
		}
	}
	code, ctype, body := s.Answer("p", "/status", 4500*time.Millisecond)
	var st Status
	if err := json.Unmarshal(body, &st); err != nil || code != 200 || ctype != "application/json" {
		t.Fatalf("GET /status: %d %s %q %v", code, ctype, body, err)
	}
	if want := (Status{Pod: "p", Healthy: true, Ready: false, QueueDepth: 7, UptimeSeconds: 4}); st != want {
		t.Errorf("status %+v, want %+v", st, want)
	}
	if !(Spec{}).Healthy(time.Hour) || !(Spec{}).Ready(time.Hour) || !(Spec{}).Serving(0) {
		t.Error("the default spec is healthy, ready and serving from the start")
	}
	if (Spec{StartDelay: time.Second}).Serving(999 * time.Millisecond) {
		t.Error("serving before the start delay")
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd  []string
		want string
		args []string
	}{
		{[]string{"/app/hello", "log", "preStop", "hook"}, CmdLog, []string{"preStop", "hook"}},
		{[]string{"hello", "probe", "/healthz"}, CmdProbe, []string{"/healthz"}},
		{[]string{"/app/hello", "fetch", "http://hello/"}, CmdFetch, []string{"http://hello/"}},
		{[]string{"/app/hello", "write", "/work/index.html", "prepared"}, CmdWrite, []string{"/work/index.html", "prepared"}},
		{[]string{"/app/hello"}, "", nil},
		{[]string{"/app/hello", "dance"}, "", nil},
		{[]string{"cat", "log"}, "", nil},
	} {
		got, args := Command(tc.cmd)
		if got != tc.want || !slices.Equal(args, tc.args) {
			t.Errorf("Command(%q) = %q %q, want %q %q", tc.cmd, got, args, tc.want, tc.args)
		}
	}
}

// The readiness switch: a POST to /ready/off or /ready/on sets it, and once
// set it wins over HELLO_UNREADY_AFTER, in /ready and in /status.
func TestReadinessSwitch(t *testing.T) {
	for path, want := range map[string]Switch{"/ready/off": SwitchOff, "/ready/on": SwitchOn} {
		if got, ok := SwitchFor(path); !ok || got != want {
			t.Errorf("SwitchFor(%q) = %v %v, want %v", path, got, ok, want)
		}
	}
	for _, path := range []string{"/ready", "/ready/", "/ready/maybe", "/"} {
		if _, ok := SwitchFor(path); ok {
			t.Errorf("SwitchFor(%q) is a switch", path)
		}
	}
	unready := Spec{Unready: true, UnreadyAfter: time.Second}
	for _, tc := range []struct {
		spec    Spec
		elapsed time.Duration
		sw      Switch
		code    int
		body    string
	}{
		{Spec{}, 0, SwitchNone, 200, "ready"},
		{Spec{}, 0, SwitchOff, 503, "not ready"},
		{Spec{}, 0, SwitchOn, 200, "ready"},
		{unready, 2 * time.Second, SwitchNone, 503, "not ready"},
		{unready, 2 * time.Second, SwitchOn, 200, "ready"},
		{unready, 0, SwitchOff, 503, "not ready"},
	} {
		code, _, body := tc.spec.AnswerWith("p", "/ready", tc.elapsed, tc.sw)
		if code != tc.code || string(body) != tc.body {
			t.Errorf("%+v after %s, switch %v: GET /ready %d %q, want %d %q", tc.spec, tc.elapsed, tc.sw, code, body, tc.code, tc.body)
		}
		_, _, js := tc.spec.AnswerWith("p", "/status", tc.elapsed, tc.sw)
		var st Status
		if err := json.Unmarshal(js, &st); err != nil || st.Ready != (tc.code == 200) {
			t.Errorf("%+v after %s, switch %v: /status %s (%v)", tc.spec, tc.elapsed, tc.sw, js, err)
		}
	}
	if code, _, _ := unready.Answer("p", "/ready", 2*time.Second); code != 503 {
		t.Errorf("Answer is AnswerWith the switch untouched: %d", code)
	}
}
