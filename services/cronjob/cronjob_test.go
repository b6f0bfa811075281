package cronjob_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/cronjob"
	"github.com/gantry-sh/gantry/services/runner"
)

const ns = "default"

// at is a time of 1 January 2025 (the log starts at 12:00 UTC).
func at(h, m, s int) time.Time { return time.Date(2025, 1, 1, h, m, s, 0, time.UTC) }

// cronJobObject is a valid, defaulted CronJob of one container.
func cronJobObject(t testing.TB, name, schedule string, mutate func(*manifest.CronJobSpec)) manifest.Object {
	t.Helper()
	spec := manifest.CronJobSpec{Schedule: schedule, JobTemplate: manifest.JobTemplateSpec{
		Metadata: manifest.TemplateMeta{Labels: map[string]string{"team": "data"}},
		Spec: manifest.JobSpec{Template: manifest.PodTemplateSpec{Spec: manifest.PodSpec{RestartPolicy: "Never",
			Containers: []manifest.Container{{Name: "app", Image: "gantry.local/hello:v1"}}}}}}}
	if mutate != nil {
		mutate(&spec)
	}
	o := manifest.Object{APIVersion: manifest.APIBatchV1, Kind: manifest.KindCronJob,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: ns}, Spec: &spec}
	o.Defaults()
	if errs := manifest.Validate(o); errs != nil {
		t.Fatalf("invalid CronJob: %v", errs)
	}
	return o
}

// harness is a cronjob service over an in-memory log: decide stores a
// pass's decisions as the runner would (an atomic group all or none, an
// expectation that fails refuses its unit, a message id seen before is
// dropped) and folds what was stored back into the service.
type harness struct {
	t *testing.T
	l *pt.Log
	s *cronjob.Service
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, l: pt.NewLog(), s: cronjob.New()}
}

// pass is what one Decide gave and what the log made of it.
type pass struct {
	decisions []runner.Decision
	stored    []events.Record
	dups      int // dropped: the message id was stored before
	refused   int // decisions of units refused by an expectation
}

func (h *harness) accept(o manifest.Object, uid string, gen int64) {
	h.s.Apply(h.l.Accepted(o, uid, gen))
}

func (h *harness) decide(now time.Time) pass {
	h.t.Helper()
	h.l.Now = now
	p := pass{decisions: h.s.Decide(now)}
	// Units in order: an atomic group sits where its first decision is.
	var units [][]runner.Decision
	group := map[string]int{}
	for _, d := range p.decisions {
		if i, ok := group[d.Atomic]; ok && d.Atomic != "" {
			units[i] = append(units[i], d)
			continue
		}
		if d.Atomic != "" {
			group[d.Atomic] = len(units)
		}
		units = append(units, []runner.Decision{d})
	}
	for _, u := range units {
		ok := true
		for _, d := range u {
			if d.ExpectLastSeq != nil && h.l.LastSeq(d.Subject) != *d.ExpectLastSeq {
				ok = false
			}
		}
		if !ok {
			p.refused += len(u)
			continue
		}
		for _, d := range u {
			rec, dup, err := h.l.Publish(d.Subject, d.Event, d.MsgID, nil, "")
			if err != nil {
				h.t.Fatalf("publish: %v", err)
			}
			if dup {
				p.dups++
				continue
			}
			p.stored = append(p.stored, rec)
		}
	}
	for _, r := range p.stored {
		h.s.Apply(r)
	}
	return p
}

// restart is a new service that replays the log.
func (h *harness) restart() {
	h.s = cronjob.New()
	pt.ApplyAll(h.s, h.l.Records...)
}

// finish records the Job controller's verdict on a Job: Complete or Failed.
func (h *harness) finish(job, condition string) {
	h.t.Helper()
	var uid string
	for _, r := range h.l.Records {
		if e, ok := r.Event.(*events.WorkloadDecided); ok && e.Kind == "job" && e.Name == job {
			uid = e.UID
		}
	}
	if uid == "" {
		h.t.Fatalf("no Job %s", job)
	}
	h.s.Apply(h.l.Append(events.WorkloadSubject(ns, "job", job), &events.WorkloadStatusDecided{Kind: "job", Namespace: ns,
		Name: job, UID: uid, Conditions: []manifest.Condition{{Type: condition, Status: manifest.ConditionTrue}}}))
}

