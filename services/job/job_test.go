package job_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/job"
	"github.com/gantry-sh/gantry/services/runner"
)

const jobUID = "job-uid-1"

// jobObject is a Job "pi" in default of completions and parallelism, one
// container "main", restartPolicy Never, edited by mods.
func jobObject(completions, parallelism int32, mods ...func(*manifest.JobSpec)) manifest.Object {
	js := spec(completions, parallelism)
	js.Template.Spec.Containers = []manifest.Container{{Name: "main", Image: "gantry.local/hello:v1"}}
	js.Template.Metadata.Labels = map[string]string{"app": "pi"}
	for _, m := range mods {
		m(&js)
	}
	return manifest.Object{APIVersion: "batch/v1", Kind: "Job",
		Metadata: manifest.ObjectMeta{Name: "pi", Namespace: "default"}, Spec: &js}
}

// world is the job service over an in-memory log: decide stores a pass's
// decisions as the log would (fences, duplicates) and folds them back, as
// the runner does before the next pass.
type world struct {
	t *testing.T
	l *pt.Log
	s *job.Service
}

func newWorld(t *testing.T, o manifest.Object) *world {
	w := &world{t: t, l: pt.NewLog(), s: job.New()}
	w.apply(w.l.Accepted(o, jobUID, 1))
	return w
}

func (w *world) apply(rs ...events.Record) { pt.ApplyAll(w.s, rs...) }

func (w *world) decide() []runner.Decision {
	w.t.Helper()
	ds := w.s.Decide(w.l.Now)
	for _, d := range ds {
		rec, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
		if err != nil {
			w.t.Fatalf("store %s: %v", d.MsgID, err)
		}
		if !dup {
			w.apply(rec)
		}
	}
	return ds
}

// run binds a planned pod to n1 and reports it Running.
func (w *world) run(p events.PodPlanned) {
	w.apply(w.l.Bound(p, "n1", 1), w.l.Status("n1", p, 1, events.PhaseRunning, true))
}

// end reports a bound pod ended with exit code code.
func (w *world) end(p events.PodPlanned, code int32) {
	phase := events.PhaseSucceeded
	if code != 0 {
		phase = events.PhaseFailed
	}
	r := w.l.Status("n1", p, 1, phase, false)
	at := w.l.Now
	for i := range r.Event.(*events.PodStatusObserved).Containers {
		cs := &r.Event.(*events.PodStatusObserved).Containers[i]
		cs.ExitCode, cs.FinishedAt = &code, &at
	}
	w.apply(r)
}

func plans(ds []runner.Decision) []events.PodPlanned {
	var out []events.PodPlanned
	for _, d := range ds {
		if p, ok := d.Event.(*events.PodPlanned); ok {
			out = append(out, *p)
		}
	}
	return out
}

func deletions(ds []runner.Decision) []string {
	var out []string
	for _, d := range ds {
		if p, ok := d.Event.(*events.PodDeleted); ok {
			out = append(out, p.Name+": "+p.Reason)
		}
	}
	return out
}

func statuses(ds []runner.Decision) []*events.WorkloadStatusDecided {
	var out []*events.WorkloadStatusDecided
	for _, d := range ds {
		if st, ok := d.Event.(*events.WorkloadStatusDecided); ok {
			out = append(out, st)
		}
	}
	return out
}

func condition(st *events.WorkloadStatusDecided, typ string) *manifest.Condition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			return &st.Conditions[i]
		}
	}
	return nil
}

