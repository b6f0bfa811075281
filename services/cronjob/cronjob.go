package cronjob

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "cronjob"

// FullEvery is how often, by default, Decide examines every CronJob rather
// than only those due, dirty or pending: a bound on the cost of a change
// the fold failed to name, and of a due time lost.
const FullEvery = 10 * time.Second

// PassBudget bounds the decisions of one pass; the CronJobs a pass leaves
// out are pending for the next. A CronJob's pass is a few decisions (a Job,
// its status, a few deletions), so 1,000 serves hundreds of CronJobs due
// in the same minute in one atomic batch of the log.
const PassBudget = 1000

// Service starts the Jobs of CronJobs when their schedules say, and keeps
// their history to the limits; Kubernetes' CronJob controller (v2) with
// time as an argument.
//
// Each pass examines the CronJobs that are due (their next scheduled time
// has come: a heap of next times, so a pass does not walk every CronJob),
// dirty (the CronJob changed, or one of its Jobs did: a Job finishing frees
// a Forbid CronJob and feeds its history) or pending (their last
// examination decided something), and all of them every FullEvery.
//
// What a CronJob decides, at a pass:
//
//   - Due(schedule, earliest, now, startingDeadlineSeconds), earliest the
//     later of its creation and its last scheduled time (the status it
//     decided, w.Decided().LastScheduleTime). Only the most recent time due
//     runs; the ones before it are counted in the message ("missed 3
//     schedules; running the one of …").
//   - Suspended: nothing runs and the last scheduled time stays. On resume,
//     Due looks from that time again, so, as in Kubernetes, the most recent
//     time missed while suspended runs at once if startingDeadlineSeconds
//     allows it (always without a deadline) and the earlier ones never do.
//   - Too late (the most recent time is older than the starting deadline):
//     nothing runs; a status records the miss and moves the last scheduled
//     time to it, so it is reported once (Kubernetes' "Missed scheduled time
//     to start a job").
//   - concurrencyPolicy Forbid with a Job still active: the run is skipped,
//     reported once per scheduled time, and, as in Kubernetes, the last
//     scheduled time does NOT move: the CronJob is examined again at its
//     next scheduled time and whenever one of its Jobs changes, so when the
//     active Job finishes, the time skipped (or a later one) runs then,
//     late, if startingDeadlineSeconds allows. A CronJob that must never
//     run late sets a starting deadline.
//   - Replace: the active Jobs are deleted and the run starts, in one atomic
//     group.
//   - A run is the Job (WorkloadDecided, expecting its subject as the fold
//     last saw it: empty for a new name) and the CronJob's status (last
//     scheduled time) in one atomic group, both with message ids derived
//     from RunID: a restarted service derives the same group and the log
//     refuses the copy, so one scheduled time never runs twice.
//   - History: the newest successfulJobsHistoryLimit Complete Jobs and
//     failedJobsHistoryLimit Failed ones (by scheduled time) are kept, older
//     finished ones deleted.
//   - Deleted: its Jobs are deleted, or released (owner nil) when it was
//     deleted with propagation Orphan.
type Service struct {
	c     *projections.Cluster
	quota *projections.QuotaPass // this pass's quota charges

	// FullEvery is how often Decide examines every CronJob (default
	// FullEvery; zero or less: every time).
	FullEvery time.Duration
	full      runner.FullPasses // when a pass examines everything
	// next is each CronJob's next scheduled time, by workload key; queue
	// holds the same times ordered (with stale entries, skipped when
	// popped: see schedule).
	next  map[string]time.Time
	queue dueQueue
	// pending are the CronJobs whose last examination decided something
	// (examined again until one decides nothing: a decision that never
	// reached the log brings nothing back to mark them dirty).
	pending map[string]bool
	// skipped is, by CronJob, the scheduled time whose Forbid skip was last
	// reported, so it is reported once (after a restart, once more: the
	// message id makes the log drop the copy).
	skipped map[string]time.Time
	// refused is, by CronJob uid, the scheduled time whose Job a quota
	// last refused (said once).
	refused  map[string]time.Time
	examined int // CronJobs examined, ever (tests)
}

