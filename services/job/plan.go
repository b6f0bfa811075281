// Package job decides what a Job needs, with Kubernetes' Job controller
// semantics: which pods to start and to delete, the Job's status counts, and
// whether it has finished. Compute is pure: the fold supplies the pods, the
// caller the time, and a runner turns the Plan into decisions.
package job

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Pod is what the controller knows of one pod of the Job (from the fold).
type Pod struct {
	Name  string
	Index int    // completion index (Indexed), -1 for NonIndexed
	Phase string // events.PhasePending/Running/Succeeded/Failed; "" (planned, not yet seen) is Pending
	Ready bool   // Running with every container ready (Status.Ready)
	// ExitCodes maps container name → exit code, for the terminated
	// containers of a Failed pod.
	ExitCodes map[string]int32
	Deleting  bool // a deletion was decided; not yet gone
	Gone      bool // deleted and removed (kept so a finished pod is counted once, forever)
	// Stopped: its deletion was decided while it was still active (suspend,
	// scale-down, a finished Job). If it then ends Failed, that is the stop
	// (exit 143 on SIGTERM), not a failure: it counts neither in
	// Status.Failed nor against any backoff limit. A Succeeded one counts.
	Stopped bool
	// FinishedAt is when it ended, for the back-off before failed pods are
	// replaced (see FailureBackoff). Zero: no back-off on its account.
	FinishedAt time.Time
}

// Condition is a Job's terminal condition.
type Condition struct {
	Type    string // ConditionComplete or ConditionFailed
	Reason  string
	Message string
}

// Condition types and reasons, as Kubernetes names them.
const (
	ConditionComplete = "Complete"
	ConditionFailed   = "Failed"

	ReasonCompletionsReached       = "CompletionsReached"
	ReasonBackoffLimitExceeded     = "BackoffLimitExceeded"
	ReasonDeadlineExceeded         = "DeadlineExceeded"
	ReasonPodFailurePolicy         = "PodFailurePolicy"
	ReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	ReasonFailedIndexes            = "FailedIndexes"
)

// Input is everything one pass reasons from.
type Input struct {
	Namespace string           // the Job's, for messages naming a pod
	Spec      manifest.JobSpec // defaulted; Kubernetes' defaults are applied to what is not
	// Pods are every pod ever planned for this Job uid, in planning order. A
	// name listed twice is one pod (see merge).
	Pods []Pod
	// StartTime is when the Job was accepted or last unsuspended: the caller
	// resets it on resume, as Kubernetes does, so time spent suspended does
	// not count against activeDeadlineSeconds. Zero: no deadline counting.
	StartTime time.Time
	Now       time.Time
	Finished  *Condition // the terminal condition already decided, if any
}

// Status is Kubernetes' JobStatus counts, as they stand once the Plan is
// carried out (its pods started and deletions decided), so a pass over the
// result reports the same Status and plans nothing.
type Status struct {
	Active    int32 // pods neither terminal nor being deleted, including those this plan starts
	Ready     int32 // active pods that are Ready
	Succeeded int32 // succeeded pods (NonIndexed) or completed indexes (Indexed)
	Failed    int32 // failed pods, except those a podFailurePolicy Ignore rule matched and stopped ones
	// CompletedIndexes and FailedIndexes are in the "1-3,5" form (Indexed
	// only; FailedIndexes only with backoffLimitPerIndex).
	CompletedIndexes string
	FailedIndexes    string
}

// Plan is what one pass decides.
type Plan struct {
	// Start holds the completion indexes to start pods for (Indexed), lowest
	// first; NonIndexed, one -1 per pod to start. Never more than
	// parallelism.
	Start []int
	// Delete names the active pods to delete, in planning order: excess
	// pods, pods of a completed or failed index, or every active pod when
	// the Job is finished or suspended.
	Delete    []string
	Status    Status
	Finish    *Condition // the Job finishes in this pass (nil if not, or if Input.Finished was set)
	Suspended bool       // spec.suspend and not finished: nothing runs
	// RecheckAt is when a pass would decide otherwise though no pod
	// changed: the active deadline passes, or the back-off after failures
	// that held Start back ends. Zero: never.
	RecheckAt time.Time
}

// settings are the Job's spec with Kubernetes' defaults applied.
type settings struct {
	parallelism      int
	completions      int // -1: a work queue (NonIndexed without completions)
	backoffLimit     int
	perIndex         int // backoffLimitPerIndex, -1: none
	maxFailedIndexes int // -1: none
	indexed          bool
	suspend          bool
	deadline         time.Duration // 0: none
	policy           *manifest.PodFailurePolicy
	containers       []manifest.Container
}