// completions 3, parallelism 2: 2 pods, then the third once one succeeds,
// then Complete once all three did, decided once; a pass over a settled Job
// decides nothing.
func TestJobRunsToComplete(t *testing.T) {
	w := newWorld(t, jobObject(3, 2))
	ds := w.decide()
	first := plans(ds)
	if len(first) != 2 {
		t.Fatalf("first pass planned %d pods, want 2: %v", len(first), ds)
	}
	st := statuses(ds)
	if len(st) != 1 || st[0].StartTime == nil || !st[0].StartTime.Equal(w.l.Now) {
		t.Fatalf("first pass status = %+v, want the start time", st)
	}
	for _, p := range first {
		if p.Owner == nil || p.Owner.Kind != "job" || p.Owner.UID != jobUID || !strings.HasPrefix(p.Name, "pi-") || len(p.Name) != len("pi-")+5 {
			t.Errorf("pod %s owner %+v", p.Name, p.Owner)
		}
		for k, v := range map[string]string{"app": "pi", job.LabelJobName: "pi", job.LabelControllerUID: jobUID,
			job.LegacyJobName: "pi", job.LegacyControllerUID: jobUID} {
			if p.Labels[k] != v {
				t.Errorf("pod %s label %s = %q, want %q", p.Name, k, p.Labels[k], v)
			}
		}
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a pass with nothing new decided %v", ds)
	}
	w.run(first[0])
	w.run(first[1])
	w.l.Advance(time.Second)
	w.end(first[0], 0)
	third := plans(w.decide())
	if len(third) != 1 || third[0].Name == first[0].Name || third[0].Name == first[1].Name {
		t.Fatalf("after one success planned %v, want one new pod", third)
	}
	w.run(third[0])
	w.end(first[1], 0)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("2 of 3 done, 1 running: decided %v", ds)
	}
	w.l.Advance(time.Second)
	w.end(third[0], 0)
	ds = w.decide()
	st = statuses(ds)
	if len(ds) != 1 || len(st) != 1 {
		t.Fatalf("all done: decided %v, want one status", ds)
	}
	if c := condition(st[0], manifest.JobComplete); c == nil || c.Status != manifest.ConditionTrue || c.Reason != job.ReasonCompletionsReached ||
		st[0].CompletionTime == nil || !st[0].CompletionTime.Equal(w.l.Now) {
		t.Errorf("finish = %+v", st[0])
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Errorf("a complete Job decided again: %v", ds)
	}
}

// Indexed: each pod carries its index (annotation and label), its
// containers JOB_COMPLETION_INDEX, its host name <job>-<index>; an index
// that completed is never started again.
func TestIndexedPodsCarryTheirIndex(t *testing.T) {
	w := newWorld(t, jobObject(3, 2, func(s *manifest.JobSpec) { s.CompletionMode = manifest.CompletionIndexed }))
	ps := plans(w.decide())
	if len(ps) != 2 {
		t.Fatalf("planned %d, want 2", len(ps))
	}
	for i, p := range ps {
		ix := []string{"0", "1"}[i]
		if p.Annotations[manifest.JobCompletionIndexAnnotation] != ix || p.Labels[manifest.JobCompletionIndexAnnotation] != ix {
			t.Errorf("pod %s: annotations %v labels %v, want index %s", p.Name, p.Annotations, p.Labels, ix)
		}
		if !strings.HasPrefix(p.Name, "pi-"+ix+"-") || p.Spec.Hostname != "pi-"+ix {
			t.Errorf("pod %s hostname %q, want pi-%s-<5> and pi-%s", p.Name, p.Spec.Hostname, ix, ix)
		}
		env := p.Spec.Containers[0].Env
		if len(env) == 0 || env[len(env)-1] != (manifest.EnvVar{Name: job.EnvJobCompletionIdx, Value: ix}) {
			t.Errorf("pod %s env %v, want JOB_COMPLETION_INDEX=%s", p.Name, env, ix)
		}
	}
	w.run(ps[0])
	w.end(ps[0], 0)
	next := plans(w.decide())
	if len(next) != 1 || next[0].Annotations[manifest.JobCompletionIndexAnnotation] != "2" {
		t.Fatalf("after index 0 completed planned %v, want index 2", next)
	}
}

