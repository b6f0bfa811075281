package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// Given web at 10 replicas of A (25 %/25 %: surge 3, unavailable 2),
// when its image changes to B, expect every pod replaced by B's, never
// more than 13 pods nor fewer than 8 available after any record of the
// log, B's ReplicaSet revision 2 at 10 and A's at 0, and the Deployment
// Progressing True NewReplicaSetAvailable with B stable.
func TestRollingUpdateHoldsItsBoundsAtEveryRecord(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(10, "app:a"), 1)
	w.settle()
	if got := w.podImages(); got["app:a"] != 10 {
		t.Fatalf("pods %v", got)
	}
	w.watch()
	w.accept(deployment(10, "app:b"), 2)
	w.settle()
	if got := w.podImages(); got["app:b"] != 10 || got["app:a"] != 0 {
		t.Fatalf("pods %v", got)
	}
	if w.maxPods > 13 || w.minAvailable < 8 {
		t.Errorf("bounds: at most %d pods (want <= 13), at least %d available (want >= 8)", w.maxPods, w.minAvailable)
	}
	if got := w.sizes(); got["app:a"] != 0 || got["app:b"] != 10 {
		t.Errorf("replicasets %v", got)
	}
	c := w.condition(manifest.DeploymentProgressing)
	if c.Status != "True" || c.Reason != manifest.ReasonNewReplicaSetAvailable {
		t.Errorf("progressing %+v", c)
	}
	_, st := w.dep()
	if st.Rollout == nil || st.Rollout.StableRevision != 2 {
		t.Errorf("rollout status %s", show(st.Rollout))
	}
	if story := strings.Join(w.story(), "\n"); !strings.Contains(story, "scaled down replica set web-") || !strings.Contains(story, "maxSurge 3, maxUnavailable 2") {
		t.Errorf("the log's story:\n%s", story)
	}
}

// Given maxSurge 0 and maxUnavailable 1, expect one pod at a time: never
// more than 5 pods, never fewer than 4 available.
func TestRollingUpdateOneAtATime(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(5, "app:a", rolling("0", "1")), 1)
	w.settle()
	w.watch()
	w.accept(deployment(5, "app:b", rolling("0", "1")), 2)
	w.settle()
	if got := w.podImages(); got["app:b"] != 5 || got["app:a"] != 0 {
		t.Fatalf("pods %v", got)
	}
	if w.maxPods > 5 || w.minAvailable < 4 {
		t.Errorf("bounds: at most %d pods (want <= 5), at least %d available (want >= 4)", w.maxPods, w.minAvailable)
	}
}

// Given web at 4 of A, stable, when B's pods crash-loop (2 restarts),
// expect the rollout decided failed (CrashLooping) and rolled back to
// revision 1: A back at 4, B at 0, never fewer than 3 of A's available
// (A's pods are never the ones that go), Progressing False RolledBack.
func TestACrashLoopingRolloutIsRolledBack(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(4, "app:a"), 1)
	w.settle()
	w.behave["app:b"] = health{ready: false, restarts: 2}
	w.watch()
	w.accept(deployment(4, "app:b"), 2)
	w.settle()
	_, st := w.dep()
	r := st.Rollout
	if r == nil || !r.Failed(2) || r.Reason != "CrashLooping" || r.FailedRevision != 2 || r.RolledBackTo != 1 {
		t.Fatalf("rollout status %s", show(r))
	}
	if got := w.sizes(); got["app:a"] != 4 || got["app:b"] != 0 {
		t.Errorf("replicasets %v", got)
	}
	if got := w.podImages(); got["app:a"] != 4 || got["app:b"] != 0 {
		t.Errorf("pods %v", got)
	}
	if w.minAvailable < 3 {
		t.Errorf("available fell to %d, want >= 3", w.minAvailable)
	}
	if c := w.condition(manifest.DeploymentProgressing); c.Status != "False" || c.Reason != manifest.ReasonRolledBack {
		t.Errorf("progressing %+v", c)
	}
	// The user's spec stays as applied: the Deployment still says B.
	d, _ := w.dep()
	if img := d.Object.Deployment().Template.Spec.Containers[0].Image; img != "app:b" {
		t.Errorf("spec image %s", img)
	}

	// Applied again (admission makes generation 3): a new attempt.
	w.behave["app:b"] = health{ready: true}
	w.accept(deployment(4, "app:b"), 3)
	w.settle()
	if got := w.podImages(); got["app:b"] != 4 || got["app:a"] != 0 {
		t.Errorf("after a new attempt: pods %v", got)
	}
	if c := w.condition(manifest.DeploymentProgressing); c.Reason != manifest.ReasonNewReplicaSetAvailable {
		t.Errorf("after a new attempt: progressing %+v", c)
	}
}

