// Package probe runs a container's probes and lifecycle hooks on the node:
// the handlers that make one check (exec, httpGet, tcpSocket, grpc, and
// sleep for hooks), the prober that turns a container's check results into
// the changes the agent acts on (started, ready, not ready, kill), and the
// graceful stop of a container (preStop hook, SIGTERM, SIGKILL at the
// deadline).
//
// As the kubelet does, the network checks (httpGet, tcpSocket, grpc) are
// made from the host to the pod's IP, which the host reaches through the
// pods' bridge; exec runs the command in the container through the runtime.
package probe

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/probecheck"
)

// Kind is which of a container's probes a check is.
type Kind string

// The probe kinds, as Kubernetes names them.
const (
	Startup   Kind = "startup"
	Liveness  Kind = "liveness"
	Readiness Kind = "readiness"
)

// Hook names a lifecycle hook.
type Hook string

// The lifecycle hooks.
const (
	PostStart Hook = "postStart"
	PreStop   Hook = "preStop"
)

// Target is the container a check runs against.
type Target struct {
	Namespace string
	Pod       string
	UID       string
	// IP is the pod's address: where httpGet, tcpSocket and grpc connect
	// unless the handler names a host.
	IP        string
	Container string
	// Ports are the container's declared ports, which a port by name
	// resolves against.
	Ports []manifest.ContainerPort
}

func (t Target) String() string {
	return t.Namespace + "/" + t.Pod + " container " + t.Container
}

// Result is the outcome of one check.
type Result struct {
	Success bool
	// Output says why a check failed, or what an exec check printed
	// (capped); it becomes the message of the change a failure causes.
	Output string
}

// Failure is a failed result whose output is the formatted message.
func Failure(format string, args ...any) Result {
	return Result{Output: fmt.Sprintf(format, args...)}
}

// Checker runs checks and hooks against containers. Host makes them for
// real; the simulated runtime answers them itself.
type Checker interface {
	// Check runs probe p (its handler, within its timeoutSeconds) once.
	Check(ctx context.Context, t Target, kind Kind, p manifest.Probe) Result
	// Hook runs a lifecycle hook's handler until it ends or ctx does.
	Hook(ctx context.Context, t Target, hook Hook, h manifest.LifecycleHandler) Result
}

// Execer runs a command in a running container and returns its exit code
// and its output (stdout and stderr, capped), within timeout: the
// runtime's Exec.
type Execer interface {
	Exec(ctx context.Context, uid, container string, cmd []string, timeout time.Duration) (code int, output []byte, err error)
}

// MaxExecOutput is how much of an exec check's output is kept, as the
// kubelet keeps 10 KiB.
const MaxExecOutput = 10 << 10

// MaxBody is how much of an httpGet check's response body is read: what a
// CEL check sees as response.body and response.json.
const MaxBody = probecheck.MaxBodyBytes

// timeout is a probe's timeoutSeconds as a duration (default 1 s).
func timeout(p manifest.Probe) time.Duration {
	return time.Duration(p.WithDefaults().TimeoutSeconds) * time.Second
}