// summary writes a pass's stored records one a line, for comparing:
// "job x-29…: decided (owner cj)", "cronjob cj: lastScheduleTime 12:05 «msg»",
// "job x: deleted (reason)".
func (p pass) summary() []string {
	var out []string
	for _, r := range p.stored {
		switch e := r.Event.(type) {
		case *events.WorkloadDecided:
			owner := "none"
			if e.Owner != nil {
				owner = e.Owner.Name
			}
			out = append(out, fmt.Sprintf("%s %s: decided gen %d (owner %s)", e.Kind, e.Name, e.Generation, owner))
		case *events.WorkloadDeleted:
			out = append(out, fmt.Sprintf("%s %s: deleted (%s)", e.Kind, e.Name, e.Reason))
		case *events.WorkloadStatusDecided:
			last := "-"
			if e.LastScheduleTime != nil {
				last = e.LastScheduleTime.UTC().Format("2006-01-02 15:04")
			}
			out = append(out, fmt.Sprintf("%s %s: last %s «%s»", e.Kind, e.Name, last, e.Message))
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

func jobName(cj string, t time.Time) string { return cronjob.JobName(cj, t) }

func expect(t *testing.T, what string, got pass, want ...string) {
	t.Helper()
	g := got.summary()
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot\n\t%s\nwant\n\t%s", what, strings.Join(g, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// "*/5 * * * *" created at 12:00: nothing before 12:05; at 12:05 one Job,
// <name>-<minutes since the epoch> (12:05 UTC 1 January 2025 is Unix
// 1735733100, minute 28928885), with the CronJob's template, its owner and
// the scheduled time, and the CronJob's last scheduled time, in one atomic
// group; then nothing until 12:10.
func TestFiresAtTheScheduledMinuteOnce(t *testing.T) {
	h := newHarness(t)
	cj := cronJobObject(t, "backup", "*/5 * * * *", nil)
	h.accept(cj, "cj-1", 1)
	expect(t, "12:04:59", h.decide(at(12, 4, 59)))
	name := jobName("backup", at(12, 5, 0))
	if name != "backup-28928885" {
		t.Fatalf("job name %s", name)
	}
	// Deciding twice before anything is read back gives the same
	// decisions, message ids included: the log keeps one copy.
	first := h.s.Decide(at(12, 5, 0))
	p := h.decide(at(12, 5, 0))
	if len(first) != 2 || len(p.decisions) != 2 {
		t.Fatalf("decisions: %d then %d", len(first), len(p.decisions))
	}
	for i := range first {
		if first[i].MsgID != p.decisions[i].MsgID || first[i].Atomic != p.decisions[i].Atomic || first[i].Atomic == "" {
			t.Errorf("decision %d: msg id %q group %q, then %q group %q", i, first[i].MsgID, first[i].Atomic, p.decisions[i].MsgID, p.decisions[i].Atomic)
		}
	}
	expect(t, "12:05", p,
		"job "+name+": decided gen 1 (owner backup)",
		"cronjob backup: last 2025-01-01 12:05 «started Job "+name+" for the schedule of 2025-01-01T12:05:00Z»")
	if p.decisions[0].MsgID != cronjob.RunID("cj-1", at(12, 5, 0)) || *p.decisions[0].ExpectLastSeq != 0 {
		t.Errorf("job decision: msg id %s, expects %d", p.decisions[0].MsgID, *p.decisions[0].ExpectLastSeq)
	}
	e := p.stored[0].Event.(*events.WorkloadDecided)
	if e.UID != cronjob.RunID("cj-1", at(12, 5, 0)) || e.Owner.UID != "cj-1" || e.Owner.Kind != "cronjob" {
		t.Errorf("job %+v", e)
	}
	var job manifest.Object
	if err := json.Unmarshal(e.Object, &job); err != nil {
		t.Fatal(err)
	}
	if job.Kind != manifest.KindJob || job.Metadata.Annotations[manifest.CronJobScheduledTimestampAnnotation] != "2025-01-01T12:05:00Z" ||
		job.Metadata.Labels["team"] != "data" || job.Job() == nil || job.Job().Template.Spec.Containers[0].Image != "gantry.local/hello:v1" {
		t.Errorf("job object %s", e.Object)
	}
	if errs := manifest.Validate(job); errs != nil {
		t.Errorf("the Job is not valid: %v", errs)
	}
	// Again at the same now, once read back: nothing; the earlier copies
	// of the pass stored nothing either.
	expect(t, "12:05 again", h.decide(at(12, 5, 0)))
	expect(t, "12:09:59", h.decide(at(12, 9, 59)))
	expect(t, "12:10:01", h.decide(at(12, 10, 1)),
		"job "+jobName("backup", at(12, 10, 0))+": decided gen 1 (owner backup)",
		"cronjob backup: last 2025-01-01 12:10 «started Job "+jobName("backup", at(12, 10, 0))+" for the schedule of 2025-01-01T12:10:00Z»")
}

// A restarted service replays the log and finds the run made: nothing
// again. A pass stored by a service that died before reading it back is
// stored once: the new service's copy of it is refused or dropped.
func TestRestartDoesNotRunAScheduleAgain(t *testing.T) {
	h := newHarness(t)
	h.accept(cronJobObject(t, "backup", "*/5 * * * *", nil), "cj-1", 1)
	h.decide(at(12, 1, 0))
	// The old service decides and the log stores the pass; it dies before
	// folding it.
	old := h.s
	h.s = cronjob.New()
	pt.ApplyAll(h.s, h.l.Records...)
	h.l.Now = at(12, 5, 10)
	stale := old.Decide(at(12, 5, 10))
	for _, d := range stale {
		if _, _, err := h.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, ""); err != nil {
			t.Fatal(err)
		}
	}
	n := len(h.l.Records)
	// A service that replayed before those were stored decides the same
	// pass: the log keeps nothing of it.
	p := h.decide(at(12, 5, 20))
	if len(p.stored) != 0 || len(p.decisions) != 2 || p.dups+p.refused != 2 {
		t.Errorf("stale restart: stored %v, %d dropped, %d refused", p.summary(), p.dups, p.refused)
	}
	h.restart()
	expect(t, "after restart", h.decide(at(12, 6, 0)))
	if len(h.l.Records) != n {
		t.Errorf("%d records appended after the run", len(h.l.Records)-n)
	}
	jobs := 0
	for _, r := range h.l.Records {
		if _, ok := r.Event.(*events.WorkloadDecided); ok {
			jobs++
		}
	}
	if jobs != 1 {
		t.Errorf("%d Jobs for one schedule", jobs)
	}
}

// Hourly, last run 13:00, down until 16:40: 14:00, 15:00 and 16:00 were
// due; one catch-up, 16:00, with "missed 3". With startingDeadlineSeconds
// 1800, 16:00 is 40 minutes late: nothing runs, the miss is recorded once
// and 17:00 runs on time.
func TestMissedSchedules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline *int64
		want     []string
	}{
		{"one catch-up", nil, []string{
			"job " + jobName("hourly", at(16, 0, 0)) + ": decided gen 1 (owner hourly)",
			"cronjob hourly: last 2025-01-01 16:00 «missed 3 schedules; running the one of 2025-01-01T16:00:00Z as Job " + jobName("hourly", at(16, 0, 0)) + "»"}},
		{"starting deadline exceeded", ptr(int64(1800)), []string{
			"cronjob hourly: last 2025-01-01 16:00 «missed 3 schedules, the last of 2025-01-01T16:00:00Z, by more than startingDeadlineSeconds (1800s): not started»"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.accept(cronJobObject(t, "hourly", "0 * * * *", func(s *manifest.CronJobSpec) { s.StartingDeadlineSeconds = tc.deadline }), "cj-1", 1)
			if p := h.decide(at(13, 0, 10)); len(p.stored) != 2 {
				t.Fatalf("13:00: %v", p.summary())
			}
			expect(t, "16:40", h.decide(at(16, 40, 0)), tc.want...)
			expect(t, "16:45", h.decide(at(16, 45, 0)))
			if p := h.decide(at(17, 0, 30)); len(p.stored) != 2 {
				t.Errorf("17:00: %v", p.summary())
			}
		})
	}
}

// Down a year on "every minute": the count stops past MaxMissed and the
// message carries Kubernetes' warning.
func TestTooManyMissed(t *testing.T) {
	h := newHarness(t)
	h.accept(cronJobObject(t, "often", "* * * * *", nil), "cj-1", 1)
	p := h.decide(time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC))
	s := p.summary()
	if len(s) != 2 || !strings.Contains(s[1], "missed more than 100 schedules; running the one of 2026-01-01T12:00:00Z") ||
		!strings.Contains(s[1], "too many missed start times") {
		t.Errorf("%v", s)
	}
}