// Given auto-rollback "false", a failing rollout halts where it is.
func TestAutoRollbackOffHalts(t *testing.T) {
	w := newWorld(t)
	off := annotate(manifest.AutoRollbackAnnotation, "false")
	w.accept(deployment(4, "app:a", off), 1)
	w.settle()
	w.behave["app:b"] = health{ready: false, restarts: 3}
	w.accept(deployment(4, "app:b", off), 2)
	w.settle()
	_, st := w.dep()
	if st.Rollout == nil || !st.Rollout.Failed(2) || st.Rollout.RolledBackTo != 0 {
		t.Fatalf("rollout status %s", show(st.Rollout))
	}
	if c := w.condition(manifest.DeploymentProgressing); c.Status != "False" || c.Reason != manifest.ReasonRolloutFailed {
		t.Errorf("progressing %+v", c)
	}
	if got := w.podImages(); got["app:a"] < 3 || got["app:b"] == 0 {
		t.Errorf("pods %v: want the halted mix", got)
	}
}

// Given a progress deadline of 30 s and B's pods never ready (without
// restarting), expect no failure before 30 s, then ProgressDeadlineExceeded
// and a rollback; the service asks to be woken at the deadline.
func TestProgressDeadlineRollsBack(t *testing.T) {
	w := newWorld(t)
	deadline := func(o *manifest.Object) { o.Deployment().ProgressDeadlineSeconds = ptr(int32(30)) }
	w.accept(deployment(4, "app:a", deadline), 1)
	w.settle()
	w.behave["app:b"] = health{ready: false}
	w.accept(deployment(4, "app:b", deadline), 2)
	w.settle()
	if _, st := w.dep(); st.Rollout.Failed(2) {
		t.Fatalf("failed before its deadline")
	}
	wake := w.ro.NextWake()
	if want := w.l.Now.Add(30 * time.Second); !wake.Equal(want) {
		t.Errorf("next wake %v, want %v", wake, want)
	}
	w.l.Advance(30 * time.Second)
	w.settle()
	_, st := w.dep()
	if !st.Rollout.Failed(2) || st.Rollout.Reason != manifest.ReasonProgressDeadlineExceeded || st.Rollout.RolledBackTo != 1 {
		t.Fatalf("rollout status %s", show(st.Rollout))
	}
	if got := w.podImages(); got["app:a"] != 4 || got["app:b"] != 0 {
		t.Errorf("pods %v", got)
	}
}

// Given paused, a new template makes no ReplicaSet; resumed, it rolls.
func TestPausedHoldsTheRollout(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(4, "app:a"), 1)
	w.settle()
	paused := func(o *manifest.Object) { o.Deployment().Paused = true }
	w.accept(deployment(4, "app:b", paused), 2)
	w.settle()
	if got := w.sizes(); len(got) != 1 || got["app:a"] != 4 {
		t.Fatalf("paused: replicasets %v", got)
	}
	if c := w.condition(manifest.DeploymentProgressing); c.Status != "Unknown" || c.Reason != manifest.ReasonDeploymentPaused {
		t.Errorf("progressing %+v", c)
	}
	w.accept(deployment(6, "app:b", paused), 3) // scaling still happens
	w.settle()
	if got := w.sizes(); got["app:a"] != 6 {
		t.Fatalf("scaled while paused: replicasets %v", got)
	}
	w.accept(deployment(6, "app:b"), 4)
	w.settle()
	if got := w.podImages(); got["app:b"] != 6 || got["app:a"] != 0 {
		t.Errorf("resumed: pods %v", got)
	}
}