// settle applies Kubernetes' defaults to what admission left unset:
// parallelism 1; completions 1 when parallelism was unset too (Indexed
// always needs completions: 1 if missing); backoffLimit 6, or unlimited
// when backoffLimitPerIndex is set; NonIndexed. Negative values are 0.
func settle(js manifest.JobSpec) settings {
	s := settings{parallelism: 1, completions: -1, backoffLimit: manifest.DefaultBackoffLimit,
		perIndex: -1, maxFailedIndexes: -1, indexed: js.CompletionMode == manifest.CompletionIndexed,
		suspend: js.Suspend != nil && *js.Suspend, policy: js.PodFailurePolicy,
		containers: js.Template.Spec.Containers}
	if js.Parallelism != nil {
		s.parallelism = max(int(*js.Parallelism), 0)
	}
	switch {
	case js.Completions != nil:
		s.completions = max(int(*js.Completions), 0)
	case js.Parallelism == nil || s.indexed:
		s.completions = 1
	}
	if s.indexed && js.BackoffLimitPerIndex != nil {
		s.perIndex = max(int(*js.BackoffLimitPerIndex), 0)
		s.backoffLimit = math.MaxInt32
		if js.MaxFailedIndexes != nil {
			s.maxFailedIndexes = max(int(*js.MaxFailedIndexes), 0)
		}
	}
	if js.BackoffLimit != nil {
		s.backoffLimit = max(int(*js.BackoffLimit), 0)
	}
	if js.ActiveDeadlineSeconds != nil && *js.ActiveDeadlineSeconds > 0 {
		s.deadline = time.Duration(*js.ActiveDeadlineSeconds) * time.Second
	}
	return s
}

// outcome is what one pod means for its Job.
type outcome uint8

const (
	inFlight  outcome = iota // not terminal, deleting or gone: neither active nor counted
	active                   // running or waiting to
	succeeded                // Succeeded
	counted                  // Failed, counted against the backoff limits
	ignored                  // Failed, not counted (Ignore rule, or stopped)
	failIndex                // Failed, and a FailIndex rule fails its index (counted too)
	failJob                  // Failed, and a FailJob rule fails the Job (counted too)
)

// pass is one Compute's working state.
type pass struct {
	in     Input
	s      settings
	pods   []Pod
	out    []outcome
	drop   []bool // decided for deletion in this pass
	active []int  // positions of the active pods not dropped

	succeeded, failed int
	failJob           *Condition // from the first pod (planning order) a FailJob rule matched
	complete, lost    []int      // Indexed: completed and failed indexes, ascending
	taken             []int      // Indexed: indexes complete, failed or with an active pod, ascending
}

