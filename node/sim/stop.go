package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/deploy/images/hello/behaviour"
)

// Exit codes of a stopped container.
const (
	exitSIGKILL = 128 + 9
	exitSIGTERM = 128 + 15
)

// StopContainer implements node.Runtime: the container ends at once as the
// demo image does on SIGTERM, or, when it ignores SIGTERM
// (HELLO_IGNORE_SIGTERM=true), killed when grace has passed on the runtime's
// clock. A container waiting out StartDelay does not start.
func (r *Runtime) StopContainer(ctx context.Context, uid, container string, grace time.Duration) error {
	done := r.stop(uid, container, grace)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop container %s: %w", container, ctx.Err())
	}
}

// StopPod implements node.Runtime: every container of the pod as
// StopContainer stops it, together.
func (r *Runtime) StopPod(ctx context.Context, uid string, grace time.Duration) error {
	r.mu.Lock()
	var names []string
	if p := r.pods[uid]; p != nil {
		for _, c := range p.Containers {
			names = append(names, c.Name)
		}
	}
	r.mu.Unlock()
	var waits []<-chan struct{}
	for _, n := range names {
		waits = append(waits, r.stop(uid, n, grace))
	}
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return fmt.Errorf("stop pod %s: %w", uid, ctx.Err())
		}
	}
	return nil
}

// closed is a channel that is closed: a stop already done.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// stop sends the container SIGTERM (SIGKILL when grace is 0) and returns a
// channel closed once it has ended.
func (r *Runtime) stop(uid, container string, grace time.Duration) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := uid + "/" + container
	if stop := r.starting[k]; stop != nil {
		stop()
		delete(r.starting, k)
	}
	p := r.pods[uid]
	if p == nil {
		return closed
	}
	for i := range p.Containers {
		cs := &p.Containers[i]
		if cs.Name != container || !cs.Running {
			continue
		}
		now := r.cfg.Clock()
		ru := r.runs[k]
		r.logs[k] = append(r.logs[k], r.ticks(k, cs, 0, now)...)
		if grace <= 0 {
			r.exit(uid, cs, exitSIGKILL, now)
			r.signal()
			return closed
		}
		if ru != nil && ru.invalid == nil && ru.spec.IgnoreSIGTERM {
			r.logs[k] = append(r.logs[k], behaviour.Stamp(now, "hello: SIGTERM ignored ("+behaviour.EnvIgnoreSIGTERM+"=true)")...)
			done := make(chan struct{})
			restarts := cs.Restarts
			r.cfg.AfterFunc(grace, func() { r.killed(uid, container, restarts, done) })
			return done
		}
		code := int32(0)
		if ru != nil && ru.invalid == nil && ru.spec.Outcome().Ends {
			code = exitSIGTERM
		}
		r.logs[k] = append(r.logs[k], behaviour.Stamp(now, "hello: shutting down")...)
		r.logs[k] = append(r.logs[k], behaviour.Stamp(now, "hello: stopped")...)
		r.exit(uid, cs, code, now)
		r.signal()
		return closed
	}
	return closed
}

// killed ends a container that ignored SIGTERM at the end of its grace
// period, unless it ended or was removed or restarted meanwhile.
func (r *Runtime) killed(uid, container string, restarts int32, done chan struct{}) {
	defer close(done)
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pods[uid]
	if p == nil {
		return
	}
	for i := range p.Containers {
		if cs := &p.Containers[i]; cs.Name == container && cs.Running && cs.Restarts == restarts {
			now := r.cfg.Clock()
			k := uid + "/" + container
			r.logs[k] = append(r.logs[k], r.ticks(k, cs, 0, now)...)
			r.exit(uid, cs, exitSIGKILL, now)
			r.signal()
		}
	}
}