// Given minReadySeconds 10, B's pods ready at once count as available
// only 10 s later: the rollout goes no further before, and is woken then.
func TestMinReadySecondsGatesAvailability(t *testing.T) {
	w := newWorld(t)
	minReady := func(o *manifest.Object) { o.Deployment().MinReadySeconds = 10 }
	w.accept(deployment(4, "app:a", minReady, rolling("1", "0")), 1)
	w.settle()
	w.l.Advance(10 * time.Second)
	w.settle()
	w.accept(deployment(4, "app:b", minReady, rolling("1", "0")), 2)
	w.settle()
	if got := w.sizes(); got["app:b"] != 1 || got["app:a"] != 4 {
		t.Fatalf("before minReadySeconds: replicasets %v", got)
	}
	if want := w.l.Now.Add(10 * time.Second); !w.ro.NextWake().Equal(want) {
		t.Errorf("next wake %v, want %v", w.ro.NextWake(), want)
	}
	for i := 0; i < 6; i++ {
		w.l.Advance(10 * time.Second)
		w.settle()
	}
	if got := w.podImages(); got["app:b"] != 4 || got["app:a"] != 0 {
		t.Errorf("pods %v", got)
	}
}

// Given a second update during a rollout (A → B, then C before B is
// done), and a rollback during one, expect convergence with the bounds
// held.
func TestUpdatesDuringARollout(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(8, "app:a"), 1)
	w.settle()
	w.watch()
	w.accept(deployment(8, "app:b"), 2)
	w.round()
	w.round()
	w.accept(deployment(8, "app:c"), 3)
	w.settle()
	if got := w.podImages(); got["app:c"] != 8 || len(got) != 1 {
		t.Errorf("after A → B → C: pods %v", got)
	}
	w.accept(deployment(8, "app:d"), 4)
	w.round()
	w.round()
	w.accept(deployment(8, "app:c"), 5) // back before D is done
	w.settle()
	if got := w.podImages(); got["app:c"] != 8 || len(got) != 1 {
		t.Errorf("after the rollback: pods %v", got)
	}
	if w.maxPods > 10 || w.minAvailable < 6 {
		t.Errorf("bounds: at most %d pods (want <= 10), at least %d available (want >= 6)", w.maxPods, w.minAvailable)
	}
}

// Given a scale-down and a scale-up during a rollout, expect convergence
// to the new count of B.
func TestScalingDuringARollout(t *testing.T) {
	w := newWorld(t)
	w.accept(deployment(10, "app:a"), 1)
	w.settle()
	w.accept(deployment(10, "app:b"), 2)
	w.round()
	w.accept(deployment(4, "app:b"), 3)
	w.settle()
	if got := w.podImages(); got["app:b"] != 4 || len(got) != 1 {
		t.Errorf("scaled down mid-rollout: pods %v", got)
	}
	w.accept(deployment(4, "app:c"), 4)
	w.round()
	w.accept(deployment(12, "app:c"), 5)
	w.settle()
	if got := w.podImages(); got["app:c"] != 12 || len(got) != 1 {
		t.Errorf("scaled up mid-rollout: pods %v", got)
	}
}

// Given Recreate, every old pod goes before a new one comes.
func TestRecreateStays(t *testing.T) {
	w := newWorld(t)
	recreate := func(o *manifest.Object) {
		o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.RecreateStrategy}
	}
	w.accept(deployment(3, "app:a", recreate), 1)
	w.settle()
	w.watch()
	w.accept(deployment(3, "app:b", recreate), 2)
	w.settle()
	if got := w.podImages(); got["app:b"] != 3 || len(got) != 1 {
		t.Errorf("pods %v", got)
	}
	if w.maxPods > 3 {
		t.Errorf("%d pods at once under Recreate", w.maxPods)
	}
}

func ptr[T any](v T) *T { return &v }

func canary(steps ...manifest.CanaryStep) func(*manifest.Object) {
	return func(o *manifest.Object) {
		o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.CanaryStrategy,
			Canary: &manifest.CanarySpec{Steps: steps}}
	}
}

var canarySteps = []manifest.CanaryStep{
	{SetWeight: ptr(int32(25))},
	{Pause: &manifest.CanaryPause{}},
	{Analysis: &manifest.CanaryAnalysis{CEL: "pods.ready_ratio == 1.0 && pods.restarts == 0"}},
	{SetWeight: ptr(int32(50))},
	{Pause: &manifest.CanaryPause{Duration: "60s"}},
}

