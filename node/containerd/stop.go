package containerd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// StopContainer stops the task of the pod uid's container: SIGTERM, then
// SIGKILL to all its processes once grace has passed (at once when grace is
// 0). The stopped task stays, with its exit status, until StartContainer
// restarts the container or RemovePod removes it. A container that does not
// run, or does not exist, is stopped already.
func (r *Runtime) StopContainer(ctx context.Context, uid, container string, grace time.Duration) error {
	ctx = r.nsCtx(ctx)
	id := containerID(uid, container)
	cont, err := r.client.LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop container %s: %w", container, err)
	}
	if err := r.stopContainer(ctx, cont, grace); err != nil {
		return fmt.Errorf("stop container %s: %w", container, err)
	}
	return nil
}

// StopPod stops every container of the pod uid together, as StopContainer
// does.
func (r *Runtime) StopPod(ctx context.Context, uid string, grace time.Duration) error {
	ctx = r.nsCtx(ctx)
	conts, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return fmt.Errorf("stop pod %s: list containers: %w", uid, err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range conts {
		wg.Go(func() {
			if err := r.stopContainer(ctx, c, grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop pod %s: %w", uid, err)
	}
	return nil
}

func (r *Runtime) stopContainer(ctx context.Context, c client.Container, grace time.Duration) error {
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task of %s: %w", c.ID(), err)
	}
	return r.stopTask(ctx, c.ID(), task, max(grace, 0))
}