// Forbid: a Job still running skips the run, reported once, and the last
// scheduled time stays (Kubernetes): when the Job finishes, the time
// skipped runs then, late; with a starting deadline it is missed instead.
func TestForbidSkipsWhileAJobRuns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline *int64
		want     []string
	}{
		{"runs late when the Job finishes", nil, []string{
			"job " + jobName("f", at(12, 10, 0)) + ": decided gen 1 (owner f)",
			"cronjob f: last 2025-01-01 12:10 «started Job " + jobName("f", at(12, 10, 0)) + " for the schedule of 2025-01-01T12:10:00Z»"}},
		{"missed past the deadline", ptr(int64(60)), []string{
			"cronjob f: last 2025-01-01 12:10 «missed the schedule of 2025-01-01T12:10:00Z by more than startingDeadlineSeconds (60s): not started»"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.accept(cronJobObject(t, "f", "*/5 * * * *", func(s *manifest.CronJobSpec) {
				s.ConcurrencyPolicy = manifest.ConcurrencyForbid
				s.StartingDeadlineSeconds = tc.deadline
			}), "cj-1", 1)
			first := jobName("f", at(12, 5, 0))
			h.decide(at(12, 5, 0))
			expect(t, "12:10, the 12:05 Job running", h.decide(at(12, 10, 0)),
				"cronjob f: last - «skipped the run of 2025-01-01T12:10:00Z: Job "+first+" still running (concurrencyPolicy Forbid)»")
			expect(t, "12:10:30, still running", h.decide(at(12, 10, 30)))
			h.finish(first, manifest.JobComplete)
			expect(t, "12:12, the Job finished", h.decide(at(12, 12, 0)), tc.want...)
		})
	}
}

