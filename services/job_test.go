package services_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

func jobYAML(name string, completions, parallelism int, mode, runFor string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
  completions: %d
  parallelism: %d
  completionMode: %s
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: work
          image: gantry.local/hello:v1
          env:
            - {name: HELLO_RUN_FOR, value: %s}
            - {name: HELLO_EXIT_CODE, value: "0"}
          resources:
            requests: {cpu: 10m, memory: 16Mi}
`, name, completions, parallelism, mode, runFor)
}

// jobRun is what the log says of one Job's pods: every plan and every
// report, replayed in the order they were decided and observed.
type jobRun struct {
	maxActive int            // most pods planned and not ended at one instant
	succeeded map[string]int // Succeeded pods by completion index ("" NonIndexed: by pod)
	pods      int            // pods planned
	finished  *manifest.Condition
	completed *time.Time
}

// replayJob reads the decisions and the pod reports of the Job named job
// and replays them in time order (a plan is decided after the reports it
// was decided from: its time is its pass's): a pod is active from its plan
// until its node reports it ended, or removed, or its deletion if unbound.
func (c *cluster) replayJob(job string) jobRun {
	c.t.Helper()
	type ev struct {
		at  time.Time
		seq int
		r   events.Record
	}
	var evs []ev
	for i, r := range append(c.records(events.StreamDecisions, events.SubjectDecisionAll), c.records(events.StreamObservations, events.SubjectObsPodAll)...) {
		evs = append(evs, ev{r.Envelope.Time, i, r})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	run := jobRun{succeeded: map[string]int{}}
	owned := map[string]string{} // pod uid → its index annotation ("" NonIndexed)
	active := map[string]bool{}
	seen := map[string]bool{} // uids counted Succeeded
	for _, e := range evs {
		switch x := e.r.Event.(type) {
		case *events.PodPlanned:
			if x.Owner == nil || x.Owner.Kind != "job" || x.Owner.Name != job {
				continue
			}
			owned[x.UID] = x.Annotations[manifest.JobCompletionIndexAnnotation]
			active[x.UID] = true
			run.pods++
		case *events.PodStatusObserved:
			ix, ok := owned[x.UID]
			if !ok || (x.Phase != events.PhaseSucceeded && x.Phase != events.PhaseFailed) {
				continue
			}
			delete(active, x.UID)
			if x.Phase == events.PhaseSucceeded && !seen[x.UID] {
				seen[x.UID] = true
				if ix == "" {
					ix = x.UID
				}
				run.succeeded[ix]++
			}
		case *events.PodRemoved:
			delete(active, x.UID)
		case *events.PodDeleted:
			if x.Node == "" {
				delete(active, x.UID)
			}
		case *events.WorkloadStatusDecided:
			if x.Kind != "job" || x.Name != job {
				continue
			}
			for i := range x.Conditions {
				if x.Conditions[i].Type == manifest.JobComplete || x.Conditions[i].Type == manifest.JobFailed {
					if run.finished != nil {
						c.t.Errorf("job %s finished twice: %+v then %+v", job, *run.finished, x.Conditions[i])
					}
					run.finished = &x.Conditions[i]
				}
			}
			if x.CompletionTime != nil {
				run.completed = x.CompletionTime
			}
		}
		run.maxActive = max(run.maxActive, len(active))
	}
	return run
}

// jobFinished reports whether the log holds the Job's terminal condition.
func (c *cluster) jobFinished(job string) bool {
	for _, r := range c.records(events.StreamDecisions, events.WorkloadSubject("default", "job", job)) {
		if st, ok := r.Event.(*events.WorkloadStatusDecided); ok {
			for _, cond := range st.Conditions {
				if cond.Type == manifest.JobComplete || cond.Type == manifest.JobFailed {
					return true
				}
			}
		}
	}
	return false
}

// A Job of 20 completions, parallelism 5, whose pods exit 0 after 100 ms,
// runs to Complete on simulated nodes: never more than 5 of its pods at
// once, 20 distinct pods succeeded, Complete decided once.
func TestJobRunsToCompleteThroughTheLog(t *testing.T) {
	c := startCluster(t, "node-a", "node-b")
	if _, ok := c.verdict(c.apply(jobYAML("batch", 20, 5, manifest.CompletionNonIndexed, "100ms"))).(*events.AdmissionAccepted); !ok {
		t.Fatal("job not accepted")
	}
	c.eventually("job batch finished", func() bool { return c.jobFinished("batch") })
	run := c.replayJob("batch")
	if run.finished == nil || run.finished.Type != manifest.JobComplete || run.completed == nil {
		t.Errorf("finished with %+v, want Complete and a completion time", run.finished)
	}
	if run.maxActive > 5 {
		t.Errorf("%d pods of the Job planned and not ended at once, want at most 5", run.maxActive)
	}
	if len(run.succeeded) != 20 {
		t.Errorf("%d pods succeeded, want 20", len(run.succeeded))
	}
	t.Logf("%d pods, at most %d at once, %d succeeded", run.pods, run.maxActive, len(run.succeeded))
	if run.pods != 20 {
		t.Errorf("%d pods planned, want 20", run.pods)
	}
}
