package node

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/probe"
)

// reconcile makes the runtime match the decisions: it reads the runtime,
// plans (planner.go) and executes the plan. The reports of one reconcile are
// stored together (publishReports) before it returns.
func (a *Agent) reconcile(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	a.rcMu.Lock()
	a.rcCancel = cancel
	a.rcMu.Unlock()
	defer func() {
		a.rcMu.Lock()
		a.rcCancel = nil
		a.rcMu.Unlock()
		cancel()
	}()
	actual, err := a.rt.Pods(ctx)
	if err != nil {
		a.log.Error().Err(err).Msg("list pods")
		return
	}
	a.lc.sync(a.desired, actual, a.reportedReady)
	w := a.world(actual)
	a.execute(ctx, w, plan(a.backoffPolicy(), w))
	a.syncVolumes(ctx, actual)
}

// world is what the planner sees now, the runtime holding actual.
func (a *Agent) world(actual []PodState) World {
	a.rmu.Lock()
	removed := maps.Clone(a.removed)
	a.rmu.Unlock()
	return World{Now: a.cfg.Clock(), Desired: a.desired, Actual: actual, Backoff: a.backoff, Removed: removed,
		Probes: a.lc.facts(), Fenced: a.fenced.Load()}
}

func (a *Agent) backoffPolicy() backoffPolicy {
	return backoffPolicy{Base: a.cfg.BackoffBase, Max: a.cfg.BackoffMax, Reset: a.cfg.BackoffReset}
}