// Replace: the running Job is deleted and the new one made, in one atomic
// group with the status.
func TestReplaceDeletesTheActiveJobAndRuns(t *testing.T) {
	h := newHarness(t)
	h.accept(cronJobObject(t, "r", "*/5 * * * *", func(s *manifest.CronJobSpec) { s.ConcurrencyPolicy = manifest.ConcurrencyReplace }), "cj-1", 1)
	first, second := jobName("r", at(12, 5, 0)), jobName("r", at(12, 10, 0))
	h.decide(at(12, 5, 0))
	p := h.decide(at(12, 10, 0))
	expect(t, "12:10", p,
		"job "+first+": deleted (replaced by the run of 2025-01-01T12:10:00Z (concurrencyPolicy Replace))",
		"job "+second+": decided gen 1 (owner r)",
		"cronjob r: last 2025-01-01 12:10 «started Job "+second+" for the schedule of 2025-01-01T12:10:00Z»")
	for _, d := range p.decisions {
		if d.Atomic != cronjob.RunID("cj-1", at(12, 10, 0)) {
			t.Errorf("%T not in the run's group (%q)", d.Event, d.Atomic)
		}
	}
	// Allow would have kept both.
	h2 := newHarness(t)
	h2.accept(cronJobObject(t, "r", "*/5 * * * *", nil), "cj-1", 1)
	h2.decide(at(12, 5, 0))
	if s := h2.decide(at(12, 10, 0)).summary(); len(s) != 2 || strings.Contains(strings.Join(s, ""), "deleted") {
		t.Errorf("Allow: %v", s)
	}
}