// backoffLimit 1: the second failure fails the Job, with its reason, and
// the pod still running is deleted.
func TestBackoffLimitFailsTheJob(t *testing.T) {
	w := newWorld(t, jobObject(3, 2, func(s *manifest.JobSpec) { s.BackoffLimit = i32(1) }))
	ps := plans(w.decide())
	w.run(ps[0])
	w.run(ps[1])
	w.end(ps[0], 1)
	w.l.Advance(job.FailureBackoff) // the back-off after a failure
	repl := plans(w.decide())
	if len(repl) != 1 {
		t.Fatalf("after one failure planned %v, want a replacement", repl)
	}
	w.run(repl[0])
	w.end(repl[0], 2)
	ds := w.decide()
	st := statuses(ds)
	if len(st) != 1 {
		t.Fatalf("decided %v, want the Job failed", ds)
	}
	if c := condition(st[0], manifest.JobFailed); c == nil || c.Reason != job.ReasonBackoffLimitExceeded {
		t.Errorf("status = %+v, want Failed BackoffLimitExceeded", st[0])
	}
	if got := deletions(ds); len(got) != 1 || !strings.HasPrefix(got[0], ps[1].Name+": Job Failed") {
		t.Errorf("deletions = %v, want %s deleted", got, ps[1].Name)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Errorf("a failed Job decided again: %v", ds)
	}
}

// Suspending deletes the active pods and decides Suspended; their stop
// (exit 143) is no failure; resuming plans again and restarts the clock.
func TestSuspendDeletesActivePods(t *testing.T) {
	o := jobObject(4, 2, func(s *manifest.JobSpec) { s.BackoffLimit = i32(0) })
	w := newWorld(t, o)
	ps := plans(w.decide())
	w.run(ps[0])
	w.run(ps[1])
	suspended := jobObject(4, 2, func(s *manifest.JobSpec) { s.BackoffLimit = i32(0); s.Suspend = ptr(true) })
	w.apply(w.l.Accepted(suspended, jobUID, 2))
	w.l.Advance(time.Minute)
	ds := w.decide()
	if got := deletions(ds); len(got) != 2 || !strings.HasSuffix(got[0], ": Job suspended") {
		t.Errorf("deletions = %v, want both pods, Job suspended", got)
	}
	st := statuses(ds)
	if len(st) != 1 || condition(st[0], manifest.JobSuspended) == nil || condition(st[0], manifest.JobSuspended).Status != manifest.ConditionTrue {
		t.Fatalf("status = %+v, want Suspended True", st)
	}
	w.end(ps[0], 143)
	w.apply(w.l.Removed("n1", ps[0], 1))
	w.end(ps[1], 143)
	w.apply(w.l.Removed("n1", ps[1], 1))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("suspended, pods stopped: decided %v (a stop is no failure)", ds)
	}
	w.apply(w.l.Accepted(o, jobUID, 3))
	w.l.Advance(time.Minute)
	ds = w.decide()
	if len(plans(ds)) != 2 {
		t.Errorf("resumed: planned %v, want 2", plans(ds))
	}
	st = statuses(ds)
	if len(st) != 1 || st[0].StartTime == nil || !st[0].StartTime.Equal(w.l.Now) ||
		condition(st[0], manifest.JobSuspended) == nil || condition(st[0], manifest.JobSuspended).Status != "False" {
		t.Errorf("resumed: status = %+v, want Suspended False and a new start time", st)
	}
}

