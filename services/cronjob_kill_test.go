package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/cronjob"
	"github.com/gantry-sh/gantry/services/job"
	"github.com/gantry-sh/gantry/services/runner"
)

// The job and cronjob services are killed at random points, each on its
// own, while a CronJob's run of an Indexed Job of 2,000 completions at
// parallelism 100 goes on (its pods exit 0 after 10 ms), and started again.
// The cronjob service's clock stands just after one scheduled minute, so
// it has exactly one run to decide however often it is restarted: in the
// end the log holds one Job for that minute (one uid), every index
// completed exactly once, never more than 100 pods planned and not ended
// at one instant, and the Job is Complete.
func TestKillingTheJobAndCronJobServicesRunsTheScheduleOnce(t *testing.T) {
	const completions, parallelism, kills = 2000, 100, 6
	if testing.Short() {
		t.Skip("runs 2,000 pods")
	}
	c, ctx := jobCluster(t, 60)
	if _, ok := c.verdict(c.apply(fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      completions: %d
      parallelism: %d
      completionMode: Indexed
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: work
              image: gantry.local/hello:v1
              env:
                - {name: HELLO_RUN_FOR, value: 10ms}
                - {name: HELLO_EXIT_CODE, value: "0"}
              resources:
                requests: {cpu: 10m, memory: 16Mi}
`, completions, parallelism))).(*events.AdmissionAccepted); !ok {
		t.Fatal("cronjob not accepted")
	}
	// The clock of the cronjob service: 10 s past the next minute, and
	// there it stays.
	scheduled := time.Now().Truncate(time.Minute).Add(time.Minute)
	now := scheduled.Add(10 * time.Second)
	jobName := cronjob.JobName("nightly", scheduled)

	type svc struct {
		kill func()
		done chan struct{}
	}
	start := func(s runner.Service, cfg runner.Config) svc {
		rctx, kill := context.WithCancel(ctx)
		done := make(chan struct{})
		r := runner.New(s, c.conn.JS, c.log, cfg)
		go func() { defer close(done); _ = r.Run(rctx) }()
		return svc{kill: kill, done: done}
	}
	startJob := func() svc { return start(job.New(), runner.Config{Resync: 50 * time.Millisecond}) }
	startCron := func() svc {
		return start(cronjob.New(), runner.Config{Resync: 50 * time.Millisecond, Clock: func() time.Time { return now }})
	}
	jobs, crons := startJob(), startCron()
	rng := rand.New(rand.NewPCG(7, 8))
	for range kills {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // the kill point, not synchronization
		switch rng.IntN(3) {
		case 0:
			jobs.kill()
			<-jobs.done
			jobs = startJob()
		case 1:
			crons.kill()
			<-crons.done
			crons = startCron()
		default:
			jobs.kill()
			crons.kill()
			<-jobs.done
			<-crons.done
			jobs, crons = startJob(), startCron()
		}
		t.Logf("killed with %d pods planned", len(countPlans(t, c.conn)))
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && !c.jobFinished(jobName) {
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	jobs.kill()
	crons.kill()
	<-jobs.done
	<-crons.done

	uids := map[string]bool{}
	for _, r := range c.records(events.StreamDecisions, events.SubjectWorkloadAll) {
		if d, ok := r.Event.(*events.WorkloadDecided); ok && d.Kind == "job" {
			if d.Name != jobName {
				t.Errorf("a Job %s besides %s", d.Name, jobName)
			}
			uids[d.UID] = true
		}
	}
	if len(uids) != 1 {
		t.Errorf("%d Jobs decided for the schedule of %s, want 1", len(uids), scheduled)
	}
	res := c.replayJob(jobName)
	t.Logf("%d pods planned, at most %d at once, %d indexes succeeded", res.pods, res.maxActive, len(res.succeeded))
	if res.finished == nil || res.finished.Type != manifest.JobComplete {
		t.Fatalf("finished with %+v, want Complete", res.finished)
	}
	if res.maxActive > parallelism {
		t.Errorf("%d pods planned and not ended at once, want at most %d", res.maxActive, parallelism)
	}
	for ix := range completions {
		if n := res.succeeded[fmt.Sprint(ix)]; n != 1 {
			t.Errorf("index %d: %d Succeeded pods, want 1", ix, n)
		}
	}
}
