// Package node is the node agent: it registers its machine, heartbeats, reads
// the decisions addressed to it and makes pods real through a Runtime.
package node

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Pod is what the agent asks a runtime to run: one binding of one pod.
type Pod struct {
	Namespace   string
	Name        string
	UID         string
	Epoch       int64
	Labels      map[string]string
	Annotations map[string]string
	Spec        manifest.PodSpec
	// Mounts and Env are what Volumes resolved for each container, by
	// name: the runtime binds Mounts and sets Env (nil: the container's
	// literal env). The simulated runtime ignores them.
	Mounts map[string][]Mount
	Env    map[string][]string
}

// PodState is what a runtime holds for one pod, running or not. Everything in
// it must survive a restart of the agent (the runtime keeps it in labels or on
// disk), so a restarted agent adopts pods instead of starting them again.
type PodState struct {
	Namespace  string
	Name       string
	UID        string
	Epoch      int64
	IP         string
	Containers []ContainerState
}

// ByName is the pod's containers by name (init containers too).
func (p PodState) ByName() map[string]ContainerState {
	m := make(map[string]ContainerState, len(p.Containers))
	for _, c := range p.Containers {
		m[c.Name] = c
	}
	return m
}

// ContainerState is one container of a pod as the runtime sees it.
type ContainerState struct {
	Name       string
	ID         string // runtime's container id, stable across restarts of the container
	Image      string
	Running    bool
	Exited     bool // a task ran and ended
	ExitCode   int32
	Restarts   int32 // how many times StartContainer restarted it
	StartedAt  time.Time
	FinishedAt time.Time
	// OOMKilled: the exited instance was killed by the kernel's OOM killer
	// (read from its memory cgroup, not guessed from its exit code).
	OOMKilled bool
	// Last is how the instance before this one ended; nil before the first
	// restart.
	Last *Termination
	// Unready holds a running instance not ready whatever its probes say:
	// only the simulated runtime's readiness delay sets it.
	Unready bool
}

// Termination is how one instance of a container ended.
type Termination struct {
	ExitCode   int32
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// Ended is how the exited instance of c ended; nil while it has not exited.
func (c ContainerState) Ended() *Termination {
	if !c.Exited {
		return nil
	}
	return &Termination{ExitCode: c.ExitCode, OOMKilled: c.OOMKilled, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt}
}

// LogOptions says which of a container's logs Logs writes, and how.
type LogOptions struct {
	// Follow keeps writing what the container prints until ctx ends.
	Follow bool
	// Previous asks for the log of the instance that ran before the
	// container's last restart. A restart keeps that one (one, as the
	// kubelet does) and starts the new instance's log empty.
	Previous bool
}

// ErrNoPreviousLog classifies a request for the previous log of a container
// that has not been restarted: there is none.
var ErrNoPreviousLog = errors.New("no previous log")

// ErrImageNotFound classifies a container that cannot start because its image
// is neither in the store nor pullable. The agent reports it as ErrImagePull.
var ErrImageNotFound = errors.New("image not found")

// Runtime runs pods on one machine. Two implementations: containerd
// (node/containerd) and a simulated one for scale tests (node/sim). Every
// method takes ctx first and is idempotent: asking again for what is already
// so is success.
type Runtime interface {
	// Name is "containerd" or "simulated".
	Name() string
	// Capacity is what the machine offers: cpu in millicores, memory in bytes.
	Capacity(ctx context.Context) (map[string]int64, error)
	// Pods lists every pod the runtime holds for Gantry, running or exited.
	Pods(ctx context.Context) ([]PodState, error)
	// Pod returns one pod's state by uid; false when the runtime holds nothing
	// of it.
	Pod(ctx context.Context, uid string) (PodState, bool, error)
	// CreateSandbox makes the pod's shared network namespace with an IP and
	// returns the IP; if the sandbox exists it returns the existing IP.
	CreateSandbox(ctx context.Context, pod Pod) (string, error)
	// StartContainer creates container c of pod (if missing) and starts a task
	// for it in the sandbox; if the container's task has exited it starts a new
	// task (a restart) and counts it. A running task is left alone.
	StartContainer(ctx context.Context, pod Pod, c manifest.Container) error
	// RemovePod stops every container of the pod and deletes containers,
	// tasks, snapshots, the sandbox's network and its logs.
	RemovePod(ctx context.Context, namespace, name, uid string) error
	// Logs writes a container's log to w: the current instance's, or with
	// opts.Previous the one before its last restart (ErrNoPreviousLog when
	// there is none); with opts.Follow it keeps writing until ctx ends.
	Logs(ctx context.Context, namespace, name, container string, opts LogOptions, w io.Writer) error
	// Changes signals (without blocking the sender) when a container exits,
	// so the agent re-reads Pods without waiting for its resync.
	Changes() <-chan struct{}
	// Exec runs cmd in the running container of the pod uid, with the
	// container's environment, and returns its exit code and its output
	// (stdout and stderr together, at most probe.MaxExecOutput bytes). A
	// command still running after timeout (0: until ctx ends) is killed and
	// the error wraps context.DeadlineExceeded. Probes and hooks use it.
	Exec(ctx context.Context, uid, container string, cmd []string, timeout time.Duration) (code int, output []byte, err error)
	// StopContainer stops a container gracefully: SIGTERM, then SIGKILL to
	// all of its processes once grace has passed (SIGKILL at once when grace
	// is 0); it returns once the container has stopped. The container stays,
	// exited, for StartContainer to restart or RemovePod to remove. Stopping
	// a container that does not run is success. The preStop hook is the
	// caller's (probe.Stop).
	StopContainer(ctx context.Context, uid, container string, grace time.Duration) error
	// StopPod stops every running container of the pod uid together, as
	// StopContainer does.
	StopPod(ctx context.Context, uid string, grace time.Duration) error
}