// ttlSecondsAfterFinished: the Job is deleted that long after it finished,
// then its pods.
func TestTTLDeletesTheJob(t *testing.T) {
	w := newWorld(t, jobObject(1, 1, func(s *manifest.JobSpec) { s.TTLSecondsAfterFinished = i32(30) }))
	ps := plans(w.decide())
	w.run(ps[0])
	w.end(ps[0], 0)
	if st := statuses(w.decide()); len(st) != 1 || condition(st[0], manifest.JobComplete) == nil {
		t.Fatalf("status = %v, want Complete", st)
	}
	w.l.Advance(29 * time.Second)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("29 s after: decided %v", ds)
	}
	w.l.Advance(time.Second)
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("30 s after: decided %v, want the Job deleted", ds)
	}
	if d, ok := ds[0].Event.(*events.WorkloadDeleted); !ok || d.UID != jobUID || d.Kind != "job" {
		t.Fatalf("decided %+v, want the Job deleted", ds[0].Event)
	}
	if got := deletions(w.decide()); len(got) != 1 || got[0] != ps[0].Name+": job deleted" {
		t.Errorf("after the Job's deletion: %v, want its pod deleted", got)
	}
}

// Pods that ended are counted once, after they are gone too: a Job of 2
// whose first pod succeeded and was deleted (say by hand) plans one more
// pod, not two, and completes once the second succeeds.
func TestEndedPodsCountOnceGone(t *testing.T) {
	w := newWorld(t, jobObject(2, 1))
	ps := plans(w.decide())
	w.run(ps[0])
	w.end(ps[0], 0)
	w.apply(w.l.Deleted(ps[0], "n1", 1, "by hand"), w.l.Removed("n1", ps[0], 1))
	next := plans(w.decide())
	if len(next) != 1 {
		t.Fatalf("planned %v, want one pod", next)
	}
	w.run(next[0])
	w.end(next[0], 0)
	ds := w.decide()
	if st := statuses(ds); len(ds) != 1 || len(st) != 1 || condition(st[0], manifest.JobComplete) == nil {
		t.Fatalf("decided %v, want Complete", ds)
	}
}

// A pass decided again from the same fold (the service killed before it
// read its pass back) plans the same pods: the log drops the copies.
func TestDecidingAgainPlansTheSamePods(t *testing.T) {
	o := jobObject(10, 3, func(s *manifest.JobSpec) { s.CompletionMode = manifest.CompletionIndexed })
	l := pt.NewLog()
	a, b := job.New(), job.New()
	acc := l.Accepted(o, jobUID, 1)
	a.Apply(acc)
	b.Apply(acc)
	da, db := a.Decide(l.Now), b.Decide(l.Now)
	if len(da) != len(db) || len(plans(da)) != 3 {
		t.Fatalf("decided %d and %d", len(da), len(db))
	}
	for i := range da {
		if da[i].MsgID != db[i].MsgID {
			t.Errorf("decision %d: %s and %s", i, da[i].MsgID, db[i].MsgID)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A quota of 2 pods in the namespace and a Job of parallelism 3: two pods
// are planned and the third is refused where it is decided, with
// Kubernetes' words in the Job's ReplicaFailure condition; once a pod has
// ended, the third is planned and the condition ends.
func TestQuotaRefusesPods(t *testing.T) {
	w := newWorld(t, jobObject(3, 3))
	w.apply(w.l.Accepted(pt.ResourceQuota("default", "pods", map[string]string{"pods": "2"}), "q-uid", 1))
	ds := w.decide()
	ps := plans(ds)
	if len(ps) != 2 {
		t.Fatalf("planned %d pods, want 2", len(ps))
	}
	st := statuses(ds)
	if len(st) != 1 {
		t.Fatalf("statuses: %+v", st)
	}
	c := condition(st[0], manifest.ReplicaFailure)
	if c == nil || c.Status != manifest.ConditionTrue || c.Reason != "FailedCreate" ||
		!strings.Contains(c.Message, "is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2") {
		t.Fatalf("condition = %+v", c)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a pass with nothing changed: %d decisions", len(ds))
	}
	w.run(ps[0])
	w.end(ps[0], 0)
	ds = w.decide()
	if len(plans(ds)) != 1 {
		t.Fatalf("after a pod ended: %d plans", len(plans(ds)))
	}
	if c := condition(statuses(ds)[0], manifest.ReplicaFailure); c == nil || c.Status != manifest.ConditionFalse {
		t.Errorf("condition after = %+v", c)
	}
}
