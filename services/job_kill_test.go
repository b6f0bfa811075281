package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/job"
	"github.com/gantry-sh/gantry/services/runner"
)

// The job service is killed at random points while an Indexed Job of
// 2,000 completions runs at parallelism 100 on simulated nodes (its pods
// exit 0 after 10 ms), and started again, several times. In the end every
// index completed exactly once (one Succeeded pod per index in the log),
// never more than 100 of its pods were planned and not ended at one
// instant, and the Job is Complete with completedIndexes 0-1999: a pass
// decided again after a kill planned the same pods, which the log dropped.
func TestKillingTheJobServiceCompletesEveryIndexOnce(t *testing.T) {
	const completions, parallelism, kills = 2000, 100, 5
	if testing.Short() {
		t.Skip("runs 2,000 pods")
	}
	began := time.Now()
	c, ctx := jobCluster(t, 50)
	if _, ok := c.verdict(c.apply(jobYAML("many", completions, parallelism, manifest.CompletionIndexed, "10ms"))).(*events.AdmissionAccepted); !ok {
		t.Fatal("job not accepted")
	}

	rng := rand.New(rand.NewPCG(5, 6))
	run := func(stop func()) { c.runKilled(ctx, job.New(), runner.Config{Resync: 50 * time.Millisecond}, stop) }
	for range kills { // killed at random points while the Job runs (it takes about 3 s)
		run(func() { time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) }) // the kill point, not synchronization
		t.Logf("killed with %d pods planned", len(countPlans(t, c.conn)))
	}
	deadline := time.Now().Add(2 * time.Minute)
	run(func() {
		for time.Now().Before(deadline) && !c.jobFinished("many") {
			time.Sleep(100 * time.Millisecond) // polling interval
		}
	})
	t.Logf("finished %s after the start", time.Since(began).Round(time.Millisecond))

	res := c.replayJob("many")
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
	if len(res.succeeded) != completions {
		t.Errorf("%d indexes succeeded, want %d", len(res.succeeded), completions)
	}
	fold := projections.NewCluster()
	for _, r := range append(c.records(events.StreamDecisions, events.SubjectDecisionAll), c.records(events.StreamObservations, events.SubjectObsPodAll)...) {
		fold.Apply(r)
	}
	w := fold.Workloads[projections.WorkloadKey("job", "default", "many")]
	if st := fold.Status(w); st.CompletedIndexes != "0-1999" || st.Succeeded != completions {
		t.Errorf("completedIndexes %q, succeeded %d; want 0-1999, %d", st.CompletedIndexes, st.Succeeded, completions)
	}
}

// jobCluster runs admission and the scheduler, and four simulated nodes
// whose pod CIDRs are 10.<base+i>.0.0/16 (the simulator keeps a finished
// pod's address, so a /24 runs out), until the test ends.
func jobCluster(t *testing.T, base int) (*cluster, context.Context) {
	c := startClusterOf(t, []string{"admission", "scheduler"})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var ready []chan struct{}
	for i := range 4 {
		ready = append(ready, c.addNodeCIDR(ctx, fmt.Sprintf("node-%d", i), fmt.Sprintf("10.%d.0.0/16", base+i), c.log))
	}
	for _, r := range ready {
		select {
		case <-r:
		case <-time.After(10 * time.Second):
			t.Fatal("node not ready")
		}
	}
	return c, ctx
}
