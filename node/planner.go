package node

// The planner decides what the agent does; the executor (executor.go) does
// it. plan is pure: what the log binds to the node (desired), what the
// runtime holds (actual), each container's restart back-off and probe
// results, which removals the log already holds, and now go in; a list of
// actions comes out. No I/O, no clock, no map order: the same world gives the
// same actions, which is what planner_test.go checks, table by table.
//
// Worked example, now 12:00:00, back-off 10 s doubling, restartPolicy Always:
//
//	desired: default/web  uid u1, container "app"
//	         default/db   uid u2, deleted (its removal not yet in the log)
//	actual:  u1 default/web, "app" exited with code 1
//	         u9 default/old, bound nowhere any more
//	         (nothing of u2)
//
//	actions: remove default/old u9 grace=30s        u9 is not bound here
//	         report-removed default/old u9
//	         remove default/db u2 grace=30s          deleted: RemovePod is idempotent
//	         report-removed default/db u2 forget     the binding goes once the log holds it
//	         restart default/web u1 app backoff=1 until=12:00:10
//	         report default/web u1
//
// Had "app" exited again before 12:00:10, its back-off would hold it: no
// restart, the report shows it Waiting in CrashLoopBackOff, and a last action
// "wait until 12:00:10" tells the loop when to plan again.
//
// A fenced node (fence.go) gets a plan that only stops every pod, within at
// most fenceGrace, and reports nothing.
//
// The actions of one pod form a sequence the executor runs in order; the
// pods' sequences run in parallel, removals first. Probe and hook results
// arrive in World.Probes: a failed liveness or startup probe (or postStart
// hook) becomes a kill, then a restart per the restart policy; a readiness
// verdict the container's Ready. A removal and a kill name their grace
// period; the executor runs the preStop hook and the graceful stop
// (lifecycle.go) without holding up the plan.

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// World is everything the planner sees.
type World struct {
	Now time.Time
	// Desired is the newest decision of each pod for this node, by ns/name.
	Desired map[string]*binding
	// Actual is what the runtime holds, running or not.
	Actual []PodState
	// Backoff is each container's restart back-off, by containerKey.
	Backoff map[string]Backoff
	// Removed is the uid whose removal the log holds, by ns/name.
	Removed map[string]string
	// Probes is what the prober last found of each running container, by
	// containerKey; a container without a result is ready once running.
	Probes map[string]ProbeResult
	// Fenced: the node has not reached the log for Config.FenceAfter; every
	// pod is stopped and nothing reported (fence.go).
	Fenced bool
}

// ProbeResult is what the agent's probes and hooks found of one container
// instance (lifecycle.go).
type ProbeResult struct {
	// StartedAt names the instance: what was found of an earlier instance
	// does not apply to a later one.
	StartedAt time.Time
	// Ready is the container's readiness: started (the startup probe
	// passed) and the readiness probe's verdict.
	Ready bool
	// PostStart: the postStart hook still runs; the container is not
	// reported running until it has.
	PostStart bool
	// Kill says why the instance is to be killed (a liveness or startup
	// probe failed, its postStart hook failed); nil: it is not.
	Kill *Kill
	// Killing: the kill is under way.
	Killing bool
	// Previous is why the agent killed the instance before this one, if it
	// did.
	Previous *Kill
}

// Kill is why the agent kills a container instance.
type Kill struct {
	// StartedAt names the instance.
	StartedAt time.Time
	// Reason is the probe's kind or FailedPostStartHook.
	Reason  string
	Message string
	// GracePeriodSeconds is the failed probe's
	// terminationGracePeriodSeconds; nil: the pod's applies.
	GracePeriodSeconds *int64
}

// factOf is what was found of the instance cs of a container; false when
// nothing was, or only of another instance.
func factOf(w World, uid string, cs ContainerState) (ProbeResult, bool) {
	f, ok := w.Probes[containerKey(uid, cs.Name)]
	if !ok || !f.StartedAt.Equal(cs.StartedAt) {
		return ProbeResult{}, false
	}
	return f, true
}

// actionKind names what an action does.
type actionKind string