// Suspended: nothing runs. Resumed at 12:12: the most recent time missed
// (12:10) runs at once, 12:05 never (Kubernetes); with a 60 s starting
// deadline 12:10 is missed instead.
func TestSuspend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline *int64
		want     []string
	}{
		{"catches up the last one", nil, []string{
			"job " + jobName("s", at(12, 10, 0)) + ": decided gen 1 (owner s)",
			"cronjob s: last 2025-01-01 12:10 «missed 2 schedules; running the one of 2025-01-01T12:10:00Z as Job " + jobName("s", at(12, 10, 0)) + "»"}},
		{"within the deadline only", ptr(int64(60)), []string{
			"cronjob s: last 2025-01-01 12:10 «missed 2 schedules, the last of 2025-01-01T12:10:00Z, by more than startingDeadlineSeconds (60s): not started»"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			suspended := cronJobObject(t, "s", "*/5 * * * *", func(s *manifest.CronJobSpec) {
				s.Suspend = ptr(true)
				s.StartingDeadlineSeconds = tc.deadline
			})
			h.accept(suspended, "cj-1", 1)
			expect(t, "12:05", h.decide(at(12, 5, 0)))
			expect(t, "12:10", h.decide(at(12, 10, 0)))
			h.l.Now = at(12, 12, 0)
			h.accept(cronJobObject(t, "s", "*/5 * * * *", func(s *manifest.CronJobSpec) { s.StartingDeadlineSeconds = tc.deadline }), "cj-1", 2)
			expect(t, "resumed at 12:12", h.decide(at(12, 12, 0)), tc.want...)
		})
	}
}

// successfulJobsHistoryLimit 2, failedJobsHistoryLimit 1. Jobs of 12:05,
// 12:10 and 12:15 Complete, 12:20 and 12:25 Failed, 12:30 running: 12:05
// (the third newest Complete) and 12:20 (the second newest Failed) are
// deleted; 12:30 is in neither count.
func TestHistoryLimits(t *testing.T) {
	h := newHarness(t)
	h.accept(cronJobObject(t, "h", "*/5 * * * *", func(s *manifest.CronJobSpec) {
		s.SuccessfulJobsHistoryLimit, s.FailedJobsHistoryLimit = ptr(int32(2)), ptr(int32(1))
	}), "cj-1", 1)
	var names []string
	for m := 5; m <= 30; m += 5 {
		h.decide(at(12, m, 0))
		names = append(names, jobName("h", at(12, m, 0)))
	}
	for i, c := range []string{manifest.JobComplete, manifest.JobComplete, manifest.JobComplete, manifest.JobFailed, manifest.JobFailed} {
		h.finish(names[i], c)
	}
	expect(t, "12:31", h.decide(at(12, 31, 0)),
		"job "+names[3]+": deleted (history limit: failedJobsHistoryLimit 1)",
		"job "+names[0]+": deleted (history limit: successfulJobsHistoryLimit 2)")
	expect(t, "12:32", h.decide(at(12, 32, 0)))
}

func ptr[T any](v T) *T { return &v }

// "0 9 * * *" in Asia/Kolkata (+05:30) fires at 03:30 UTC; the Job's
// annotation says 09:00 in Kolkata.
func TestTimeZone(t *testing.T) {
	h := newHarness(t)
	tz := "Asia/Kolkata"
	h.accept(cronJobObject(t, "k", "0 9 * * *", func(s *manifest.CronJobSpec) { s.TimeZone = &tz }), "cj-1", 1)
	day2 := func(hh, mm int) time.Time { return time.Date(2025, 1, 2, hh, mm, 0, 0, time.UTC) }
	expect(t, "09:00 UTC on the 1st (14:30 in Kolkata)", h.decide(at(12, 0, 30)))
	expect(t, "03:29 UTC on the 2nd", h.decide(day2(3, 29)))
	p := h.decide(day2(3, 30))
	name := jobName("k", day2(3, 30))
	expect(t, "03:30 UTC on the 2nd", p,
		"job "+name+": decided gen 1 (owner k)",
		"cronjob k: last 2025-01-02 03:30 «started Job "+name+" for the schedule of 2025-01-02T09:00:00+05:30»")
	var job manifest.Object
	if err := json.Unmarshal(p.stored[0].Event.(*events.WorkloadDecided).Object, &job); err != nil {
		t.Fatal(err)
	}
	if got := job.Metadata.Annotations[manifest.CronJobScheduledTimestampAnnotation]; got != "2025-01-02T09:00:00+05:30" {
		t.Errorf("scheduled timestamp %q", got)
	}
}