// New returns a cronjob service over an empty fold.
func New() *Service {
	return &Service{c: projections.NewCluster(), FullEvery: FullEvery,
		next: map[string]time.Time{}, pending: map[string]bool{}, skipped: map[string]time.Time{}, refused: map[string]time.Time{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service: the decisions about objects (CronJobs,
// their Jobs, the Job controller's status of them).
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		// Only objects: whether a Job has finished is its controller's
		// decision (a condition on the Job), so no pod is folded here.
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectAdmissionAll, events.SubjectWorkloadAll}},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service.
func (s *Service) Decide(now time.Time) []runner.Decision {
	s.full.Every = s.FullEvery
	full := s.full.Full(now)
	keys := s.toExamine(now, full)
	s.c.ClearDirty()
	clear(s.pending)
	s.quota = s.c.QuotaPass()
	var out []runner.Decision
	for _, key := range keys {
		if len(out) >= PassBudget {
			s.pending[key] = true
			continue
		}
		w := s.c.Workloads[key]
		if w == nil || w.Kind != "cronjob" {
			continue
		}
		s.examined++
		ds := s.examine(key, w, now)
		if len(ds) > 0 {
			s.pending[key] = true
			out = append(out, ds...)
		}
	}
	return out
}

// toExamine returns, sorted, the keys of the CronJobs a pass looks at.
// Pods changing are not among the reasons: whether a Job has finished is
// its controller's decision (a condition on the Job), which marks the Job,
// and so its CronJob, dirty.
func (s *Service) toExamine(now time.Time, full bool) []string {
	set := map[string]bool{}
	for s.queue.Len() > 0 && !s.queue[0].at.After(now) {
		e := heap.Pop(&s.queue).(due)
		if at, ok := s.next[e.key]; ok && at.Equal(e.at) {
			delete(s.next, e.key)
			set[e.key] = true
		}
	}
	if full {
		for key, w := range s.c.Workloads {
			if w.Kind == "cronjob" {
				set[key] = true
			}
		}
		s.compact()
	} else {
		for key := range s.pending {
			set[key] = true
		}
		for key := range s.c.Dirty.Workloads {
			if strings.HasPrefix(key, "cronjob/") {
				set[key] = true
			} else if w := s.c.Workloads[key]; w != nil && w.Owner != nil && w.Owner.Kind == "cronjob" {
				set[projections.WorkloadKey("cronjob", w.Namespace, w.Owner.Name)] = true
			}
		}
	}
	keys := make([]string, 0, len(set))
	for key := range set {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys
}

// job is one of a CronJob's Jobs, with what the CronJob needs of it.
type job struct {
	w         *projections.Workload
	scheduled time.Time
	finished  *manifest.Condition // Complete or Failed; nil while active
}

// examine decides for one CronJob and notes when it is next due.
func (s *Service) examine(key string, w *projections.Workload, now time.Time) []runner.Decision {
	jobs := s.jobs(w)
	if w.Deleted {
		s.forget(key)
		return s.deleted(w, jobs)
	}
	spec := w.Object.CronJob()
	if spec == nil {
		s.forget(key)
		return nil
	}
	out := s.history(w, spec, jobs)
	sched, err := manifest.ParseSchedule(spec.Schedule, spec.TimeZone)
	// Admission refuses a bad schedule and a name too long for its Jobs;
	// one accepted by an older version is left alone rather than run wrong.
	if err != nil || len(w.Name) > MaxNameLength || (spec.Suspend != nil && *spec.Suspend) {
		s.forget(key)
		return out
	}
	earliest := w.CreatedAt
	if last := w.Decided().LastScheduleTime; last != nil && last.After(earliest) {
		earliest = *last
	}
	var deadline *time.Duration
	if d := spec.StartingDeadlineSeconds; d != nil {
		dd := time.Duration(*d) * time.Second
		deadline = &dd
	}
	at, missed, tooLate := Due(sched, earliest, now, deadline)
	if at.IsZero() {
		s.schedule(key, NextAfter(sched, earliest))
		return out
	}
	s.schedule(key, NextAfter(sched, at))
	when := at.In(sched.Location()).Format(time.RFC3339)
	var active []job
	for _, j := range jobs {
		if j.finished == nil {
			active = append(active, j)
		}
	}
	switch {
	case tooLate:
		msg := fmt.Sprintf("missed the schedule of %s by more than startingDeadlineSeconds (%ds): not started", when, *spec.StartingDeadlineSeconds)
		if missed > 1 {
			msg = fmt.Sprintf("missed %s schedules, the last of %s, by more than startingDeadlineSeconds (%ds): not started",
				countMissed(missed), when, *spec.StartingDeadlineSeconds)
		}
		return append(out, s.status(w, at, RunID(w.UID, at)+"/missed", msg+tooMany(missed), "", true))
	case spec.ConcurrencyPolicy == manifest.ConcurrencyForbid && len(active) > 0:
		if prev, ok := s.skipped[key]; ok && prev.Equal(at) {
			return out
		}
		s.skipped[key] = at
		msg := fmt.Sprintf("skipped the run of %s: Job %s still running (concurrencyPolicy Forbid)", when, active[0].w.Name)
		return append(out, s.status(w, time.Time{}, RunID(w.UID, at)+"/skipped", msg, "", false))
	}
	delete(s.skipped, key)
	return append(out, s.run(w, spec, at, when, missed, active)...)
}

// run starts the Job of the scheduled time at: with Replace, the active
// Jobs are deleted first; all in one atomic group with the status.
//
// Worked example: "*/5 * * * *", last scheduled 12:00 on 1 January 2025,
// now 12:05:20: at = 12:05 (Unix 1735733100, minute 1735733100/60 =
// 28928885), the Job is <name>-28928885, its uid and the group's message
// ids RunID(uid, 12:05); the status says lastScheduleTime 12:05, so the
// next pass's Due looks after 12:05 and finds nothing until 12:10.
func (s *Service) run(w *projections.Workload, spec *manifest.CronJobSpec, at time.Time, when string, missed int, active []job) []runner.Decision {
	run := RunID(w.UID, at)
	name := JobName(w.Name, at)
	cause := w.Cause()
	if ex := s.c.Workloads[projections.WorkloadKey("job", w.Namespace, name)]; ex != nil && !ex.Deleted {
		if ex.Owner != nil && ex.Owner.UID == w.UID {
			// Made already (its status lost): record the time, nothing more.
			return []runner.Decision{s.status(w, at, run+"/status", "", run, true)}
		}
		msg := fmt.Sprintf("skipped the run of %s: Job %s exists and is not this CronJob's", when, name)
		return []runner.Decision{s.status(w, at, run+"/status", msg, run, true)}
	}
	if why := s.quota.Object(w.Namespace, jobKind, name); why != "" {
		// Refused where it is decided, as Kubernetes' quota refuses the
		// create: said once per scheduled time (then nothing is decided,
		// so the CronJob is not pending); tried again when the CronJob or
		// its Jobs change, or at the next schedule.
		if prev, ok := s.refused[w.UID]; ok && prev.Equal(at) {
			return nil
		}
		s.refused[w.UID] = at
		return []runner.Decision{s.status(w, time.Time{}, run+"/quota", "FailedCreate: "+why, "", false)}
	}
	delete(s.refused, w.UID)
	var out []runner.Decision
	if spec.ConcurrencyPolicy == manifest.ConcurrencyReplace {
		for _, j := range active {
			d := s.deletion(j.w, fmt.Sprintf("replaced by the run of %s (concurrencyPolicy Replace)", when), cause)
			d.Atomic = run
			out = append(out, d)
		}
	}
	obj, err := json.Marshal(manifest.ScheduledJob(w.Object, name, at))
	if err != nil {
		return nil // a spec that admission accepted encodes; nothing sane to decide otherwise
	}
	out = append(out, runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, "job", name),
		Event: &events.WorkloadDecided{Kind: "job", Namespace: w.Namespace, Name: name, UID: run, Generation: 1,
			Owner: &events.OwnerRef{Kind: "cronjob", Name: w.Name, UID: w.UID}, Object: obj},
		Meta:          cause.Caused(events.DeriveID(run), Name, w.Namespace+"/"+name, time.Time{}),
		MsgID:         run,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq("job", w.Namespace, name)),
		Atomic:        run,
	})
	msg := fmt.Sprintf("started Job %s for the schedule of %s", name, when)
	if missed > 1 {
		msg = fmt.Sprintf("missed %s schedules; running the one of %s as Job %s", countMissed(missed), when, name)
	}
	return append(out, s.status(w, at, run+"/status", msg+tooMany(missed), run, true))
}

