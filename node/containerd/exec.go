package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"github.com/gantry-sh/gantry/node/probe"
)

// execCleanup bounds the clean-up of an exec process (kill, IO, delete)
// once its command has ended or timed out.
const execCleanup = 5 * time.Second

// Exec runs cmd as a new process in the running task of the pod uid's
// container, with the container's environment, user and working directory,
// and returns its exit code and its output (capped at probe.MaxExecOutput).
// A command still running after timeout is killed (SIGKILL) and the error
// wraps context.DeadlineExceeded.
func (r *Runtime) Exec(ctx context.Context, uid, container string, cmd []string, timeout time.Duration) (int, []byte, error) {
	if len(cmd) == 0 {
		return 0, nil, fmt.Errorf("exec in container %s: no command", container)
	}
	ctx = r.nsCtx(ctx)
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	code, out, err := r.exec(ctx, containerID(uid, container), cmd)
	if err != nil {
		return code, out, fmt.Errorf("exec %q in container %s: %w", cmd, container, err)
	}
	return code, out, nil
}

func (r *Runtime) exec(ctx context.Context, id string, cmd []string) (int, []byte, error) {
	cont, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return -1, nil, fmt.Errorf("no such container")
		}
		return -1, nil, err
	}
	task, err := cont.Task(ctx, nil)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return -1, nil, fmt.Errorf("the container is not running")
		}
		return -1, nil, err
	}
	if st, err := task.Status(ctx); err != nil || st.Status != client.Running {
		return -1, nil, fmt.Errorf("the container is not running")
	}
	spec, err := cont.Spec(ctx)
	if err != nil {
		return -1, nil, fmt.Errorf("spec: %w", err)
	}
	if spec.Process == nil {
		return -1, nil, fmt.Errorf("the container's spec has no process")
	}
	pspec := *spec.Process
	pspec.Args, pspec.Terminal = cmd, false

	out := &cappedBuffer{max: probe.MaxExecOutput}
	proc, err := task.Exec(ctx, execID(), &pspec, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return -1, nil, err
	}
	// The clean-up must run when ctx has ended (a timeout): it has a
	// context of its own.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), execCleanup)
	}
	defer func() {
		cctx, cancel := cleanupCtx()
		defer cancel()
		if _, err := proc.Delete(cctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn().Err(err).Str("container", id).Str("exec", proc.ID()).Msg("delete exec process")
		}
	}()
	wctx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	exitc, err := proc.Wait(wctx)
	if err != nil {
		return -1, nil, err
	}
	if err := proc.Start(ctx); err != nil {
		return -1, nil, err
	}
	select {
	case st := <-exitc:
		code, _, err := st.Result()
		if err != nil {
			return -1, out.Bytes(), err
		}
		// The output is complete once the process's streams are closed;
		// a child it left behind holding them open is not waited for.
		waitIO(proc.IO(), execCleanup)
		return int(code), out.Bytes(), nil
	case <-ctx.Done():
		cctx, cancel := cleanupCtx()
		defer cancel()
		if err := proc.Kill(cctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn().Err(err).Str("container", id).Msg("kill a timed-out exec process")
		}
		select {
		case <-exitc:
		case <-cctx.Done():
		}
		return -1, out.Bytes(), context.Cause(ctx)
	}
}

// waitIO waits for a process's output to be copied, at most d.
func waitIO(io cio.IO, d time.Duration) {
	if io == nil {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// execID is a fresh id for an exec process (containerd's id grammar).
func execID() string {
	var b [8]byte
	rand.Read(b[:])
	return "exec-" + hex.EncodeToString(b[:])
}

// cappedBuffer keeps the first max bytes written to it by any number of
// writers (stdout and stderr copy at once) and discards the rest.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// Bytes is a copy of what was kept.
func (b *cappedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