// Compute decides one pass for a Job: given its pods, what to start, what to
// delete, its status and whether it is finished. Its work is
// O(len(Pods)·log len(Pods) + parallelism), whatever completions is, and
// its output depends only on its input.
//
// Worked examples (NonIndexed):
//   - completions 5, parallelism 2; pods a, b, c Succeeded, d Running →
//     remaining 5-3 = 2, want min(2, 2) = 2 active, 1 is: start 1.
//   - completions 2, parallelism 5 → want min(5, 2) = 2: start 2, never 5.
//   - completions 3, parallelism 3; a Succeeded, b Running and ready, c
//     Running, d Pending (started when none had succeeded) → want
//     min(3, 3-1) = 2, 3 active: d goes (pending before running, not ready
//     before ready, newer before older).
//   - work queue (no completions), parallelism 3; a Succeeded, b Running →
//     nothing starts after a success; once b ends the Job is Complete.
//   - backoffLimit 1; a Failed, b Failed, c Running → 2 failures > 1: Failed
//     BackoffLimitExceeded, c deleted.
//
// Indexed: completions 4, parallelism 2; pod 0 Succeeded, pod 1 Failed, pod
// 1' Running → indexes 0 complete, 1 active; start 2 (1 slot: parallelism 2 -
// 1 active), never 0 again; index 3 waits.
func Compute(in Input) Plan {
	p := &pass{in: in, s: settle(in.Spec), pods: merge(in.Pods)}
	p.out = make([]outcome, len(p.pods))
	p.drop = make([]bool, len(p.pods))
	for i := range p.pods {
		p.out[i] = p.judge(i)
	}
	if p.s.indexed {
		p.countIndexed()
	} else {
		p.countNonIndexed()
	}

	var plan Plan
	finished := in.Finished
	if finished == nil {
		finished = p.finish()
		plan.Finish = finished
	}
	switch {
	case finished != nil || p.s.suspend:
		for _, i := range p.active {
			p.drop[i] = true
		}
		p.active = nil
		plan.Suspended = finished == nil
	case p.s.indexed:
		p.trim(p.s.parallelism)
		plan.Start = p.startIndexes(p.s.parallelism - len(p.active))
	default:
		want := p.s.parallelism
		switch {
		case p.s.completions >= 0:
			want = min(want, max(p.s.completions-p.succeeded, 0))
		case p.succeeded > 0:
			want = min(want, len(p.active)) // a success ended the work queue
		}
		p.trim(want)
		for range want - len(p.active) {
			plan.Start = append(plan.Start, -1)
		}
	}
	if finished == nil && p.done() {
		// A work queue whose last active pods this pass deletes (parallelism
		// lowered, or suspended, after a success) is complete now, not in
		// the next pass.
		finished = completeCondition()
		plan.Finish, plan.Suspended = finished, false
	}
	if finished == nil && !p.s.suspend && p.s.deadline > 0 && !in.StartTime.IsZero() {
		plan.RecheckAt = in.StartTime.Add(p.s.deadline)
	}
	if len(plan.Start) > 0 {
		if at := p.restartAt(); in.Now.Before(at) {
			plan.Start = nil
			if plan.RecheckAt.IsZero() || at.Before(plan.RecheckAt) {
				plan.RecheckAt = at
			}
		}
	}

	for i, d := range p.drop {
		if d {
			plan.Delete = append(plan.Delete, p.pods[i].Name)
		}
	}
	plan.Status = Status{Active: int32(len(p.active) + len(plan.Start)),
		Succeeded: int32(p.succeeded), Failed: int32(p.failed)}
	for _, i := range p.active {
		if p.pods[i].Ready && p.pods[i].Phase == events.PhaseRunning {
			plan.Status.Ready++
		}
	}
	if p.s.indexed {
		plan.Status.CompletedIndexes = projections.FormatIndexes(p.complete)
		if p.s.perIndex >= 0 {
			plan.Status.FailedIndexes = projections.FormatIndexes(p.lost)
		}
	}
	return plan
}

// merge makes one pod of each name, in the order names first appear. The
// fold should list each pod once; if it lists one twice, a terminal phase
// wins over a later non-terminal one (a pod finishes once), otherwise the
// later entry's state wins, and Deleting, Gone and Stopped stick. Without
// duplicates, pods itself is returned (and never written to).
func merge(pods []Pod) []Pod {
	at := make(map[string]int, len(pods))
	var out []Pod // a copy, from the first duplicate on
	for j, q := range pods {
		i, dup := at[q.Name]
		if !dup {
			i = j
			if out != nil {
				i = len(out)
				out = append(out, q)
			}
			at[q.Name] = i
			continue
		}
		if out == nil {
			out = append(make([]Pod, 0, len(pods)), pods[:j]...)
		}
		m := &out[i]
		if !terminal(m.Phase) {
			m.Phase, m.Ready, m.ExitCodes, m.FinishedAt = q.Phase, q.Ready, q.ExitCodes, q.FinishedAt
		}
		m.Deleting = m.Deleting || q.Deleting
		m.Gone = m.Gone || q.Gone
		m.Stopped = m.Stopped || q.Stopped
	}
	if out == nil {
		return pods
	}
	return out
}

func terminal(phase string) bool {
	return phase == events.PhaseSucceeded || phase == events.PhaseFailed
}

// judge says what pod i means. restartPolicy OnFailure restarts a failing
// container in place, so a pod is Failed only when its node gave up on it:
// it is judged like Never's. (Kubernetes also counts OnFailure's container
// restarts against backoffLimit; Gantry does not yet.)
func (p *pass) judge(i int) outcome {
	pod := &p.pods[i]
	switch {
	case pod.Phase == events.PhaseSucceeded:
		return succeeded
	case pod.Phase == events.PhaseFailed:
		if pod.Stopped {
			return ignored
		}
		return p.failure(pod)
	case pod.Deleting || pod.Gone:
		return inFlight
	}
	return active
}