const (
	// actRemove stops the pod's containers (within Grace) and deletes
	// them, its sandbox and its logs.
	actRemove actionKind = "remove"
	// actReportRemoved reports the removal; with Forget the deleted binding
	// goes once the log holds it.
	actReportRemoved actionKind = "report-removed"
	// actForget drops a deleted binding whose removal the log already holds.
	actForget actionKind = "forget"
	// actSandbox creates the pod's network namespace and IP.
	actSandbox actionKind = "sandbox"
	// actStart starts a container that has not run (or was created and
	// never started).
	actStart actionKind = "start"
	// actRestart starts an exited container again, recording Backoff.
	actRestart actionKind = "restart"
	// actKill stops a running container (its preStop hook, SIGTERM,
	// SIGKILL after Grace) that a probe or hook condemned; the restart
	// policy decides on its restart once it has exited.
	actKill actionKind = "kill"
	// actReport reports the pod's status as the runtime holds it after the
	// actions before it, unless the log holds that status already.
	actReport actionKind = "report"
	// actWait asks the loop to plan again at At (a back-off ends).
	actWait actionKind = "wait"
)

// Action is one step of a plan.
type Action struct {
	Kind      actionKind
	Namespace string
	Name      string
	UID       string
	Epoch     int64
	// Container names the container of actStart and actRestart.
	Container string
	// Grace is how long actRemove and actKill let containers stop before
	// killing them.
	Grace time.Duration
	// Kill is why actKill kills.
	Kill *Kill
	// Forget: an actReportRemoved whose deleted binding goes once stored.
	Forget bool
	// Backoff is recorded with actRestart, before the start.
	Backoff Backoff
	// At is when actWait wants the next plan.
	At time.Time

	// binding is the decision acted on; nil for a pod bound nowhere.
	binding *binding
}

func (a Action) String() string {
	if a.Kind == actWait {
		return "wait until " + a.At.UTC().Format(time.TimeOnly)
	}
	s := fmt.Sprintf("%s %s/%s %s", a.Kind, a.Namespace, a.Name, a.UID)
	if a.Container != "" {
		s += " " + a.Container
	}
	if a.Kind == actRemove || a.Kind == actKill {
		s += " grace=" + a.Grace.String()
	}
	if a.Kind == actKill && a.Kill != nil {
		s += " reason=" + a.Kill.Reason
	}
	if a.Forget {
		s += " forget"
	}
	if a.Kind == actRestart {
		s += fmt.Sprintf(" backoff=%d until=%s", a.Backoff.Failures, a.Backoff.Until.UTC().Format(time.TimeOnly))
	}
	return s
}

