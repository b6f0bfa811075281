package job_test

import (
	"math/rand"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/job"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func i32(v int32) *int32 { return &v }
func i64(v int64) *int64 { return &v }

// spec is a defaulted NonIndexed JobSpec with one container "main".
func spec(completions, parallelism int32) manifest.JobSpec {
	return manifest.JobSpec{Completions: i32(completions), Parallelism: i32(parallelism),
		BackoffLimit: i32(manifest.DefaultBackoffLimit), CompletionMode: manifest.CompletionNonIndexed,
		Template: manifest.PodTemplateSpec{Spec: manifest.PodSpec{RestartPolicy: "Never",
			Containers: []manifest.Container{{Name: "main"}, {Name: "side"}}}}}
}

func indexed(completions, parallelism int32) manifest.JobSpec {
	s := spec(completions, parallelism)
	s.CompletionMode = manifest.CompletionIndexed
	return s
}

func workQueue(parallelism int32) manifest.JobSpec {
	s := spec(0, parallelism)
	s.Completions = nil
	return s
}

func with(s manifest.JobSpec, f func(*manifest.JobSpec)) manifest.JobSpec { f(&s); return s }

func rule(action, op string, container string, codes ...int32) manifest.PodFailurePolicyRule {
	r := manifest.PodFailurePolicyRule{Action: action,
		OnExitCodes: &manifest.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
	if container != "" {
		r.OnExitCodes.ContainerName = &container
	}
	return r
}

func policy(rules ...manifest.PodFailurePolicyRule) func(*manifest.JobSpec) {
	return func(s *manifest.JobSpec) { s.PodFailurePolicy = &manifest.PodFailurePolicy{Rules: rules} }
}

// Pod builders: name, then index (-1 NonIndexed).
func pod(name string, ix int, phase string) job.Pod {
	return job.Pod{Name: name, Index: ix, Phase: phase}
}
func pending(name string, ix int) job.Pod { return pod(name, ix, events.PhasePending) }
func running(name string, ix int) job.Pod { return pod(name, ix, events.PhaseRunning) }
func ready(name string, ix int) job.Pod {
	p := running(name, ix)
	p.Ready = true
	return p
}
func succeeded(name string, ix int) job.Pod { return pod(name, ix, events.PhaseSucceeded) }
func failed(name string, ix int, codes ...int32) job.Pod {
	p := pod(name, ix, events.PhaseFailed)
	p.ExitCodes = map[string]int32{}
	for i, c := range codes {
		p.ExitCodes[[]string{"main", "side", "extra"}[i]] = c
	}
	return p
}
func finishedAt(p job.Pod, sec int) job.Pod {
	p.FinishedAt = t0.Add(time.Duration(sec) * time.Second)
	return p
}
func deleting(p job.Pod) job.Pod { p.Deleting = true; return p }
func stopped(p job.Pod) job.Pod  { p.Deleting, p.Stopped = true, true; return p }

func nonIndexed(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	return out
}

func TestCompute(t *testing.T) {
	backoff := func(n int32) func(*manifest.JobSpec) {
		return func(s *manifest.JobSpec) { s.BackoffLimit = i32(n) }
	}
	perIndex := func(n int32, maxFailed *int32) func(*manifest.JobSpec) {
		return func(s *manifest.JobSpec) {
			s.BackoffLimitPerIndex, s.MaxFailedIndexes, s.BackoffLimit = i32(n), maxFailed, nil
		}
	}
	deadline := func(s *manifest.JobSpec) { s.ActiveDeadlineSeconds = i64(60) }
	suspend := func(s *manifest.JobSpec) { s.Suspend = new(true) }
	failedCond := func(reason, msg string) *job.Condition {
		return &job.Condition{Type: job.ConditionFailed, Reason: reason, Message: msg}
	}
	complete := &job.Condition{Type: job.ConditionComplete, Reason: job.ReasonCompletionsReached,
		Message: "Reached expected number of succeeded pods"}
	backoffExceeded := failedCond(job.ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")

	cases := []struct {
		name string
		in   job.Input
		want job.Plan
	}{{
		// No pods: want min(parallelism 2, completions 5) = 2 → start 2.
		name: "first pass starts up to parallelism",
		in:   job.Input{Spec: spec(5, 2)},
		want: job.Plan{Start: nonIndexed(2), Status: job.Status{Active: 2}},
	}, {
		// completions 5, parallelism 2; 3 succeeded, 1 active → remaining
		// 5-3 = 2, want min(2, 2) = 2, have 1: start 1.
		name: "start what is missing of the remaining completions",
		in: job.Input{Spec: spec(5, 2), Pods: []job.Pod{succeeded("a", -1), succeeded("b", -1),
			succeeded("c", -1), ready("d", -1)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 2, Ready: 1, Succeeded: 3}},
	}, {
		// completions 2, parallelism 5 → want min(5, 2) = 2: start 2, not 5.
		name: "parallelism above completions starts only completions",
		in:   job.Input{Spec: spec(2, 5)},
		want: job.Plan{Start: nonIndexed(2), Status: job.Status{Active: 2}},
	}, {
		// completions 3, parallelism 3; a succeeded, b ready, c running, d
		// pending → want min(3, 3-1) = 2, have 3: delete 1, the pending d.
		name: "excess active pods: the least advanced is deleted",
		in: job.Input{Spec: spec(3, 3), Pods: []job.Pod{succeeded("a", -1), ready("b", -1),
			pending("d", -1), running("c", -1)}},
		want: job.Plan{Delete: []string{"d"}, Status: job.Status{Active: 2, Ready: 1, Succeeded: 1}},
	}, {
		// completions 2; a, b succeeded, c running → 2 >= 2: Complete, c is
		// deleted, nothing starts.
		name: "completions reached: complete, the rest deleted",
		in:   job.Input{Spec: spec(2, 2), Pods: []job.Pod{succeeded("a", -1), running("c", -1), succeeded("b", -1)}},
		want: job.Plan{Delete: []string{"c"}, Finish: complete, Status: job.Status{Succeeded: 2}},
	}, {
		// Work queue, parallelism 3, nothing yet → start 3.
		name: "work queue starts parallelism",
		in:   job.Input{Spec: workQueue(3)},
		want: job.Plan{Start: nonIndexed(3), Status: job.Status{Active: 3}},
	}, {
		// Work queue, parallelism 3; a succeeded, b running → a success ends
		// the queue: nothing starts; b is left to finish.
		name: "work queue: nothing starts after a success",
		in:   job.Input{Spec: workQueue(3), Pods: []job.Pod{succeeded("a", -1), running("b", -1), failed("c", -1, 1)}},
		want: job.Plan{Status: job.Status{Active: 1, Succeeded: 1, Failed: 1}},
	}, {
		// Work queue; a succeeded, b failed, none active → Complete.
		name: "work queue completes when a pod succeeded and none is active",
		in:   job.Input{Spec: workQueue(3), Pods: []job.Pod{succeeded("a", -1), failed("b", -1, 1)}},
		want: job.Plan{Finish: complete, Status: job.Status{Succeeded: 1, Failed: 1}},
	}, {
		// backoffLimit 2, completions 1; a, b failed → 2 failures, not > 2:
		// start a third.
		name: "failures up to the backoff limit are retried",
		in:   job.Input{Spec: with(spec(1, 1), backoff(2)), Pods: []job.Pod{failed("a", -1, 1), failed("b", -1, 1)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1, Failed: 2}},
	}, {
		// backoffLimit 1; a, b failed, c running → 2 > 1: Failed, c deleted.
		name: "backoff limit exceeded",
		in: job.Input{Spec: with(spec(3, 2), backoff(1)), Pods: []job.Pod{failed("a", -1, 1), failed("b", -1, 1),
			running("c", -1)}},
		want: job.Plan{Delete: []string{"c"}, Finish: backoffExceeded, Status: job.Status{Failed: 2}},
	}, {
		// backoffLimit 0; Ignore exit 137 → a's failure is not counted (nor
		// in Status.Failed), so a replacement starts.
		name: "an Ignore rule keeps a failure off the count",
		in: job.Input{Spec: with(with(spec(1, 1), backoff(0)), policy(rule("Ignore", "In", "", 137))),
			Pods: []job.Pod{failed("a", -1, 137)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1}},
	}, {
		// backoffLimit 0; Count exit 1 (the first matching rule) → 1 > 0.
		name: "a Count rule counts",
		in: job.Input{Spec: with(with(spec(1, 1), backoff(0)),
			policy(rule("Count", "In", "", 1), rule("Ignore", "NotIn", "", 0))),
			Pods: []job.Pod{failed("a", -1, 1)}},
		want: job.Plan{Finish: backoffExceeded, Status: job.Status{Failed: 1}},
	}, {
		// Rule 1 FailJob on main exiting 42: pod x-abc's main exited 42 →
		// Failed PodFailurePolicy; the running pod is deleted.
		name: "a FailJob rule fails the Job",
		in: job.Input{Namespace: "default", Spec: with(spec(3, 2), policy(rule("Ignore", "In", "", 137),
			rule("FailJob", "In", "main", 42))),
			Pods: []job.Pod{failed("x-abc", -1, 42), running("x-def", -1)}},
		want: job.Plan{Delete: []string{"x-def"}, Status: job.Status{Failed: 1},
			Finish: failedCond(job.ReasonPodFailurePolicy,
				"Container main for pod default/x-abc failed with exit code 42 matching FailJob rule at index 1")},
	}, {
		// FailJob NotIn [1]: main exited 0 (never matches), side exited 1
		// (in the list) → no match: counted; 1 failure <= 6: retried.
		name: "exit code 0 never matches, NotIn included",
		in: job.Input{Spec: with(spec(1, 1), policy(rule("FailJob", "NotIn", "", 1))),
			Pods: []job.Pod{failed("a", -1, 0, 1)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1, Failed: 1}},
	}, {
		// FailJob on side exiting 42; main exited 42, side 3 → no match.
		name: "a rule's container name restricts it",
		in: job.Input{Spec: with(spec(1, 1), policy(rule("FailJob", "In", "side", 42))),
			Pods: []job.Pod{failed("a", -1, 42, 3)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1, Failed: 1}},
	}, {
		// Any container: main exited 0, side 5 → side matches NotIn [1]:
		// the message names side, the template's second container.
		name: "the first matching container is named",
		in: job.Input{Namespace: "ns", Spec: with(spec(1, 1), policy(rule("FailJob", "NotIn", "", 1))),
			Pods: []job.Pod{failed("a", -1, 0, 5)}},
		want: job.Plan{Status: job.Status{Failed: 1}, Finish: failedCond(job.ReasonPodFailurePolicy,
			"Container side for pod ns/a failed with exit code 5 matching FailJob rule at index 0")},
	}, {
		// completions 2; a succeeded, listed twice (once still Running, once
		// Succeeded) → one success: start 1.
		name: "a pod listed twice counts once",
		in: job.Input{Spec: spec(2, 2), Pods: []job.Pod{succeeded("a", -1), running("a", -1),
			failed("b", -1, 1), failed("b", -1, 1)}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1, Succeeded: 1, Failed: 1}},
	}, {
		// A pod stopped by a deletion ends Failed (SIGTERM): not a failure.
		name: "a stopped pod's failure is not counted",
		in: job.Input{Spec: with(spec(1, 1), backoff(0)),
			Pods: []job.Pod{stopped(failed("a", -1, 143)), deleting(running("b", -1))}},
		want: job.Plan{Start: nonIndexed(1), Status: job.Status{Active: 1}},
	}, {
		// Failures at t0 and t0+5s, none since a success → back-off 10 s·2
		// from t0+5s: nothing starts before t0+25s.
		name: "back-off after failures",
		in: job.Input{Spec: spec(2, 2), Now: t0.Add(20 * time.Second),
			Pods: []job.Pod{finishedAt(failed("a", -1, 1), 0), finishedAt(failed("b", -1, 1), 5)}},
		want: job.Plan{RecheckAt: t0.Add(25 * time.Second), Status: job.Status{Failed: 2}},
	}, {
		// The same at t0+25s: start 2.
		name: "back-off over",
		in: job.Input{Spec: spec(2, 2), Now: t0.Add(25 * time.Second),
			Pods: []job.Pod{finishedAt(failed("a", -1, 1), 0), finishedAt(failed("b", -1, 1), 5)}},
		want: job.Plan{Start: nonIndexed(2), Status: job.Status{Active: 2, Failed: 2}},
	}, {
		// A success at t0+6s after failures at t0, t0+5s: the back-off starts
		// again from the failure at t0+7s: 10 s → t0+17s.
		name: "a success resets the back-off",
		in: job.Input{Spec: spec(3, 2), Now: t0.Add(10 * time.Second),
			Pods: []job.Pod{finishedAt(failed("a", -1, 1), 0), finishedAt(failed("b", -1, 1), 5),
				finishedAt(succeeded("c", -1), 6), finishedAt(failed("d", -1, 1), 7)}},
		want: job.Plan{RecheckAt: t0.Add(17 * time.Second), Status: job.Status{Succeeded: 1, Failed: 3}},
	}, {
		// parallelism 0: nothing runs; the running pod is deleted.
		name: "parallelism 0 stops everything",
		in:   job.Input{Spec: spec(2, 0), Pods: []job.Pod{running("a", -1)}},
		want: job.Plan{Delete: []string{"a"}},
	}, {
		// Deadline 60 s, started at t0, now t0+60 → Failed, pods deleted.
		name: "deadline exceeded",
		in: job.Input{Spec: with(spec(2, 2), deadline), StartTime: t0, Now: t0.Add(60 * time.Second),
			Pods: []job.Pod{running("a", -1), succeeded("b", -1)}},
		want: job.Plan{Delete: []string{"a"}, Status: job.Status{Succeeded: 1},
			Finish: failedCond(job.ReasonDeadlineExceeded, "Job was active longer than specified deadline")},
	}, {
		// now t0+59 → not yet: recheck at t0+60.
		name: "deadline ahead",
		in: job.Input{Spec: with(spec(2, 2), deadline), StartTime: t0, Now: t0.Add(59 * time.Second),
			Pods: []job.Pod{running("a", -1), succeeded("b", -1)}},
		want: job.Plan{RecheckAt: t0.Add(60 * time.Second), Status: job.Status{Active: 1, Succeeded: 1}},
	}, {
		// All done by the deadline's pass: Complete, not DeadlineExceeded.
		name: "complete wins over the deadline",
		in: job.Input{Spec: with(spec(1, 1), deadline), StartTime: t0, Now: t0.Add(time.Hour),
			Pods: []job.Pod{succeeded("a", -1)}},
		want: job.Plan{Finish: complete, Status: job.Status{Succeeded: 1}},
	}, {
		// Suspended: active pods deleted, nothing starts, no deadline even
		// past it.
		name: "suspend",
		in: job.Input{Spec: with(with(spec(3, 2), deadline), suspend), StartTime: t0, Now: t0.Add(time.Hour),
			Pods: []job.Pod{running("a", -1), succeeded("b", -1), pending("c", -1)}},
		want: job.Plan{Delete: []string{"a", "c"}, Suspended: true, Status: job.Status{Succeeded: 1}},
	}, {
		// Already Failed: nothing starts, the active pod is deleted, no new
		// Finish.
		name: "finished before: stop what runs",
		in: job.Input{Spec: spec(3, 2), Finished: backoffExceeded,
			Pods: []job.Pod{running("a", -1), failed("b", -1, 1)}},
		want: job.Plan{Delete: []string{"a"}, Status: job.Status{Failed: 1}},
	}, {
		// Indexed, completions 4, parallelism 2: 0 succeeded, 1 failed then
		// running again → 1 slot: start index 2.
		name: "indexed: lowest free indexes",
		in:   job.Input{Spec: indexed(4, 2), Pods: []job.Pod{succeeded("a", 0), failed("b", 1, 1), running("c", 1)}},
		want: job.Plan{Start: []int{2}, Status: job.Status{Active: 2, Succeeded: 1, Failed: 1, CompletedIndexes: "0"}},
	}, {
		// Index 0 succeeded, then a later pod of it failed → still complete,
		// never started again: parallelism 3 starts 1 and 2.
		name: "indexed: a completed index is never restarted",
		in:   job.Input{Spec: indexed(3, 3), Pods: []job.Pod{succeeded("a", 0), failed("b", 0, 1)}},
		want: job.Plan{Start: []int{1, 2}, Status: job.Status{Active: 2, Succeeded: 1, Failed: 1, CompletedIndexes: "0"}},
	}, {
		// Two active pods of index 0: the newer, pending one goes; a pod
		// of index 5 (completions lowered to 2) goes; index 1 starts.
		name: "indexed: one active pod per index, none out of range",
		in:   job.Input{Spec: indexed(2, 2), Pods: []job.Pod{ready("a", 0), pending("b", 0), running("c", 5)}},
		want: job.Plan{Start: []int{1}, Delete: []string{"b", "c"}, Status: job.Status{Active: 2, Ready: 1}},
	}, {
		// completions 3, parallelism 3, per-index 1: index 0 failed twice
		// (2 > 1: failed, not retried), index 1 once (retried), index 2
		// running → start 1; Failed counts 3 pods.
		name: "indexed: per-index backoff",
		in: job.Input{Spec: with(indexed(3, 3), perIndex(1, nil)), Pods: []job.Pod{failed("a", 0, 1),
			failed("b", 0, 1), failed("c", 1, 1), running("d", 2)}},
		want: job.Plan{Start: []int{1}, Status: job.Status{Active: 2, Failed: 3, FailedIndexes: "0"}},
	}, {
		// A FailIndex rule fails index 0 at its first failure; its other
		// pod (a duplicate still running) is deleted.
		name: "indexed: a FailIndex rule",
		in: job.Input{Spec: with(with(indexed(2, 2), perIndex(3, nil)), policy(rule("FailIndex", "In", "", 3))),
			Pods: []job.Pod{failed("a", 0, 3), running("b", 0)}},
		want: job.Plan{Start: []int{1}, Delete: []string{"b"}, Status: job.Status{Active: 1, Failed: 1, FailedIndexes: "0"}},
	}, {
		// maxFailedIndexes 0: index 0 failed → Failed.
		name: "indexed: max failed indexes exceeded",
		in:   job.Input{Spec: with(indexed(3, 2), perIndex(0, i32(0))), Pods: []job.Pod{failed("a", 0, 1), running("b", 1)}},
		want: job.Plan{Delete: []string{"b"}, Status: job.Status{Failed: 1, FailedIndexes: "0"},
			Finish: failedCond(job.ReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")},
	}, {
		// Every index complete or failed, some failed → Failed FailedIndexes.
		name: "indexed: all indexes settled, some failed",
		in: job.Input{Spec: with(indexed(3, 2), perIndex(0, nil)), Pods: []job.Pod{succeeded("a", 0),
			failed("b", 1, 1), succeeded("c", 2)}},
		want: job.Plan{Status: job.Status{Succeeded: 2, Failed: 1, CompletedIndexes: "0,2", FailedIndexes: "1"},
			Finish: failedCond(job.ReasonFailedIndexes, "Job has failed indexes")},
	}, {
		// Every index complete → Complete.
		name: "indexed: complete",
		in:   job.Input{Spec: indexed(2, 2), Pods: []job.Pod{succeeded("a", 1), succeeded("b", 0)}},
		want: job.Plan{Finish: complete, Status: job.Status{Succeeded: 2, CompletedIndexes: "0-1"}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := job.Compute(c.in)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
				if got.Finish != nil {
					t.Logf("finish %+v", *got.Finish)
				}
			}
		})
	}
}

func TestFormatAndParseIndexes(t *testing.T) {
	for _, c := range []struct {
		ixs []int
		s   string
	}{{nil, ""}, {[]int{3}, "3"}, {[]int{0, 1}, "0-1"}, {[]int{0, 1, 2, 5, 7, 8, 9}, "0-2,5,7-9"}, {[]int{1, 3, 5}, "1,3,5"}} {
		if got := projections.FormatIndexes(c.ixs); got != c.s {
			t.Errorf("FormatIndexes(%v) = %q, want %q", c.ixs, got, c.s)
		}
		got, err := job.ParseIndexes(c.s)
		if err != nil || !reflect.DeepEqual(got, c.ixs) {
			t.Errorf("ParseIndexes(%q) = %v, %v; want %v", c.s, got, err, c.ixs)
		}
	}
	for _, bad := range []string{"a", "-1", "3-2", "1,1", "2,1", "1-", "1,,2", "0-2000000000"} {
		if got, err := job.ParseIndexes(bad); err == nil {
			t.Errorf("ParseIndexes(%q) = %v, want an error", bad, got)
		}
	}
}

// TestPropertiesUnderRandomOutcomes runs Jobs of random shapes pass after
// pass, with pods that start, succeed, fail (some exit codes matched by
// Ignore or FailIndex rules), get listed twice, and vanish once deleted,
// and checks after every pass: never more active pods than parallelism,
// never two of one index, never a completed index started again, never
// more successes than completions, the status is what the pods say, and a
// pass over the plan's result plans nothing more (a fixpoint).
func TestPropertiesUnderRandomOutcomes(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	passes := 0
	defer func() { t.Logf("%d passes", passes) }()
	for run := range 1000 {
		s := randomSpec(rng)
		// pods are the pods as they are; echoes are stale copies of some,
		// listed after them as a fold that repeats itself would.
		var pods, echoes []job.Pod
		var finished *job.Condition
		completed := map[int]bool{}
		for pass := range 200 {
			in := job.Input{Spec: s, Pods: append(pods[:len(pods):len(pods)], echoes...), StartTime: t0, Now: t0.Add(time.Duration(pass) * time.Second), Finished: finished}
			plan := job.Compute(in)
			where := func() string { return "run " + strconv.Itoa(run) + " pass " + strconv.Itoa(pass) }
			if plan.Finish != nil && finished != nil {
				t.Fatalf("%s: finished twice", where())
			}
			if finished != nil && len(plan.Start) > 0 {
				t.Fatalf("%s: started %v after finishing", where(), plan.Start)
			}
			// Carry the plan out.
			byName := map[string]int{}
			for i, p := range pods {
				byName[p.Name] = i
			}
			for _, name := range plan.Delete {
				i := byName[name]
				if pods[i].Deleting || pods[i].Phase == events.PhaseSucceeded || pods[i].Phase == events.PhaseFailed {
					t.Fatalf("%s: deleted %s, not active", where(), name)
				}
				pods[i].Deleting, pods[i].Stopped = true, true
			}
			seen := map[int]bool{}
			for _, ix := range plan.Start {
				if ix >= 0 && (seen[ix] || completed[ix]) {
					t.Fatalf("%s: started index %d again (completed %v)", where(), ix, completed[ix])
				}
				seen[ix] = true
				pods = append(pods, job.Pod{Name: "p" + strconv.Itoa(len(pods)), Index: ix})
			}
			if plan.Finish != nil {
				finished = plan.Finish
			}
			listed := append(pods[:len(pods):len(pods)], echoes...)
			checkInvariants(t, where(), s, listed, plan)
			again := job.Compute(job.Input{Spec: s, Pods: listed, StartTime: t0, Now: in.Now, Finished: finished})
			if len(again.Start) > 0 || len(again.Delete) > 0 || again.Finish != nil || again.Status != plan.Status {
				t.Fatalf("%s: not a fixpoint: %+v after %+v", where(), again, plan)
			}
			if finished != nil && again.Status.Active == 0 {
				break
			}
			// The world moves on.
			for i := range pods {
				p := &pods[i]
				switch {
				case p.Gone:
				case p.Deleting:
					if rng.Intn(3) == 0 {
						p.Gone = true
						if rng.Intn(2) == 0 && p.Phase != events.PhaseSucceeded {
							p.Phase, p.ExitCodes = events.PhaseFailed, map[string]int32{"main": 143}
						}
					}
				case p.Phase == events.PhaseSucceeded || p.Phase == events.PhaseFailed:
				case p.Phase == "" || p.Phase == events.PhasePending:
					if rng.Intn(2) == 0 {
						p.Phase = events.PhaseRunning
					}
				default:
					switch r := rng.Intn(10); {
					case r < 3:
						p.Phase = events.PhaseSucceeded
						if p.Index >= 0 {
							completed[p.Index] = true
						}
					case r < 5:
						p.Phase = events.PhaseFailed
						p.ExitCodes = map[string]int32{"main": int32(rng.Intn(5))}
						p.FinishedAt = in.Now.Add(-time.Duration(rng.Intn(30)) * time.Second) // back-off, often over
					default:
						p.Ready = rng.Intn(2) == 0
					}
				}
			}
			if len(pods) > 0 && rng.Intn(5) == 0 {
				echoes = append(echoes, pods[rng.Intn(len(pods))])
			}
			if rng.Intn(20) == 0 { // parallelism changes
				s.Parallelism = i32(int32(rng.Intn(5)))
			}
			if rng.Intn(15) == 0 { // suspended or resumed
				s.Suspend = new(s.Suspend == nil || !*s.Suspend)
			}
			passes++
		}
	}
}

func randomSpec(rng *rand.Rand) manifest.JobSpec {
	s := spec(int32(1+rng.Intn(8)), int32(rng.Intn(5)))
	s.BackoffLimit = i32(int32(rng.Intn(8)))
	switch rng.Intn(3) {
	case 0:
		s.Completions = nil
	case 1:
		s.CompletionMode = manifest.CompletionIndexed
		if rng.Intn(2) == 0 {
			s.BackoffLimitPerIndex = i32(int32(rng.Intn(3)))
			s.BackoffLimit = nil
			if rng.Intn(2) == 0 {
				s.MaxFailedIndexes = i32(int32(rng.Intn(3)))
			}
		}
	}
	if rng.Intn(4) == 0 {
		s.ActiveDeadlineSeconds = i64(int64(10 + rng.Intn(100)))
	}
	if rng.Intn(2) == 0 {
		s.PodFailurePolicy = &manifest.PodFailurePolicy{Rules: []manifest.PodFailurePolicyRule{
			rule("Ignore", "In", "", 2), rule("FailIndex", "In", "main", 3), rule("FailJob", "In", "", 4)}}
	}
	return s
}

// checkInvariants checks the pods as they are once plan is carried out.
func checkInvariants(t *testing.T, where string, s manifest.JobSpec, pods []job.Pod, plan job.Plan) {
	t.Helper()
	// One entry per name: the first terminal state, else the last; once
	// deleting or gone, for good.
	last := map[string]job.Pod{}
	var names []string
	for _, p := range pods {
		q, ok := last[p.Name]
		if !ok {
			names = append(names, p.Name)
		}
		if ok && (q.Phase == events.PhaseSucceeded || q.Phase == events.PhaseFailed) {
			p.Phase = q.Phase
		}
		p.Deleting, p.Gone = p.Deleting || q.Deleting, p.Gone || q.Gone
		last[p.Name] = p
	}
	active, succeededPods := 0, 0
	perIndex := map[int]int{}
	for _, n := range names {
		p := last[n]
		switch {
		case p.Phase == events.PhaseSucceeded:
			succeededPods++
		case p.Phase == events.PhaseFailed, p.Deleting, p.Gone:
		default:
			active++
			if p.Index >= 0 {
				perIndex[p.Index]++
				if perIndex[p.Index] > 1 {
					t.Fatalf("%s: two active pods of index %d", where, p.Index)
				}
			}
		}
	}
	if active > int(*s.Parallelism) {
		t.Fatalf("%s: %d active, parallelism %d; %+v; %+v", where, active, *s.Parallelism, pods, plan)
	}
	if int(plan.Status.Active) != active {
		t.Fatalf("%s: status says %d active, pods %d", where, plan.Status.Active, active)
	}
	if s.Completions != nil {
		if plan.Status.Succeeded > *s.Completions {
			t.Fatalf("%s: %d succeeded of %d completions", where, plan.Status.Succeeded, *s.Completions)
		}
		if s.CompletionMode != manifest.CompletionIndexed && succeededPods > int(*s.Completions) {
			t.Fatalf("%s: %d pods succeeded of %d completions", where, succeededPods, *s.Completions)
		}
	}
}

// BenchmarkComputeLargeIndexed: completions 100,000, parallelism 1,000;
// 60,000 indexes complete, 2,000 failed once, 1,000 running of which 500
// just finished → 500 to start.
func BenchmarkComputeLargeIndexed(b *testing.B) {
	var pods []job.Pod
	for ix := range 60_000 {
		pods = append(pods, succeeded("s"+strconv.Itoa(ix), ix))
	}
	for ix := 60_000; ix < 62_000; ix++ {
		pods = append(pods, failed("f"+strconv.Itoa(ix), ix, 1))
	}
	for ix := 60_000; ix < 61_000; ix++ {
		p := running("r"+strconv.Itoa(ix), ix)
		if ix%2 == 0 {
			p.Phase = events.PhaseSucceeded
		}
		pods = append(pods, p)
	}
	in := job.Input{Spec: with(indexed(100_000, 1000), func(s *manifest.JobSpec) { s.BackoffLimit = i32(1 << 30) }), Pods: pods}
	plan := job.Compute(in)
	if len(plan.Start) != 500 || plan.Status.Succeeded != 60_500 {
		b.Fatalf("start %d, succeeded %d", len(plan.Start), plan.Status.Succeeded)
	}
	b.ReportAllocs()
	for b.Loop() {
		job.Compute(in)
	}
}