// failure applies the podFailurePolicy to a Failed pod, like Kubernetes: the
// first rule with a container whose exit code matches decides. Containers
// are looked at in the template's order (then any others by name); a
// container that exited 0 never matches, whatever the operator. No rule
// matching means Count. FailIndex without backoffLimitPerIndex counts.
func (p *pass) failure(pod *Pod) outcome {
	pol := p.s.policy
	if pol == nil {
		return counted
	}
	names := p.containerOrder(pod)
	for ri, r := range pol.Rules {
		req := r.OnExitCodes
		if req == nil {
			continue
		}
		for _, name := range names {
			code := pod.ExitCodes[name]
			if code == 0 || (req.ContainerName != nil && *req.ContainerName != name) {
				continue
			}
			listed := slices.Contains(req.Values, code)
			if !(req.Operator == manifest.ExitCodesIn && listed || req.Operator == manifest.ExitCodesNotIn && !listed) {
				continue // an unknown operator matches nothing, as Kubernetes says
			}
			switch r.Action {
			case manifest.PodFailureIgnore:
				return ignored
			case manifest.PodFailureFailIndex:
				if p.s.perIndex >= 0 {
					return failIndex
				}
				return counted
			case manifest.PodFailureFailJob:
				if p.failJob == nil {
					p.failJob = &Condition{Type: ConditionFailed, Reason: ReasonPodFailurePolicy,
						Message: fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
							name, p.in.Namespace, pod.Name, code, r.Action, ri)}
				}
				return failJob
			default:
				return counted
			}
		}
	}
	return counted
}

// containerOrder lists the containers of pod with an exit code: the
// template's first, in its order, then any others by name.
func (p *pass) containerOrder(pod *Pod) []string {
	names := make([]string, 0, len(pod.ExitCodes))
	for _, c := range p.s.containers {
		if _, ok := pod.ExitCodes[c.Name]; ok {
			names = append(names, c.Name)
		}
	}
	if len(names) == len(pod.ExitCodes) {
		return names
	}
	known := len(names)
	for name := range pod.ExitCodes {
		if !slices.Contains(names[:known], name) {
			names = append(names, name)
		}
	}
	slices.Sort(names[known:])
	return names
}

// countNonIndexed counts every pod and keeps the active ones.
func (p *pass) countNonIndexed() {
	for i, o := range p.out {
		switch o {
		case active:
			p.active = append(p.active, i)
		case succeeded:
			p.succeeded++
		case counted, failIndex, failJob:
			p.failed++
		}
	}
}

// countIndexed groups the pods by completion index. An index is complete
// once any of its pods succeeded, for good: its active pods are deleted and
// a later failure of one of them does not undo it. Otherwise, with
// backoffLimitPerIndex, it fails when a FailIndex rule matched one of its
// pods or its counted failures exceed the limit; its active pods are
// deleted and it is not retried. Otherwise it keeps at most one active pod
// (the furthest along; duplicates are deleted). Pods whose index is out of
// range (completions lowered) are deleted if active and counted nowhere.
//
// Worked example: completions 3, backoffLimitPerIndex 1; index 0: pods
// Failed, Failed → 2 > 1: index 0 failed; index 1: Failed, Succeeded →
// complete, Failed 3 in all; index 2: Running, Running → the newer is
// deleted.
func (p *pass) countIndexed() {
	order := make([]int, 0, len(p.pods))
	for i, pod := range p.pods {
		if pod.Index >= 0 && pod.Index < p.s.completions {
			order = append(order, i)
		} else if p.out[i] == active {
			p.drop[i] = true
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(p.pods[a].Index, p.pods[b].Index), cmp.Compare(a, b))
	})
	for lo := 0; lo < len(order); {
		ix := p.pods[order[lo]].Index
		hi := lo
		done, failed, fails, keep := false, false, 0, -1
		for ; hi < len(order) && p.pods[order[hi]].Index == ix; hi++ {
			i := order[hi]
			switch p.out[i] {
			case succeeded:
				done = true
			case failIndex:
				failed = true
				fails++
			case counted, failJob:
				fails++
			case active:
				if keep < 0 || deleteFirst(p.pods, keep, i) {
					keep = i
				}
			}
		}
		p.failed += fails
		failed = failed || (p.s.perIndex >= 0 && fails > p.s.perIndex)
		switch {
		case done:
			p.complete = append(p.complete, ix)
		case failed:
			p.lost = append(p.lost, ix)
		case keep >= 0:
			p.active = append(p.active, keep)
		}
		if done || failed || keep >= 0 {
			p.taken = append(p.taken, ix)
		}
		for _, i := range order[lo:hi] {
			if p.out[i] == active && (i != keep || done || failed) {
				p.drop[i] = true
			}
		}
		lo = hi
	}
	p.succeeded = len(p.complete)
}