// jobKind is the Job's entry in the kind registry, for quota checks.
var jobKind, _ = manifest.KindOfToken("job")

// countMissed writes a count from Due: past MaxMissed it is "more than 100".
func countMissed(n int) string {
	if n > MaxMissed {
		return fmt.Sprintf("more than %d", MaxMissed)
	}
	return fmt.Sprint(n)
}

// tooMany is Kubernetes' warning for more than MaxMissed missed times.
func tooMany(missed int) string {
	if missed <= MaxMissed {
		return ""
	}
	return "; too many missed start times: set or decrease startingDeadlineSeconds or check clock skew"
}

// status decides the CronJob's status: the last scheduled time (unless
// zero) and a message. fenced ones (those moving the last scheduled time)
// expect the CronJob's subject as the fold saw it, so a stale pass cannot
// move it back.
func (s *Service) status(w *projections.Workload, at time.Time, msgID, msg, atomic string, fenced bool) runner.Decision {
	e := &events.WorkloadStatusDecided{Kind: "cronjob", Namespace: w.Namespace, Name: w.Name, UID: w.UID, Message: msg}
	if !at.IsZero() {
		t := at
		e.LastScheduleTime = &t
	}
	d := runner.Decision{
		Subject: events.WorkloadSubject(w.Namespace, "cronjob", w.Name),
		Event:   e,
		Meta:    w.Cause().Caused(events.DeriveID(msgID), Name, w.Namespace+"/"+w.Name, time.Time{}),
		MsgID:   msgID,
		Atomic:  atomic,
	}
	if fenced {
		d.ExpectLastSeq = bus.Expect(s.c.WorkloadDecisionSeq("cronjob", w.Namespace, w.Name))
	}
	return d
}