// Given 8 replicas and the steps setWeight 25, pause, analysis,
// setWeight 50, pause 60s: expect 2 of B (6 of A) held until promoted,
// then the analysis passing, 4 and 4 for 60 s, then 8 of B.
func TestCanaryStepsRunInOrder(t *testing.T) {
	w := newWorld(t)
	steps := canary(canarySteps...)
	w.accept(deployment(8, "app:a", steps), 1)
	w.settle()
	w.accept(deployment(8, "app:b", steps), 2)
	w.settle()
	if got := w.podImages(); got["app:b"] != 2 || got["app:a"] != 6 {
		t.Fatalf("at the pause: pods %v", got)
	}
	_, st := w.dep()
	if st.Rollout == nil || st.Rollout.CanaryStep != 1 {
		t.Fatalf("at the pause: rollout %s", show(st.Rollout))
	}
	w.l.Advance(time.Hour) // a pause without a duration waits, deadline or not
	w.settle()
	if got := w.podImages(); got["app:b"] != 2 {
		t.Fatalf("an hour into the pause: pods %v", got)
	}
	// A promotion of an older template's step 1 does not count.
	w.accept(deployment(8, "app:b", steps, annotate(manifest.PromoteAnnotation, "oldtemplate/1")), 3)
	w.settle()
	if got := w.podImages(); got["app:b"] != 2 {
		t.Fatalf("promoted for another template: pods %v", got)
	}
	hash := manifest.TemplateHash(deployment(8, "app:b").Deployment().Template)
	w.accept(deployment(8, "app:b", steps, annotate(manifest.PromoteAnnotation, manifest.PromoteValue(hash, 1))), 4)
	w.settle()
	if got := w.podImages(); got["app:b"] != 4 || got["app:a"] != 4 {
		t.Fatalf("promoted, at 50 %%: pods %v", got)
	}
	w.l.Advance(60 * time.Second)
	w.settle()
	if got := w.podImages(); got["app:b"] != 8 || got["app:a"] != 0 {
		t.Fatalf("after the steps: pods %v", got)
	}
	if _, st := w.dep(); st.Rollout.StableRevision != 2 {
		t.Errorf("rollout %s", show(st.Rollout))
	}
}

// Given an analysis that does not hold (a canary pod restarted once),
// expect AnalysisFailed and a rollback to A.
func TestAFailingAnalysisRollsBack(t *testing.T) {
	w := newWorld(t)
	steps := canary(canarySteps[0], canarySteps[2], canarySteps[3])
	w.accept(deployment(8, "app:a", steps), 1)
	w.settle()
	w.behave["app:b"] = health{ready: true, restarts: 1}
	w.accept(deployment(8, "app:b", steps), 2)
	w.settle()
	_, st := w.dep()
	if st.Rollout == nil || !st.Rollout.Failed(2) || st.Rollout.Reason != rolloutReasonAnalysisFailed || st.Rollout.RolledBackTo != 1 {
		t.Fatalf("rollout %s", show(st.Rollout))
	}
	if got := w.podImages(); got["app:a"] != 8 || got["app:b"] != 0 {
		t.Errorf("pods %v", got)
	}
}

const rolloutReasonAnalysisFailed = "AnalysisFailed"

// Given a deadline of 30 s and B's pods all made at once (Recreate) but
// slow to become ready, expect a pod becoming available 20 s in to count
// as progress though nothing scales: no failure at 40 s, and
// ProgressDeadlineExceeded 30 s after that progress.
func TestAvailabilityIsProgress(t *testing.T) {
	w := newWorld(t)
	deadline := func(o *manifest.Object) {
		o.Deployment().ProgressDeadlineSeconds = ptr(int32(30))
		o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.RecreateStrategy}
	}
	w.accept(deployment(4, "app:a", deadline), 1)
	w.settle()
	w.behave["app:b"] = health{ready: false}
	w.accept(deployment(4, "app:b", deadline), 2)
	w.settle()
	w.l.Advance(20 * time.Second)
	for _, p := range w.c.Pods {
		if p.Spec.Containers[0].Image == "app:b" && !p.Deleting {
			pl := events.PodPlanned{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Owner: p.Owner, TemplateHash: p.TemplateHash,
				Labels: p.Labels, Annotations: p.Annotations, Spec: p.Spec}
			w.apply(w.l.Status(node, pl, p.Epoch, events.PhaseRunning, true))
			break
		}
	}
	w.settle()
	w.l.Advance(20 * time.Second) // 40 s after the scale, 20 s after the progress
	w.settle()
	if _, st := w.dep(); st.Rollout.Failed(2) {
		t.Fatalf("failed 20 s after progress: %s", show(st.Rollout))
	}
	w.l.Advance(10 * time.Second)
	w.settle()
	if _, st := w.dep(); !st.Rollout.Failed(2) || st.Rollout.Reason != manifest.ReasonProgressDeadlineExceeded {
		t.Fatalf("30 s after the last progress: %s", show(st.Rollout))
	}
}