// plan returns the actions that bring the runtime towards the decisions:
// remove what is not bound here any more, start what is bound, restart what
// exited (per restart policy, unless its back-off holds it), report each
// bound pod.
func plan(bp backoffPolicy, w World) []Action {
	actual := append([]PodState(nil), w.Actual...)
	sort.Slice(actual, func(i, j int) bool {
		ki, kj := key(actual[i].Namespace, actual[i].Name), key(actual[j].Namespace, actual[j].Name)
		return ki < kj || ki == kj && actual[i].UID < actual[j].UID
	})
	if w.Fenced {
		return fence(actual, w.Desired)
	}
	var out []Action
	bound := map[string]PodState{} // ns/name → the runtime's copy of a pod bound here
	gone := map[string]bool{}      // uids this plan removes
	for _, p := range actual {
		k := key(p.Namespace, p.Name)
		b := w.Desired[k]
		if b == nil || b.deleted || b.bound.Pod.UID != p.UID {
			gone[p.UID] = true
			out = append(out, removal(p.Namespace, p.Name, p.UID, p.Epoch, b, w.Removed)...)
			continue
		}
		bound[k] = p
	}
	keys := make([]string, 0, len(w.Desired))
	for k := range w.Desired {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var wake time.Time
	for _, k := range keys {
		b := w.Desired[k]
		pod := b.bound.Pod
		if b.deleted {
			switch {
			case gone[pod.UID]:
			case w.Removed[k] == pod.UID:
				// Neither the runtime nor the log has anything left to say.
				out = append(out, Action{Kind: actForget, Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
					Epoch: b.bound.Epoch, binding: b})
			default:
				out = append(out, removal(pod.Namespace, pod.Name, pod.UID, b.bound.Epoch, b, w.Removed)...)
			}
			continue
		}
		st, exists := bound[k]
		acts, until := planPod(bp, w, b, st, exists)
		out = append(out, acts...)
		if !until.IsZero() && (wake.IsZero() || until.Before(wake)) {
			wake = until
		}
	}
	if !wake.IsZero() {
		out = append(out, Action{Kind: actWait, At: wake})
	}
	return out
}

// fence stops every pod the runtime holds, within fenceGrace, and reports
// nothing: the log cannot be reached.
func fence(actual []PodState, desired map[string]*binding) []Action {
	var out []Action
	for _, p := range actual {
		grace := fenceGrace
		if b := desired[key(p.Namespace, p.Name)]; b != nil && b.bound.Pod.UID == p.UID {
			grace = min(grace, b.gracePeriod())
		}
		out = append(out, Action{Kind: actRemove, Namespace: p.Namespace, Name: p.Name, UID: p.UID, Epoch: p.Epoch, Grace: grace})
	}
	return out
}

// removal is the removal of pod uid and its report, unless the log holds
// the report already.
func removal(ns, name, uid string, epoch int64, b *binding, removed map[string]string) []Action {
	mine := b != nil && b.bound.Pod.UID == uid
	forget := mine && b.deleted
	grace := time.Duration(manifest.DefaultTerminationGracePeriodSeconds) * time.Second
	if mine {
		grace = b.gracePeriod()
	}
	acts := []Action{{Kind: actRemove, Namespace: ns, Name: name, UID: uid, Epoch: epoch, Grace: grace, binding: b}}
	switch {
	case removed[key(ns, name)] != uid:
		acts = append(acts, Action{Kind: actReportRemoved, Namespace: ns, Name: name, UID: uid, Epoch: epoch, Forget: forget, binding: b})
	case forget:
		acts = append(acts, Action{Kind: actForget, Namespace: ns, Name: name, UID: uid, Epoch: epoch, binding: b})
	}
	return acts
}

// planPod brings one bound pod towards running; until is when a container
// its back-off holds may start (zero: none held).
func planPod(bp backoffPolicy, w World, b *binding, st PodState, exists bool) (acts []Action, until time.Time) {
	pod := b.bound.Pod
	act := func(kind actionKind, container string) Action {
		return Action{Kind: kind, Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, Epoch: b.bound.Epoch,
			Container: container, binding: b}
	}
	if !exists || st.IP == "" {
		acts = append(acts, act(actSandbox, ""))
	}
	have := st.ByName()
	if !initDone(pod.Spec, have) { // init.go
		initActs, wait := planInit(bp, w, b, have, act)
		return append(append(acts, initActs...), act(actReport, "")), wait
	}
	policy := pod.Spec.RestartPolicy
	for _, c := range pod.Spec.Containers {
		cs, ok := have[c.Name]
		fact, found := factOf(w, pod.UID, cs)
		var start bool
		switch {
		case !ok:
			start = true
		case cs.Running:
			if found && fact.Kill != nil && !fact.Killing {
				a := act(actKill, c.Name)
				a.Kill, a.Grace = fact.Kill, b.gracePeriod()
				if g := fact.Kill.GracePeriodSeconds; g != nil {
					a.Grace = time.Duration(max(*g, 0)) * time.Second
				}
				acts = append(acts, a)
			}
		case cs.Exited:
			// A container the agent killed failed, whatever its exit code,
			// as the kubelet restarts one that failed its liveness probe.
			failed := cs.ExitCode != 0 || found && fact.Kill != nil
			start = policy == "" || policy == "Always" || (policy == "OnFailure" && failed)
		default:
			start = true // created, never started
		}
		if !start {
			continue
		}
		bk := w.Backoff[containerKey(pod.UID, c.Name)]
		if ok && cs.Exited {
			bk = bp.after(bk, cs.FinishedAt.Sub(cs.StartedAt))
		}
		if bk.holds(w.Now) {
			if until.IsZero() || bk.Until.Before(until) {
				until = bk.Until
			}
			continue
		}
		if !(ok && cs.Exited) {
			acts = append(acts, act(actStart, c.Name))
			continue
		}
		a := act(actRestart, c.Name)
		a.Backoff = bp.fail(bk, w.Now, "CrashLoopBackOff",
			fmt.Sprintf("back-off restarting failed container %s (exit code %d)", c.Name, cs.ExitCode))
		acts = append(acts, a)
	}
	return append(acts, act(actReport, "")), until
}

// gracePeriod is how long the pod's containers may take to stop: the
// deletion's override, else the pod's terminationGracePeriodSeconds.
func (b *binding) gracePeriod() time.Duration {
	s := b.bound.Pod.Spec.GracePeriodSeconds()
	if b.deleted && b.grace != nil {
		s = *b.grace
	}
	return time.Duration(max(s, 0)) * time.Second
}

// describe is a plan as lines, for logs and tests.
func describe(acts []Action) string {
	lines := make([]string, len(acts))
	for i, a := range acts {
		lines[i] = a.String()
	}
	return strings.Join(lines, "\n")
}