// jobs are the CronJob's Jobs that exist, oldest scheduled first.
func (s *Service) jobs(w *projections.Workload) []job {
	var out []job
	for _, o := range s.c.OwnedWorkloads(w.UID) {
		if o.Kind != "job" || o.Deleted {
			continue
		}
		j := job{w: o, scheduled: o.CreatedAt}
		if v, ok := o.Object.Metadata.Annotations[manifest.CronJobScheduledTimestampAnnotation]; ok {
			if t, err := time.Parse(time.RFC3339, v); err == nil {
				j.scheduled = t
			}
		}
		if c, done := s.c.Status(o).Finished(); done {
			j.finished = c
		}
		out = append(out, j)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].scheduled.Equal(out[b].scheduled) {
			return out[a].scheduled.Before(out[b].scheduled)
		}
		return out[a].w.Name < out[b].w.Name
	})
	return out
}

// history deletes the finished Jobs beyond the limits, oldest first.
//
// Worked example: successfulJobsHistoryLimit 3, failedJobsHistoryLimit 1;
// Jobs of 10:00 (Complete), 11:00 (Failed), 12:00 (Complete), 13:00
// (Failed), 14:00 (Complete), 15:00 (Complete), 16:00 (running): 10:00 is
// the fourth newest Complete and 11:00 the second newest Failed: both are
// deleted; 16:00, active, counts in neither.
func (s *Service) history(w *projections.Workload, spec *manifest.CronJobSpec, jobs []job) []runner.Decision {
	keep := map[string]int{manifest.JobComplete: manifest.DefaultSuccessfulJobsHistory, manifest.JobFailed: manifest.DefaultFailedJobsHistory}
	if l := spec.SuccessfulJobsHistoryLimit; l != nil {
		keep[manifest.JobComplete] = int(*l)
	}
	if l := spec.FailedJobsHistoryLimit; l != nil {
		keep[manifest.JobFailed] = int(*l)
	}
	cause := w.Cause()
	var out []runner.Decision
	seen := map[string]int{}
	for i := len(jobs) - 1; i >= 0; i-- { // newest first
		j := jobs[i]
		if j.finished == nil {
			continue
		}
		typ := j.finished.Type
		seen[typ]++
		if seen[typ] > keep[typ] {
			limit := "successfulJobsHistoryLimit"
			if typ == manifest.JobFailed {
				limit = "failedJobsHistoryLimit"
			}
			out = append(out, s.deletion(j.w, fmt.Sprintf("history limit: %s %d", limit, keep[typ]), cause))
		}
	}
	return out
}

