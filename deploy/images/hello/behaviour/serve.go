package behaviour

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"time"
)

// The paths the demo image serves.
const (
	PathRoot    = "/"        // "hello from <pod>"
	PathHealthz = "/healthz" // 200 "ok"; 500 "unhealthy" from EnvUnhealthyAfter on
	PathReady   = "/ready"   // 200 "ready"; 503 "not ready" from EnvUnreadyAfter on, or as the switch says
	PathStatus  = "/status"  // 200 and a Status as JSON

	// PathReadyOff and PathReadyOn are the readiness switch: a POST to
	// /ready/off makes /ready answer 503 from then on, one to /ready/on
	// makes it answer 200, whatever EnvUnreadyAfter says. Tests flip a
	// pod's readiness back and forth with it (benchmark B7).
	PathReadyOff = "/ready/off"
	PathReadyOn  = "/ready/on"
)

// Switch is where the readiness switch stands: SwitchNone until a POST to
// PathReadyOff or PathReadyOn, then what the last one said.
type Switch int32

const (
	SwitchNone Switch = iota // /ready follows EnvUnreadyAfter
	SwitchOn                 // /ready answers 200
	SwitchOff                // /ready answers 503
)

func (w Switch) String() string {
	switch w {
	case SwitchOn:
		return "on"
	case SwitchOff:
		return "off"
	}
	return "none"
}

// SwitchFor is the position a POST to path sets, and false when path is
// not the switch's.
func SwitchFor(path string) (Switch, bool) {
	switch path {
	case PathReadyOn:
		return SwitchOn, true
	case PathReadyOff:
		return SwitchOff, true
	}
	return SwitchNone, false
}

// The demo image's commands, run as `hello <command> <args>` (by exec
// probes and hooks in its container).
const (
	// CmdLog writes its arguments as one line to the container's log (the
	// standard output of the container's first process, /proc/1/fd/1),
	// stamped as the program's own lines and prefixed "hello: ".
	CmdLog = "log"
	// CmdProbe GETs a path of the server in the same container and exits 0
	// when it answers 200 to 399, else 1: an exec probe.
	CmdProbe = "probe"
	// CmdFetch GETs a URL, names resolved as the container resolves them
	// (its /etc/resolv.conf), prints the body and exits 0 when it answers
	// 200 to 399, else 1: a client inside a pod.
	CmdFetch = "fetch"
	// CmdWrite writes its second and later arguments, joined by spaces, as
	// one line to the file its first names: an init container preparing a
	// volume that the server then serves under /files/ (FilesDirEnv).
	CmdWrite = "write"
)

// FilesDirEnv names the directory the server serves under /files/ (unset:
// none, /files/ is 404). Not a HELLO_ variable: it shapes no behaviour.
const FilesDirEnv = "FILES_DIR"

// Program is the demo image's program name, the base name of its path in
// the image (/app/hello).
const Program = "hello"

// Command is the demo image's command a container's exec asks for: the
// command and its arguments, or "" when cmd runs something else.
func Command(cmd []string) (string, []string) {
	if len(cmd) < 2 || path.Base(cmd[0]) != Program {
		return "", nil
	}
	switch cmd[1] {
	case CmdLog, CmdProbe, CmdFetch, CmdWrite:
		return cmd[1], cmd[2:]
	}
	return "", nil
}

// Serving reports whether the server listens after the run has lasted
// elapsed: from EnvStartDelay on.
func (s Spec) Serving(elapsed time.Duration) bool { return elapsed >= s.StartDelay }

// Healthy reports whether /healthz answers 200 after elapsed.
func (s Spec) Healthy(elapsed time.Duration) bool {
	return !s.Unhealthy || elapsed < s.UnhealthyAfter
}

// Ready reports whether /ready answers 200 after elapsed, with the switch
// untouched.
func (s Spec) Ready(elapsed time.Duration) bool {
	return !s.Unready || elapsed < s.UnreadyAfter
}

// ReadyWith reports whether /ready answers 200 after elapsed with the
// readiness switch at w: the switch, once set, wins.
func (s Spec) ReadyWith(elapsed time.Duration, w Switch) bool {
	switch w {
	case SwitchOn:
		return true
	case SwitchOff:
		return false
	}
	return s.Ready(elapsed)
}

// Status is what /status answers, as JSON.
type Status struct {
	Pod           string `json:"pod"`
	Healthy       bool   `json:"healthy"`
	Ready         bool   `json:"ready"`
	QueueDepth    int    `json:"queue_depth"`
	UptimeSeconds int64  `json:"uptime_seconds"`
}

// Answer is the server's answer to GET path after the run has lasted
// elapsed, for the pod named pod: its status code, content type and body.
// The simulated runtime answers probes with it (it has no switch).
func (s Spec) Answer(pod, path string, elapsed time.Duration) (int, string, []byte) {
	return s.AnswerWith(pod, path, elapsed, SwitchNone)
}

// AnswerWith is Answer with the readiness switch at w, as the program
// serves it.
func (s Spec) AnswerWith(pod, path string, elapsed time.Duration, w Switch) (int, string, []byte) {
	const text = "text/plain; charset=utf-8"
	switch path {
	case PathRoot:
		return http.StatusOK, text, fmt.Appendf(nil, "hello from %s\n", pod)
	case PathHealthz:
		if !s.Healthy(elapsed) {
			return http.StatusInternalServerError, text, []byte("unhealthy")
		}
		return http.StatusOK, text, []byte("ok")
	case PathReady:
		if !s.ReadyWith(elapsed, w) {
			return http.StatusServiceUnavailable, text, []byte("not ready")
		}
		return http.StatusOK, text, []byte("ready")
	case PathStatus:
		b, _ := json.Marshal(Status{Pod: pod, Healthy: s.Healthy(elapsed), Ready: s.ReadyWith(elapsed, w),
			QueueDepth: s.QueueDepth, UptimeSeconds: int64(elapsed / time.Second)})
		return http.StatusOK, "application/json", append(b, '\n')
	}
	return http.StatusNotFound, text, []byte("404 page not found\n")
}