// execute performs a plan: the removals, then each bound pod's sequence;
// pods in parallel (at most Config.Parallel at once: a node given 30 pods at
// once should not start the last only after the other 29, nor a fenced node
// stop its last pod only after the others).
// Reports go out as they are made, group-committed: while one write is in
// flight the next ones gather, so a burst becomes a few batches and the
// first pod to run is not reported only after the slowest.
func (a *Agent) execute(ctx context.Context, w World, acts []Action) {
	reports := a.startReports(ctx)
	actual := map[string]PodState{}
	for _, p := range w.Actual {
		actual[p.UID] = p
	}
	a.wakeAt = time.Time{} // unless the plan waits
	var removals, runs [][]Action
	for i := 0; i < len(acts); {
		j := i + 1
		for j < len(acts) && acts[j].Kind != actWait && acts[j].UID == acts[i].UID {
			j++
		}
		seq := acts[i:j]
		switch seq[0].Kind {
		case actWait:
			a.wakeAt = seq[0].At
		case actRemove, actForget:
			removals = append(removals, seq)
		default:
			runs = append(runs, seq)
		}
		i = j
	}

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		gone    []string                // uids removed from the runtime
		changes = map[string]*Backoff{} // containerKey → new back-off (nil: none)
	)
	sem := make(chan struct{}, a.cfg.Parallel)
	for _, seq := range removals {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			st, exists := actual[seq[0].UID]
			if a.removePod(ctx, seq, st, exists, reports) {
				mu.Lock()
				gone = append(gone, seq[0].UID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, uid := range gone {
		forgetPod(a.backoff, uid)
	}
	for _, seq := range runs {
		st, exists := actual[seq[0].UID]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			got := a.runPod(ctx, w, seq, st, exists, reports)
			mu.Lock()
			maps.Copy(changes, got)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for k, bk := range changes {
		if bk == nil {
			delete(a.backoff, k)
		} else {
			a.backoff[k] = *bk
		}
	}
	// Every report is stored, or left for the next reconcile. A deleted
	// binding goes once its removal is stored.
	for _, r := range reports.close() {
		a.mu.Lock()
		if a.desired[r.key] == r.forget {
			delete(a.desired, r.key)
		}
		a.mu.Unlock()
	}
}

// removePod performs a removal sequence: a pod with running containers is
// stopped gracefully first, on a goroutine of its own (lifecycle.terminate:
// preStop hooks, SIGTERM, SIGKILL at the end of the grace period), and the
// sequence ends until that stop is over; then the runtime's removal, then
// its report or the binding's forgetting. A removal that fails ends the
// sequence; the next reconcile plans it again. It reports whether the
// runtime removed the pod.
func (a *Agent) removePod(ctx context.Context, seq []Action, st PodState, exists bool, reports *reportQueue) (removed bool) {
	for _, act := range seq {
		k := key(act.Namespace, act.Name)
		switch act.Kind {
		case actRemove:
			if running := runningContainers(act, st, exists); running != nil {
				t := probe.Target{Namespace: act.Namespace, Pod: act.Name, UID: act.UID, IP: st.IP}
				if !a.lc.terminate(t, running.spec, act.Grace) {
					return // stopping; the stop's end plans the removal again
				}
			}
			if err := a.rt.RemovePod(ctx, act.Namespace, act.Name, act.UID); err != nil {
				a.log.Error().Err(err).Str("pod", k).Msg("remove pod")
				return false
			}
			removed = true
			a.lc.forget(act.UID)
			a.removeVolumes(ctx, act.UID, k)
		case actForget:
			a.mu.Lock()
			if a.desired[k] == act.binding {
				delete(a.desired, k)
			}
			a.mu.Unlock()
		case actReportRemoved:
			cause := events.Envelope{}
			if act.binding != nil {
				cause = act.binding.env
			}
			var forget *binding
			if act.Forget {
				forget = act.binding
			}
			r, err := a.removalReport(act.Namespace, act.Name, act.UID, act.Epoch, cause, forget)
			if err != nil {
				a.log.Error().Err(err).Str("pod", k).Msg("report removal")
				return removed
			}
			reports.send(r)
		}
	}
	return removed
}

// running is what of a pod runs: the specs of its running containers when
// the removal's binding is the pod's (their preStop hooks run), none when
// the pod is bound nowhere (it is stopped without hooks).
type running struct {
	spec []manifest.Container
}

// runningContainers is what a removal must stop first; nil when nothing of
// the pod runs.
func runningContainers(act Action, st PodState, exists bool) *running {
	if !exists {
		return nil
	}
	mine := act.binding != nil && act.binding.bound.Pod.UID == act.UID
	var out running
	anything := false
	for _, cs := range st.Containers {
		if !cs.Running {
			continue
		}
		anything = true
		if mine {
			out.spec = append(out.spec, containerOf(act.binding.bound.Pod.Spec, cs.Name))
		}
	}
	if !anything {
		return nil
	}
	return &out
}

// runPod performs one bound pod's sequence: its sandbox, its containers'
// starts, its report. It returns the back-off changes of its containers
// (nil: the back-off is cleared), for the reconcile to keep.
func (a *Agent) runPod(ctx context.Context, w World, seq []Action, st PodState, exists bool, reports *reportQueue) map[string]*Backoff {
	b := seq[0].binding
	e := b.bound
	pod := Pod{Namespace: e.Pod.Namespace, Name: e.Pod.Name, UID: e.Pod.UID, Epoch: e.Epoch,
		Labels: e.Pod.Labels, Annotations: e.Pod.Annotations, Spec: e.Pod.Spec}
	k := key(pod.Namespace, pod.Name)
	changes := map[string]*Backoff{}
	// bw is the world as this pod's report sees it: its own back-off changes
	// over the reconcile's.
	bw, cloned := w, false
	set := func(container string, bk *Backoff) {
		ck := containerKey(pod.UID, container)
		changes[ck] = bk
		if !cloned {
			bw.Backoff, cloned = maps.Clone(w.Backoff), true
		}
		if bk == nil {
			delete(bw.Backoff, ck)
		} else {
			bw.Backoff[ck] = *bk
		}
	}
	ip := st.IP
	started, hooked := false, false
	prepared, prepErr := false, error(nil)
	for _, act := range seq {
		switch act.Kind {
		case actSandbox:
			var err error
			ip, err = a.rt.CreateSandbox(ctx, pod)
			if err != nil {
				a.log.Error().Err(err).Str("pod", k).Msg("create sandbox")
				a.reportStatus(b, sandboxFailed(a.cfg.Name, e, err), reports)
				return changes
			}
		case actStart, actRestart:
			c := containerOf(pod.Spec, act.Container)
			if act.Kind == actRestart {
				bk := act.Backoff
				set(c.Name, &bk)
			}
			if !prepared { // volumes and env first (volumes.go); a pending one holds the start
				prepared = true
				pod, prepErr = a.prepareVolumes(ctx, pod, ip)
			}
			err := prepErr
			if err == nil {
				err = a.rt.StartContainer(ctx, pod, c)
			}
			if err != nil {
				reason, pending := volumeFailure(err)
				if pending {
					continue // ContainerCreating until the node knows the objects
				}
				if errors.Is(err, ErrImageNotFound) {
					reason = "ErrImagePull"
				}
				bk := a.backoffPolicy().fail(bw.Backoff[containerKey(pod.UID, c.Name)], w.Now, reason, err.Error())
				set(c.Name, &bk)
				a.log.Warn().Err(err).Str("pod", k).Str("container", c.Name).Msg("start container")
				continue
			}
			started = true
			if act.Kind == actStart {
				set(c.Name, nil)
			}
			if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
				a.postStart(ctx, pod, ip, c)
				hooked = true
			}
		case actKill:
			if cs, ok := containerStateOf(st, act.Container); ok {
				a.lc.kill(pod.UID, act.Container, cs.StartedAt, act.Grace)
			}
		case actReport:
			containers := st.Containers
			if started {
				if fresh, ok, err := a.rt.Pod(ctx, pod.UID); err == nil && ok {
					containers = fresh.Containers
				}
			}
			have := PodState{Containers: containers}.ByName()
			if hooked {
				// The hook just started: its container is not running yet.
				bw.Probes = a.lc.facts()
			}
			a.reportStatus(b, podStatus(a.cfg.Name, e, ip, have, bw), reports)
		}
	}
	return changes
}

// reportStatus hands a pod's status to the report writer, unless the log
// holds it as the pod's newest already.
func (a *Agent) reportStatus(b *binding, status *events.PodStatusObserved, reports *reportQueue) {
	r, ok, err := a.statusReport(b, status)
	if err != nil {
		a.log.Error().Err(err).Str("pod", key(status.Namespace, status.Name)).Msg("report status")
		return
	}
	if ok {
		reports.send(r)
	}
}

// reportedReady reports whether the newest status the log holds of pod p
// says its container cs, the same instance, is ready.
func (a *Agent) reportedReady(p PodState, cs ContainerState) bool {
	a.rmu.Lock()
	last := a.published[key(p.Namespace, p.Name)].status
	a.rmu.Unlock()
	if last == "" {
		return false
	}
	var st events.PodStatusObserved
	if err := json.Unmarshal([]byte(last), &st); err != nil || st.UID != p.UID {
		return false
	}
	for _, c := range st.Containers {
		if c.Name == cs.Name {
			return c.Ready && c.State == events.ContainerRunning && c.StartedAt != nil && c.StartedAt.Equal(cs.StartedAt)
		}
	}
	return false
}

// postStart starts the postStart hook of container c, which just started.
func (a *Agent) postStart(ctx context.Context, pod Pod, ip string, c manifest.Container) {
	p, ok, err := a.rt.Pod(ctx, pod.UID)
	if err != nil || !ok {
		a.log.Warn().Err(err).Str("pod", key(pod.Namespace, pod.Name)).Str("container", c.Name).Msg("postStart: read the started container")
		return
	}
	cs, ok := containerStateOf(p, c.Name)
	if !ok || !cs.Running {
		return // ended already: its exit is planned for
	}
	a.lc.postStart(probe.Target{Namespace: pod.Namespace, Pod: pod.Name, UID: pod.UID, IP: ip}, c, cs.StartedAt)
}

// containerStateOf is the container of p named name.
func containerStateOf(p PodState, name string) (ContainerState, bool) {
	for _, c := range p.Containers {
		if c.Name == name {
			return c, true
		}
	}
	return ContainerState{}, false
}

// containerOf is the container or init container of spec named name.
func containerOf(spec manifest.PodSpec, name string) manifest.Container {
	for _, c := range slices.Concat(spec.Containers, spec.InitContainers) {
		if c.Name == name {
			return c
		}
	}
	return manifest.Container{Name: name}
}
