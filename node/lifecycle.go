package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

// maxChecks bounds how many probe checks of a node run at once.
const maxChecks = 32

// lifecycle runs what outlasts a reconcile, each on a goroutine of its own:
// the probes of running containers (one goroutine per probed container, at
// most maxChecks checks at once), postStart hooks, the kills a probe or hook
// condemned a container to, and graceful terminations of pods (preStop,
// SIGTERM, SIGKILL at the deadline). The planner reads what they found
// (facts) and decides; the executor starts them. When one of them changes
// what the planner reads, it kicks the agent's loop to plan again.
type lifecycle struct {
	rt      Runtime
	checker probe.Checker
	log     zerolog.Logger
	clock   func() time.Time
	kick    func()
	checks  chan struct{} // a slot per running check

	ctx    context.Context // ends when the agent stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	runs  map[string]*containerRun   // containerKey → its newest instance's
	terms map[string]*podTermination // pod uid → its graceful stop
	// drain, when set, returns once the pod ns/name receives no more
	// Service traffic (or its context ends): a graceful stop waits for it,
	// at most DrainWait, before the containers get their signal.
	drain func(ctx context.Context, ns, name string)
}

// setDrain sets the wait of a graceful stop for the pod to leave the
// Services' endpoints.
func (lc *lifecycle) setDrain(drain func(ctx context.Context, ns, name string)) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.drain = drain
}

// containerRun is what the agent runs for one container instance.
type containerRun struct {
	startedAt time.Time
	target    probe.Target
	spec      manifest.Container
	// stop ends the instance's probe loop and hook.
	stop      chan struct{}
	stopped   bool
	probing   bool
	postStart bool
	ready     bool
	kill      *Kill
	killing   bool
	previous  *Kill
}

// podTermination is the graceful stop of one pod.
type podTermination struct {
	done bool
}

