package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/gantry-sh/gantry/node/network"
)

// RemovePod stops every container of the pod (SIGTERM, SIGKILL after
// StopTimeout), deletes tasks, containers and snapshots, detaches the
// sandbox from the network, removes its namespace, its files and the pod's
// logs. Removing what is gone is success.
func (r *Runtime) RemovePod(ctx context.Context, namespace, name, uid string) error {
	if uid == "" {
		return fmt.Errorf("remove pod %s/%s: uid is required", namespace, name)
	}
	ctx = r.nsCtx(ctx)
	unlock := r.lockPod(uid)
	defer unlock()
	if err := r.removePod(ctx, namespace, name, uid); err != nil {
		return fmt.Errorf("remove pod %s/%s: %w", namespace, name, err)
	}
	return nil
}

func (r *Runtime) removePod(ctx context.Context, namespace, name, uid string) error {
	conts, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	// Containers stop together, as the kubelet stops a pod's containers.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range conts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.removeContainer(ctx, c); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	id := sandboxID(uid)
	rec, err := r.loadSandbox(id)
	if err != nil {
		return err
	}
	nsPath := r.net.NetNSPath(id)
	if rec != nil && rec.NetNS != "" {
		nsPath = rec.NetNS
	}
	if err := r.net.Teardown(ctx, id, nsPath); err != nil {
		return err
	}
	if err := network.RemoveNetNS(nsPath); err != nil {
		return err
	}
	if err := os.RemoveAll(r.logDir(namespace, name, uid)); err != nil {
		return fmt.Errorf("remove logs: %w", err)
	}
	if rec != nil && (rec.Namespace != namespace || rec.Name != name) {
		if err := os.RemoveAll(r.logDir(rec.Namespace, rec.Name, uid)); err != nil {
			return fmt.Errorf("remove logs: %w", err)
		}
	}
	// The record goes last: while it exists, a retry knows what to clean.
	if err := os.RemoveAll(r.sandboxDir(id)); err != nil {
		return fmt.Errorf("remove sandbox dir: %w", err)
	}
	if len(conts) > 0 || rec != nil {
		r.log.Info().Str("pod", namespace+"/"+name).Str("uid", uid).Int("containers", len(conts)).Msg("pod removed")
	}
	return nil
}

// removeContainer stops the task of c (SIGTERM, then SIGKILL after
// StopTimeout), deletes it, and deletes c with its snapshot.
func (r *Runtime) removeContainer(ctx context.Context, c client.Container) error {
	id := c.ID()
	task, err := c.Task(ctx, nil)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("task of %s: %w", id, err)
	default:
		if err := r.stopTask(ctx, id, task, r.cfg.StopTimeout); err != nil {
			return err
		}
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task of %s: %w", id, err)
		}
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// stopTask ends a running task: SIGTERM to its main process, SIGKILL to all
// of its processes once grace has passed (at once when grace is 0).
func (r *Runtime) stopTask(ctx context.Context, id string, task client.Task, grace time.Duration) error {
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task of %s: %w", id, err)
	}
	if st.Status == client.Stopped || st.Status == client.Created {
		return nil
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exitc, err := task.Wait(wctx)
	if err != nil {
		return fmt.Errorf("wait task of %s: %w", id, err)
	}
	if st.Status == client.Paused {
		if err := task.Resume(ctx); err != nil && !errdefs.IsNotFound(err) {
			r.log.Warn().Err(err).Str("container", id).Msg("resume paused task before stopping it")
		}
	}
	if grace > 0 {
		if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("sigterm %s: %w", id, err)
		}
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-exitc:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("stop %s: %w", id, ctx.Err())
		case <-timer.C:
		}
		r.log.Info().Str("container", id).Dur("grace", grace).Msg("container still runs at the end of its grace period; killing it")
	}
	if err := task.Kill(ctx, syscall.SIGKILL, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("sigkill %s: %w", id, err)
	}
	select {
	case <-exitc:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop %s: %w", id, ctx.Err())
	}
}