// finish decides whether the Job is done, in Kubernetes' order: a FailJob
// rule, then the backoff limit, then the failed indexes; then completion;
// then the active deadline, which a complete Job has not exceeded.
func (p *pass) finish() *Condition {
	s := p.s
	failed := func(reason, msg string) *Condition {
		return &Condition{Type: ConditionFailed, Reason: reason, Message: msg}
	}
	switch {
	case p.failJob != nil:
		return p.failJob
	case p.failed > s.backoffLimit:
		return failed(ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
	case s.maxFailedIndexes >= 0 && len(p.lost) > s.maxFailedIndexes:
		return failed(ReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")
	case p.done():
		return completeCondition()
	case len(p.lost) > 0 && len(p.lost)+len(p.complete) >= s.completions:
		return failed(ReasonFailedIndexes, "Job has failed indexes")
	case !s.suspend && s.deadline > 0 && !p.in.StartTime.IsZero() && p.in.Now.Sub(p.in.StartTime) >= s.deadline:
		return failed(ReasonDeadlineExceeded, "Job was active longer than specified deadline")
	}
	return nil
}

func completeCondition() *Condition {
	return &Condition{Type: ConditionComplete, Reason: ReasonCompletionsReached,
		Message: "Reached expected number of succeeded pods"}
}

// done: every completion reached; for a work queue, a pod succeeded and
// none is active any more.
func (p *pass) done() bool {
	if p.s.completions < 0 {
		return p.succeeded > 0 && len(p.active) == 0
	}
	return p.succeeded >= p.s.completions
}

// Back-off before pods are started again after failures, as Kubernetes':
// 10 s after the latest failure, doubling with each failure since the
// latest success, at most 6 min.
const (
	FailureBackoff    = 10 * time.Second
	MaxFailureBackoff = 6 * time.Minute
)

// restartAt is when pods may start again after the failures counted since
// the latest success (zero: now). Failures with no FinishedAt do not delay.
// One back-off for the whole Job, Indexed too (Kubernetes keeps one per
// index with backoffLimitPerIndex).
//
// Worked example: a failed at t, b at t+5s, no success → 2 failures: b's
// t+5s + 10s·2 = t+25s.
func (p *pass) restartAt() time.Time {
	var lastSuccess, lastFailure time.Time
	for i, o := range p.out {
		if at := p.pods[i].FinishedAt; o == succeeded && at.After(lastSuccess) {
			lastSuccess = at
		}
	}
	n := 0
	for i, o := range p.out {
		at := p.pods[i].FinishedAt
		if (o == counted || o == failIndex || o == failJob) && !at.IsZero() && at.After(lastSuccess) {
			n++
			if at.After(lastFailure) {
				lastFailure = at
			}
		}
	}
	if n == 0 {
		return time.Time{}
	}
	d := MaxFailureBackoff
	if n <= 6 {
		d = min(FailureBackoff<<(n-1), MaxFailureBackoff)
	}
	return lastFailure.Add(d)
}

// trim deletes active pods beyond want, those furthest from done first.
func (p *pass) trim(want int) {
	want = max(want, 0)
	if len(p.active) <= want {
		return
	}
	slices.SortStableFunc(p.active, func(a, b int) int {
		switch {
		case deleteFirst(p.pods, a, b):
			return -1
		case deleteFirst(p.pods, b, a):
			return 1
		}
		return 0
	})
	for _, i := range p.active[:len(p.active)-want] {
		p.drop[i] = true
	}
	p.active = p.active[len(p.active)-want:]
	slices.Sort(p.active)
}

// deleteFirst orders active pods like Kubernetes' ReplicaSet and Job
// controllers do: not running before running, not ready before ready, then
// the newer (later planned) first.
func deleteFirst(pods []Pod, a, b int) bool {
	pa, pb := &pods[a], &pods[b]
	ra, rb := pa.Phase == events.PhaseRunning, pb.Phase == events.PhaseRunning
	if ra != rb {
		return !ra
	}
	if pa.Ready != pb.Ready {
		return !pa.Ready
	}
	return a > b
}

// startIndexes picks up to n indexes to start, lowest first, skipping those
// taken (complete, failed or active): at most len(taken)+n steps.
func (p *pass) startIndexes(n int) []int {
	var out []int
	t := 0
	for ix := 0; len(out) < n && ix < p.s.completions; ix++ {
		for t < len(p.taken) && p.taken[t] < ix {
			t++
		}
		if t < len(p.taken) && p.taken[t] == ix {
			continue
		}
		out = append(out, ix)
	}
	return out
}