func newLifecycle(rt Runtime, log zerolog.Logger, clock func() time.Time, kick func()) *lifecycle {
	checker, ok := rt.(probe.Checker)
	if !ok {
		checker = probe.NewHost(rt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &lifecycle{rt: rt, checker: checker, log: log, clock: clock, kick: kick, checks: make(chan struct{}, maxChecks),
		ctx: ctx, cancel: cancel, runs: map[string]*containerRun{}, terms: map[string]*podTermination{}}
}

// close stops every goroutine and waits for them.
func (lc *lifecycle) close() {
	lc.cancel()
	lc.wg.Wait()
}

// probed reports whether a container has probes to run.
func probed(c manifest.Container) bool {
	return c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil
}

// readyAtStart is a container's readiness before any probe ran: ready
// unless a readiness or startup probe must pass first.
func readyAtStart(c manifest.Container) bool {
	return c.ReadinessProbe == nil && c.StartupProbe == nil
}

// sync follows the running containers of the pods bound here: a new
// instance gets its probes (it keeps why its predecessor was killed, for its
// status), the probes of an instance that is gone stop, and what is known of
// an exited instance is kept until its container starts again or its pod
// goes. An instance the agent finds running that the log says was ready
// (wasReady: after a restart of the agent) is taken up ready.
func (lc *lifecycle) sync(desired map[string]*binding, actual []PodState, wasReady func(PodState, ContainerState) bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range actual {
		b := desired[key(p.Namespace, p.Name)]
		if b == nil || b.deleted || b.bound.Pod.UID != p.UID || lc.terms[p.UID] != nil {
			continue
		}
		for _, cs := range p.Containers {
			ck := containerKey(p.UID, cs.Name)
			r := lc.runs[ck]
			if r != nil && r.startedAt.Equal(cs.StartedAt) {
				seen[ck] = true
				continue
			}
			if !cs.Running {
				continue
			}
			c := containerOf(b.bound.Pod.Spec, cs.Name)
			if !probed(c) && (r == nil || r.kill == nil) {
				continue // nothing to run, nothing to carry over: no record
			}
			nr := &containerRun{startedAt: cs.StartedAt, spec: c, stop: make(chan struct{}), ready: readyAtStart(c),
				target: probe.Target{Namespace: p.Namespace, Pod: p.Name, UID: p.UID, IP: p.IP}.For(c)}
			resume := false
			if r != nil {
				lc.stopRun(r)
				nr.previous = r.kill
			} else if !nr.ready && wasReady(p, cs) {
				nr.ready, resume = true, true
			}
			lc.runs[ck] = nr
			seen[ck] = true
			if probed(c) {
				lc.startProbes(nr, resume)
			}
		}
	}
	for ck, r := range lc.runs {
		if !seen[ck] {
			lc.stopRun(r)
			delete(lc.runs, ck)
		}
	}
}

// stopRun ends an instance's probes and hook. lc.mu is held.
func (lc *lifecycle) stopRun(r *containerRun) {
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
}

// facts is what is known of every container instance, for the planner.
func (lc *lifecycle) facts() map[string]ProbeResult {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	out := make(map[string]ProbeResult, len(lc.runs))
	for ck, r := range lc.runs {
		out[ck] = ProbeResult{StartedAt: r.startedAt, Ready: r.ready && !r.postStart && r.kill == nil,
			PostStart: r.postStart, Kill: r.kill, Killing: r.killing, Previous: r.previous}
	}
	return out
}

// postStart runs the postStart hook of the instance of container c that
// started at startedAt; its probes start once the hook has passed, a failed
// hook condemns the instance, as the kubelet kills a container whose
// postStart hook failed.
func (lc *lifecycle) postStart(t probe.Target, c manifest.Container, startedAt time.Time) {
	lc.mu.Lock()
	ck := containerKey(t.UID, c.Name)
	r := &containerRun{startedAt: startedAt, spec: c, target: t.For(c), stop: make(chan struct{}), ready: readyAtStart(c), postStart: true}
	if old := lc.runs[ck]; old != nil {
		if old.startedAt.Equal(startedAt) {
			lc.mu.Unlock()
			return // already running it
		}
		lc.stopRun(old)
		r.previous = old.kill
	}
	lc.runs[ck] = r
	lc.mu.Unlock()

	lc.wg.Go(func() {
		ctx, cancel := lc.runContext(r)
		defer cancel()
		res := lc.checker.Hook(ctx, r.target, probe.PostStart, *c.Lifecycle.PostStart)
		lc.mu.Lock()
		r.postStart = false
		switch {
		case r.stopped:
		case !res.Success:
			r.kill = &Kill{StartedAt: startedAt, Reason: "FailedPostStartHook",
				Message: fmt.Sprintf("container %s: its postStart hook failed: %s", c.Name, res.Output)}
			lc.log.Warn().Str("pod", r.target.Namespace+"/"+r.target.Pod).Str("container", c.Name).Str("output", res.Output).
				Msg("postStart hook failed; killing the container")
		case probed(c):
			lc.startProbes(r, false)
		}
		lc.mu.Unlock()
		lc.kick()
	})
}

// runContext is a context that ends when the agent stops or the instance's
// probes and hook do.
func (lc *lifecycle) runContext(r *containerRun) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(lc.ctx)
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// checkResult is one check's result.
type checkResult struct {
	kind probe.Kind
	res  probe.Result
}

// startProbes runs the instance's probes until it stops; resume takes up
// an instance that was ready (probe.Prober.Resume). lc.mu is held.
func (lc *lifecycle) startProbes(r *containerRun, resume bool) {
	if r.probing {
		return
	}
	r.probing = true
	pr := probe.NewProber(r.spec, r.startedAt)
	if resume {
		pr.Resume()
	}
	lc.wg.Go(func() { lc.probeLoop(r, pr) })
}

// probeLoop is one instance's prober: it runs each check when due, feeds
// the results to the prober and applies what they change. Only this
// goroutine touches pr.
func (lc *lifecycle) probeLoop(r *containerRun, pr *probe.Prober) {
	ctx, cancel := lc.runContext(r)
	defer cancel()
	results := make(chan checkResult)
	var checks sync.WaitGroup
	defer checks.Wait()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Stop()
		if next, ok := pr.Next(); ok {
			timer.Reset(max(next.Sub(lc.clock()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			for _, kind := range pr.Begin(lc.clock()) {
				p, _ := pr.Spec(kind)
				checks.Go(func() {
					select {
					case lc.checks <- struct{}{}:
					case <-ctx.Done():
						return
					}
					res := lc.checker.Check(ctx, r.target, kind, p)
					<-lc.checks
					select {
					case results <- checkResult{kind, res}:
					case <-ctx.Done():
					}
				})
			}
		case cr := <-results:
			trs := pr.Observe(cr.kind, lc.clock(), cr.res)
			if len(trs) == 0 {
				continue
			}
			lc.mu.Lock()
			if !r.stopped {
				r.ready = pr.Ready()
				for _, tr := range trs {
					lc.log.Info().Str("pod", r.target.Namespace+"/"+r.target.Pod).Str("container", r.spec.Name).
						Str("probe", string(tr.Probe)).Stringer("change", tr.Change).Str("message", tr.Message).Msg("probe")
					if tr.Change == probe.Kill {
						r.kill = &Kill{StartedAt: r.startedAt, Reason: string(tr.Probe), GracePeriodSeconds: tr.GracePeriodSeconds,
							Message: fmt.Sprintf("container %s failed its %s probe: %s", r.spec.Name, tr.Probe, strings.TrimSpace(tr.Message))}
					}
				}
			}
			lc.mu.Unlock()
			lc.kick()
		}
	}
}

// kill stops a condemned instance (preStop hook, SIGTERM, SIGKILL after
// grace) on its own goroutine, once; the planner restarts it per the
// restart policy once it has exited.
func (lc *lifecycle) kill(uid, container string, startedAt time.Time, grace time.Duration) {
	lc.mu.Lock()
	r := lc.runs[containerKey(uid, container)]
	if r == nil || !r.startedAt.Equal(startedAt) || r.killing {
		lc.mu.Unlock()
		return
	}
	r.killing = true
	lc.stopRun(r)
	why := ""
	if r.kill != nil {
		why = r.kill.Message
	}
	lc.mu.Unlock()
	lc.log.Info().Str("pod", r.target.Namespace+"/"+r.target.Pod).Str("container", container).Dur("grace", grace).
		Str("reason", why).Msg("killing container")
	lc.wg.Go(func() {
		if _, err := probe.Stop(lc.ctx, lc.checker, lc.rt, r.target, r.spec, grace); err != nil && lc.ctx.Err() == nil {
			lc.log.Error().Err(err).Str("pod", r.target.Namespace+"/"+r.target.Pod).Str("container", container).Msg("kill container")
			lc.mu.Lock()
			r.killing = false // planned again
			lc.mu.Unlock()
		}
		lc.kick()
	})
}

// terminate stops the pod uid gracefully on its own goroutine, once: after
// it has left the Services' endpoints (drain, at most DrainWait of its
// grace), each of containers (the running ones, with their preStop hooks)
// as probe.Stop does, or, without them, every container of the pod
// without hooks. It
// reports whether the stop is over, so the pod can be removed.
func (lc *lifecycle) terminate(t probe.Target, containers []manifest.Container, grace time.Duration) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if term := lc.terms[t.UID]; term != nil {
		return term.done
	}
	term := &podTermination{}
	lc.terms[t.UID] = term
	for ck, r := range lc.runs {
		if strings.HasPrefix(ck, t.UID+"/") {
			lc.stopRun(r)
		}
	}
	lc.log.Info().Str("pod", t.Namespace+"/"+t.Pod).Str("uid", t.UID).Dur("grace", grace).Msg("stopping pod")
	drain := lc.drain
	lc.wg.Go(func() {
		if drain != nil && grace > 0 {
			start := time.Now()
			dctx, cancel := context.WithTimeout(lc.ctx, min(grace, DrainWait))
			drain(dctx, t.Namespace, t.Pod)
			cancel()
			grace = max(grace-time.Since(start), 0)
		}
		var err error
		if len(containers) > 0 {
			err = probe.StopPod(lc.ctx, lc.log, lc.checker, lc.rt, t, containers, grace)
		} else {
			err = lc.rt.StopPod(lc.ctx, t.UID, grace)
		}
		lc.mu.Lock()
		if err != nil {
			if lc.ctx.Err() == nil {
				lc.log.Error().Err(err).Str("pod", t.Namespace+"/"+t.Pod).Msg("stop pod")
			}
			delete(lc.terms, t.UID) // tried again by the next plan
		} else {
			term.done = true
		}
		lc.mu.Unlock()
		lc.kick()
	})
	return false
}

// forget drops all that is kept of pod uid, once it is removed.
func (lc *lifecycle) forget(uid string) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	delete(lc.terms, uid)
	for ck, r := range lc.runs {
		if strings.HasPrefix(ck, uid+"/") {
			lc.stopRun(r)
			delete(lc.runs, ck)
		}
	}
}