// deleted deletes a deleted CronJob's Jobs, or releases them (owner nil, a
// new generation) when it was deleted with propagation Orphan.
func (s *Service) deleted(w *projections.Workload, jobs []job) []runner.Decision {
	cause := w.Cause()
	var out []runner.Decision
	for _, j := range jobs {
		if !w.Orphan {
			out = append(out, s.deletion(j.w, "cronjob "+w.Name+" deleted", cause))
			continue
		}
		obj, err := json.Marshal(j.w.Object)
		if err != nil {
			continue
		}
		gen := j.w.Generation + 1
		msgID := fmt.Sprintf("cronjob/release/%s/%d", j.w.UID, gen)
		out = append(out, runner.Decision{
			Subject: events.WorkloadSubject(j.w.Namespace, "job", j.w.Name),
			Event: &events.WorkloadDecided{Kind: "job", Namespace: j.w.Namespace, Name: j.w.Name, UID: j.w.UID,
				Generation: gen, Object: obj},
			Meta:          cause.Caused(events.DeriveID(msgID), Name, j.w.Namespace+"/"+j.w.Name, time.Time{}),
			MsgID:         msgID,
			ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq("job", j.w.Namespace, j.w.Name)),
		})
	}
	return out
}

// deletion deletes a Job the CronJob owns; its controller then deletes its
// pods. The message id is the Job's uid: it is deleted once.
func (s *Service) deletion(j *projections.Workload, reason string, cause events.Envelope) runner.Decision {
	msgID := "cronjob/delete/" + j.UID
	return runner.Decision{
		Subject:       events.WorkloadSubject(j.Namespace, "job", j.Name),
		Event:         &events.WorkloadDeleted{Kind: "job", Namespace: j.Namespace, Name: j.Name, UID: j.UID, Reason: reason},
		Meta:          cause.Caused(events.DeriveID(msgID), Name, j.Namespace+"/"+j.Name, time.Time{}),
		MsgID:         msgID,
		ExpectLastSeq: bus.Expect(s.c.WorkloadDecisionSeq("job", j.Namespace, j.Name)),
	}
}

// schedule notes a CronJob's next scheduled time (zero: never). The queue
// gets an entry only when the time changes; entries left behind by a
// change are skipped when popped, and dropped by compact.
func (s *Service) schedule(key string, at time.Time) {
	if at.IsZero() {
		delete(s.next, key)
		return
	}
	if cur, ok := s.next[key]; ok && cur.Equal(at) {
		return
	}
	s.next[key] = at
	heap.Push(&s.queue, due{at: at, key: key})
}

// forget drops what the service keeps of a CronJob that is not scheduled
// (deleted, suspended, unusable).
func (s *Service) forget(key string) {
	delete(s.next, key)
	delete(s.skipped, key)
}

// compact rebuilds the queue from next when stale entries outnumber live
// ones (a CronJob rescheduled often, or many deleted).
func (s *Service) compact() {
	if len(s.queue) <= 2*len(s.next)+64 {
		return
	}
	s.queue = s.queue[:0]
	for key, at := range s.next {
		s.queue = append(s.queue, due{at: at, key: key})
	}
	heap.Init(&s.queue)
}

// due is a CronJob's next scheduled time in the queue.
type due struct {
	at  time.Time
	key string
}

// dueQueue is a min-heap of due times (container/heap), earliest first,
// then by key.
type dueQueue []due

func (q dueQueue) Len() int { return len(q) }
func (q dueQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].key < q[j].key
}
func (q dueQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *dueQueue) Push(x any)   { *q = append(*q, x.(due)) }
func (q *dueQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
