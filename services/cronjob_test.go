package services_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/cronjob"
	"github.com/gantry-sh/gantry/services/runner"
)

// fakeClock is a time the test moves; the cronjob service reads it as now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// A CronJob "*/1 * * * *" through the log: the cronjob service, on a clock
// the test moves, decides exactly one Job per minute the clock passes, and
// one catch-up (with "missed 3") when it jumps three minutes. The other
// services run on the real clock in their own plane, so node heartbeats
// and expectations keep real time.
func TestCronJobRunsOnceAMinuteThroughTheLog(t *testing.T) {
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	others := slices.DeleteFunc(services.Names(), func(n string) bool { return n == cronjob.Name })
	plane, err := services.Start(ctx, conn, others, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	cron, err := services.Start(ctx, conn, []string{cronjob.Name},
		services.Config{Runner: runner.Config{Resync: 20 * time.Millisecond, Clock: clock.Now}}, log)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*services.Plane{plane, cron} {
		if err := p.WaitReady(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c := &cluster{t: t, conn: conn, url: url}
	id := c.apply(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: every
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: hello
              image: gantry.local/hello:v1
`)
	v, ok := c.verdict(id).(*events.AdmissionAccepted)
	if !ok {
		t.Fatalf("verdict: want accepted, got %#v", c.verdict(id))
	}
	var created time.Time
	for _, r := range c.records(events.StreamDecisions, events.AdmissionSubject("default", "cronjob", "every")) {
		created = r.Envelope.Time
	}
	jobs := func() []string {
		var out []string
		for _, r := range c.records(events.StreamDecisions, events.SubjectWorkloadAll) {
			if e, ok := r.Event.(*events.WorkloadDecided); ok && e.Kind == "job" {
				if e.Owner == nil || e.Owner.UID != v.UID {
					t.Errorf("job %s: owner %+v", e.Name, e.Owner)
				}
				out = append(out, e.Name)
			}
		}
		return out
	}
	status := func() []string {
		var out []string
		for _, r := range c.records(events.StreamDecisions, events.WorkloadSubject("default", "cronjob", "every")) {
			if e, ok := r.Event.(*events.WorkloadStatusDecided); ok {
				out = append(out, e.Message)
			}
		}
		return out
	}
	// The first minute after the CronJob was made, then each next one.
	m1 := created.Truncate(time.Minute).Add(time.Minute)
	var want []string
	for i := range 3 {
		at := m1.Add(time.Duration(i) * time.Minute)
		clock.Set(at.Add(time.Second))
		want = append(want, cronjob.JobName("every", at))
		c.eventually("the Job of "+at.Format(time.TimeOnly), func() bool { return len(jobs()) >= len(want) })
		if got := jobs(); !slices.Equal(got, want) {
			t.Fatalf("after %s: jobs %v, want %v", at.Format(time.TimeOnly), got, want)
		}
	}
	// Three minutes at once: one catch-up.
	at := m1.Add(5 * time.Minute)
	clock.Set(at.Add(30 * time.Second))
	want = append(want, cronjob.JobName("every", at))
	c.eventually("the catch-up Job", func() bool { return len(jobs()) >= len(want) })
	if got := jobs(); !slices.Equal(got, want) {
		t.Fatalf("after the jump: jobs %v, want %v", got, want)
	}
	c.eventually("its status", func() bool { return len(status()) == len(want) })
	if last := status()[len(want)-1]; !strings.HasPrefix(last, "missed 3 schedules; running the one of ") {
		t.Errorf("status message %q", last)
	}
}
