package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Stopper is the runtime's graceful stop of one container: SIGTERM, then
// SIGKILL once grace has passed (at once when grace is 0); it returns once
// the container has stopped.
type Stopper interface {
	StopContainer(ctx context.Context, uid, container string, grace time.Duration) error
}

// MinGraceAfterPreStop is the least a container is given to stop on SIGTERM
// after its preStop hook used up the grace period, as the kubelet's 2 s.
const MinGraceAfterPreStop = 2 * time.Second

// For is t made the target of container c of its pod.
func (t Target) For(c manifest.Container) Target {
	t.Container, t.Ports = c.Name, c.Ports
	return t
}

// Stop stops container c gracefully, as the kubelet kills a container: its
// preStop hook runs first, bounded by the grace period; then the runtime
// sends SIGTERM and, once what is left of the grace period has passed (at
// least MinGraceAfterPreStop after a hook), SIGKILL. A hook that fails does
// not hold the stop up. A grace period of 0 runs no hook and kills at once.
// It returns the hook's result (nil when none ran) and the stop's error.
func Stop(ctx context.Context, ck Checker, st Stopper, t Target, c manifest.Container, grace time.Duration) (*Result, error) {
	t = t.For(c)
	grace = max(grace, 0)
	var hook *Result
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && grace > 0 {
		start := time.Now()
		hctx, cancel := context.WithTimeout(ctx, grace)
		r := ck.Hook(hctx, t, PreStop, *c.Lifecycle.PreStop)
		cancel()
		hook = &r
		grace = max(grace-time.Since(start), MinGraceAfterPreStop)
	}
	if err := st.StopContainer(ctx, t.UID, c.Name, grace); err != nil {
		return hook, fmt.Errorf("stop %s: %w", t, err)
	}
	return hook, nil
}

// StopPod stops the containers cs of the pod t together, each as Stop
// does, as the kubelet stops a pod's containers. A failed preStop hook is
// logged.
func StopPod(ctx context.Context, log zerolog.Logger, ck Checker, st Stopper, t Target, cs []manifest.Container, grace time.Duration) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range cs {
		wg.Go(func() {
			hook, err := Stop(ctx, ck, st, t, c, grace)
			if hook != nil && !hook.Success {
				log.Warn().Str("pod", t.Namespace+"/"+t.Pod).Str("container", c.Name).Str("output", hook.Output).
					Msg("preStop hook failed; stopping the container anyway")
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