// America/New_York, as schedule.go documents robfig's behaviour: on 9
// March 2025 02:30 does not exist (02:00 EST → 03:00 EDT) and nothing runs
// that day; on 2 November 01:30 happens twice (EDT then EST) and both run,
// an hour apart.
func TestDaylightSavingTime(t *testing.T) {
	ny := "America/New_York"
	utc := func(mo time.Month, d, hh, mm int) time.Time { return time.Date(2025, mo, d, hh, mm, 0, 0, time.UTC) }
	t.Run("spring forward", func(t *testing.T) {
		h := newHarness(t)
		h.l.Now = utc(3, 8, 12, 0) // 8 March 07:00 EST, after that day's 02:30
		h.accept(cronJobObject(t, "d", "30 2 * * *", func(s *manifest.CronJobSpec) { s.TimeZone = &ny }), "cj-1", 1)
		expect(t, "9 March, 04:00 EDT", h.decide(utc(3, 9, 8, 0)))
		expect(t, "10 March, 02:29 EDT", h.decide(utc(3, 10, 6, 29)))
		name := jobName("d", utc(3, 10, 6, 30))
		expect(t, "10 March, 02:30 EDT", h.decide(utc(3, 10, 6, 30)),
			"job "+name+": decided gen 1 (owner d)",
			"cronjob d: last 2025-03-10 06:30 «started Job "+name+" for the schedule of 2025-03-10T02:30:00-04:00»")
	})
	t.Run("fall back", func(t *testing.T) {
		h := newHarness(t)
		h.l.Now = utc(11, 1, 12, 0)
		h.accept(cronJobObject(t, "d", "30 1 * * *", func(s *manifest.CronJobSpec) { s.TimeZone = &ny }), "cj-1", 1)
		first, second := jobName("d", utc(11, 2, 5, 30)), jobName("d", utc(11, 2, 6, 30))
		expect(t, "01:30 EDT", h.decide(utc(11, 2, 5, 30)),
			"job "+first+": decided gen 1 (owner d)",
			"cronjob d: last 2025-11-02 05:30 «started Job "+first+" for the schedule of 2025-11-02T01:30:00-04:00»")
		expect(t, "01:30 EST", h.decide(utc(11, 2, 6, 30)),
			"job "+second+": decided gen 1 (owner d)",
			"cronjob d: last 2025-11-02 06:30 «started Job "+second+" for the schedule of 2025-11-02T01:30:00-05:00»")
	})
}

// A CronJob deleted takes its Jobs with it; deleted with propagation
// Orphan, it releases them (owner nil, the next generation) instead.
func TestCronJobDeleted(t *testing.T) {
	for _, orphan := range []bool{false, true} {
		t.Run(fmt.Sprintf("orphan %v", orphan), func(t *testing.T) {
			h := newHarness(t)
			cj := cronJobObject(t, "c", "*/5 * * * *", nil)
			h.accept(cj, "cj-1", 1)
			h.decide(at(12, 5, 0))
			h.decide(at(12, 10, 0))
			h.finish(jobName("c", at(12, 5, 0)), manifest.JobComplete)
			del := &events.AdmissionAccepted{Op: events.OpDelete, Kind: "cronjob", Namespace: ns, Name: "c", UID: "cj-1", Generation: 1}
			if orphan {
				del.Propagation = events.PropagateOrphan
			}
			h.s.Apply(h.l.Append(events.AdmissionSubject(ns, "cronjob", "c"), del))
			a, b := jobName("c", at(12, 5, 0)), jobName("c", at(12, 10, 0))
			want := []string{"job " + a + ": deleted (cronjob c deleted)", "job " + b + ": deleted (cronjob c deleted)"}
			if orphan {
				want = []string{"job " + a + ": decided gen 2 (owner none)", "job " + b + ": decided gen 2 (owner none)"}
			}
			expect(t, "12:11", h.decide(at(12, 11, 0)), want...)
			expect(t, "12:15: nothing runs for a deleted CronJob", h.decide(at(12, 15, 0)))
		})
	}
}

