package node

import (
	"context"
	"time"
)

// Self-fencing. A partitioned agent cannot write to the log, so the log
// cannot prove that the pods the control plane replaces elsewhere no longer
// run here: the agent proves it. With the defaults, heartbeats every 1 s,
// the health service's grace 5 s and the pods' toleration 2 s, a replacement
// is placed no sooner than 7 s after the node's last stored heartbeat. The
// agent that has had no heartbeat acknowledged for FenceAfter (5 s) stops
// every pod it runs, so the old copies are gone 5 s + the time to stop them
// after that heartbeat, before any replacement (hence FenceAfter < grace +
// toleration - the time to stop the pods).
//
// Fenced, the agent is silent: no heartbeat, no report. When the log answers
// again it reads the newest decision of each of its pods (as relearn does),
// reconciles (pods bound elsewhere or deleted meanwhile are removed and
// reported removed, pods still bound here start again) and only then
// heartbeats: the heartbeat is what makes the health service see the node
// Ready again, and by then nothing superseded runs on it.
//
// A partition shorter than FenceAfter leaves the pods untouched.

// fenceGrace bounds how long a fenced agent lets a pod's containers stop:
// the time to stop the pods is part of the fencing margin.
const fenceGrace = time.Second

// defaultFenceAfter is Config.FenceAfter's default: it is at least three
// heartbeat intervals.
const defaultFenceAfter = 5 * time.Second

// fenceChecks is how many times per FenceAfter the watchdog looks.
const fenceChecks = 20

// Fenced reports whether the agent has fenced itself and not yet caught up
// with the log.
func (a *Agent) Fenced() bool { return a.silent.Load() }

// watchFence runs until ctx ends. Unfenced, it asks the loop to fence
// (fence) once no heartbeat was acknowledged for FenceAfter, cancelling the
// reconcile in flight (it may be waiting on the log); fenced, it asks the
// loop to rejoin (rejoin) each time it finds the log answering.
func (a *Agent) watchFence(ctx context.Context, fence, rejoin chan<- struct{}) {
	t := time.NewTicker(max(a.cfg.FenceAfter/fenceChecks, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.silent.Load() {
			if a.reachable(ctx) {
				signal(rejoin)
			}
			continue
		}
		since := a.cfg.Clock().Sub(time.Unix(0, a.lastAck.Load()))
		if since < a.cfg.FenceAfter {
			continue
		}
		a.silent.Store(true)
		a.fenced.Store(true)
		a.log.Error().Dur("since_last_heartbeat", since).Dur("fence_after", a.cfg.FenceAfter).
			Msg("no heartbeat acknowledged by the log: fencing: stopping every pod, so that none runs twice once the control plane replaces them")
		a.cancelReconcile()
		signal(fence)
	}
}

// reachable says whether the log answers a JetStream request.
func (a *Agent) reachable(ctx context.Context) bool {
	if !a.conn.NC.IsConnected() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := a.conn.JS.AccountInfo(ctx)
	return err == nil
}

// rejoin brings a fenced agent back: its pods' newest decisions read again
// (by relearn, which the loop calls first), a reconcile that removes what is
// no longer bound here and starts the rest, and, once the log holds every
// removal, a heartbeat. It reports whether the agent is back; if not it stays
// silent, and the watchdog asks again.
func (a *Agent) rejoin(ctx context.Context) bool {
	a.fenced.Store(false)
	a.reconcile(ctx)
	if n := a.removalsPending(ctx); n != 0 {
		a.log.Warn().Int("pods", n).Msg("rejoining: removals not stored yet; staying silent")
		return false
	}
	if err := a.heartbeat(ctx); err != nil {
		a.log.Warn().Err(err).Msg("rejoining: heartbeat")
		return false
	}
	a.silent.Store(false)
	a.log.Info().Int("pods", a.desiredCount()).Msg("rejoined the log after fencing: superseded pods removed, the rest started again")
	return true
}

// removalsPending is how many removals the planner would still report: the
// removals the log does not hold yet, -1 when the runtime cannot say.
func (a *Agent) removalsPending(ctx context.Context) int {
	actual, err := a.rt.Pods(ctx)
	if err != nil {
		return -1
	}
	w := a.world(actual)
	n := 0
	for _, act := range plan(a.backoffPolicy(), w) {
		if act.Kind == actRemove || act.Kind == actReportRemoved {
			n++
		}
	}
	return n
}

// cancelReconcile ends the reconcile in flight, if any.
func (a *Agent) cancelReconcile() {
	a.rcMu.Lock()
	defer a.rcMu.Unlock()
	if a.rcCancel != nil {
		a.rcCancel()
	}
}

// signal wakes the receiver of c without blocking.
func signal(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