// A pass examines only the CronJobs due, dirty or pending, and all of them
// every FullEvery: 100 hourly CronJobs, one changed, examined one at a
// time between the hours and all at the hour.
func TestExaminesOnlyWhatIsDueOrDirty(t *testing.T) {
	h := newHarness(t)
	for i := range 100 {
		h.accept(cronJobObject(t, fmt.Sprintf("c%03d", i), "0 * * * *", nil), fmt.Sprintf("cj-%d", i), 1)
	}
	h.decide(at(12, 0, 1)) // the first pass is full
	base := h.s.Examined()
	h.decide(at(12, 0, 2))
	if n := h.s.Examined() - base; n != 0 {
		t.Errorf("a quiet pass examined %d", n)
	}
	h.accept(cronJobObject(t, "c007", "30 * * * *", nil), "cj-7", 2)
	h.decide(at(12, 0, 3))
	if n := h.s.Examined() - base; n != 1 {
		t.Errorf("one changed: %d examined", n)
	}
	p := h.decide(at(12, 30, 0)) // a full pass (FullEvery passed) and c007 due
	if len(p.stored) != 2 {
		t.Errorf("12:30: %v", p.summary())
	}
	base = h.s.Examined()
	h.decide(at(12, 30, 5))
	if n := h.s.Examined() - base; n != 1 {
		t.Errorf("after a run, %d examined (c007 pending, read back)", n)
	}
	h.s.FullEvery = time.Hour
	base = h.s.Examined()
	p = h.decide(at(13, 0, 0))
	if n := h.s.Examined() - base; n != 99 || len(p.stored) != 2*99 {
		t.Errorf("13:00: %d examined, %d stored; want the 99 hourly ones", n, len(p.stored))
	}
}

// A Job a user applied under the name a run would take is left alone: the
// run is skipped and recorded, once.
func TestJobNameTakenByAnotherObject(t *testing.T) {
	h := newHarness(t)
	cj := cronJobObject(t, "n", "*/5 * * * *", nil)
	h.accept(cj, "cj-1", 1)
	name := jobName("n", at(12, 5, 0))
	h.accept(manifest.JobFromCronJob(cj, name), "user-job", 1)
	expect(t, "12:05", h.decide(at(12, 5, 0)),
		"cronjob n: last 2025-01-01 12:05 «skipped the run of 2025-01-01T12:05:00Z: Job "+name+" exists and is not this CronJob's»")
	expect(t, "12:06", h.decide(at(12, 6, 0)))
}

// A quota of one Job in the namespace: the first run makes it; the next
// schedule is refused where it is decided, in Kubernetes' words, and the
// last schedule time stays so the run is tried again.
func TestQuotaRefusesAJob(t *testing.T) {
	h := newHarness(t)
	h.accept(pt.ResourceQuota("default", "jobs", map[string]string{"count/jobs.batch": "1"}), "q-1", 1)
	h.accept(cronJobObject(t, "backup", "*/5 * * * *", nil), "cj-1", 1)
	first := jobName("backup", at(12, 5, 0))
	expect(t, "12:05", h.decide(at(12, 5, 0)),
		"job "+first+": decided gen 1 (owner backup)",
		"cronjob backup: last 2025-01-01 12:05 «started Job "+first+" for the schedule of 2025-01-01T12:05:00Z»")
	second := jobName("backup", at(12, 10, 0))
	expect(t, "12:10", h.decide(at(12, 10, 0)),
		`cronjob backup: last - «FailedCreate: jobs.batch "`+second+`" is forbidden: exceeded quota: jobs, requested: count/jobs.batch=1, used: count/jobs.batch=1, limited: count/jobs.batch=1»`)
	// Said once: the next passes decide nothing (no pending CronJob that
	// would be decided again at once).
	expect(t, "12:10:01", h.decide(at(12, 10, 1)))
	expect(t, "12:10:02", h.decide(at(12, 10, 2)))
}
