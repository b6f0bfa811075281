package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// BenchmarkBatch measures the batch kinds on simulated nodes (`gantry up
// --node=false` and `gantry sim` in two processes, as B1).
//
// B8-ds: GANTRY_B8_DS_NODES (default 5,000) Ready nodes, then one
// DaemonSet applied; seconds from its intent to the last node's daemon pod
// reported Running.
//
// B8: a fresh cluster of GANTRY_B8_NODES (default 1,000) nodes and one
// Indexed Job of GANTRY_B8_COMPLETIONS (10,000) completions at parallelism
// GANTRY_B8_PARALLELISM (1,000), whose pods run the demo image's behaviour
// HELLO_RUN_FOR=1s HELLO_EXIT_CODE=0 (the simulated runtime honours it as
// the image does); completions_per_s = completions / (the Job's Complete
// condition stored − its intent). For comparison: Kubernetes measured
// 10,000 Indexed pods in about 225 s (~45 pods/s) when it built Job
// tracking with finalizers. Its last line is
// `B8 completions_per_s=… pods=… nodes=…`.
func BenchmarkBatch(b *testing.B) {
	dsNodes := envInt(b, "GANTRY_B8_DS_NODES", 5000)
	nodes := envInt(b, "GANTRY_B8_NODES", 1000)
	completions := envInt(b, "GANTRY_B8_COMPLETIONS", 10000)
	parallelism := envInt(b, "GANTRY_B8_PARALLELISM", 1000)
	budget := envDuration(b, "GANTRY_B8_TIMEOUT", 8*time.Minute)

	if dsNodes > 0 {
		secs, running := benchDaemonSet(b, dsNodes, budget/2)
		fmt.Printf("B8-ds seconds=%.1f nodes=%d running=%d\n", secs, dsNodes, running)
	}
	rate, pods, took := benchJob(b, nodes, completions, parallelism, budget/2)
	fmt.Printf("B8-detail completions=%d parallelism=%d took_s=%.1f pods=%d\n", completions, parallelism, took.Seconds(), pods)
	fmt.Printf("B8 completions_per_s=%.0f pods=%d nodes=%d\n", rate, pods, nodes)
}

// batchCluster starts a control plane and n simulated nodes, and waits for
// them to be Ready.
func batchCluster(b *testing.B, n int, budget time.Duration) (*cluster, *bus.Conn) {
	c := newCluster(b)
	c.up("--node=false")
	sim := c.start("sim", "--nodes", strconv.Itoa(n), "--cpu", "32", "--memory", "128Gi", "--pods", "110", "--name-prefix", "sim")
	c.waitFor("the simulated nodes to start", budget, func() bool { return strings.Contains(sim.out.String(), "nodes ready") })
	c.waitFor(fmt.Sprintf("%d Ready nodes", n), budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == n
	})
	conn, err := bus.Connect(c.url, "bench-b8", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(conn.Close)
	return c, conn
}

// applyIntent appends one apply intent and returns its time.
func applyIntent(b testing.TB, conn *bus.Conn, kind, name string, obj map[string]any) time.Time {
	raw, err := json.Marshal(obj)
	if err != nil {
		b.Fatal(err)
	}
	env, err := events.Seal(&events.IntentApplied{Kind: kind, Namespace: "default", Name: name, Object: raw},
		events.Meta{ID: events.NewID(), Source: "cli", Subject: "default/" + name, Time: time.Now(), Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publishAll(ctx, b, conn, []bus.Outgoing{{Subject: events.IntentSubject("default", kind, name), Envelope: env, MsgID: env.ID}})
	return env.Time
}

func benchTemplate(name string, env map[string]string, restart string) map[string]any {
	var envs []any
	for k, v := range env {
		envs = append(envs, map[string]any{"name": k, "value": v})
	}
	spec := map[string]any{"containers": []any{map[string]any{"name": "app", "image": imageRef, "env": envs}}}
	if restart != "" {
		spec["restartPolicy"] = restart
	}
	return map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": name}}, "spec": spec}
}

func benchDaemonSet(b *testing.B, n int, budget time.Duration) (seconds float64, running int) {
	c, conn := batchCluster(b, n, budget)
	defer c.teardown()
	const name = "b8-ds"
	w := newBatchWatch(name + "-")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}
	at := applyIntent(b, conn, "daemonset", name, map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]string{"app": name}},
			"template": benchTemplate(name, nil, "")},
	})
	deadline := time.Now().Add(budget)
	for w.runningCount() < n && time.Now().Before(deadline) {
		if err := w.failure(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	last, count := w.lastRunning()
	if count < n {
		b.Fatalf("B8-ds: %d of %d daemon pods Running after %s", count, n, budget)
	}
	return last.Sub(at).Seconds(), count
}

func benchJob(b *testing.B, n, completions, parallelism int, budget time.Duration) (rate float64, pods int, took time.Duration) {
	c, conn := batchCluster(b, n, budget)
	defer c.teardown()
	const name = "b8-job"
	w := newBatchWatch(name + "-")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}
	at := applyIntent(b, conn, "job", name, map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{"completions": completions, "parallelism": parallelism, "completionMode": "Indexed",
			"template": benchTemplate(name, map[string]string{"HELLO_RUN_FOR": "1s", "HELLO_EXIT_CODE": "0"}, "Never")},
	})
	deadline := time.Now().Add(budget)
	next := time.Now().Add(10 * time.Second)
	for w.completeAt().IsZero() && time.Now().Before(deadline) {
		if err := w.failure(); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(next) {
			fmt.Printf("B8-progress t_s=%.0f planned=%d succeeded=%d\n", time.Since(at).Seconds(), w.plannedCount(), w.succeededCount())
			next = next.Add(10 * time.Second)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	done := w.completeAt()
	if done.IsZero() {
		b.Fatalf("B8: the Job is not Complete after %s: %d planned, %d succeeded", budget, w.plannedCount(), w.succeededCount())
	}
	if s := w.succeededCount(); s != completions {
		b.Fatalf("B8: %d pods succeeded, want exactly %d", s, completions)
	}
	took = done.Sub(at)
	return float64(completions) / took.Seconds(), w.plannedCount(), took
}

// batchWatch follows the log for one workload's pods (by name prefix):
// planned, Running and Succeeded pods, and the workload's Complete or
// Failed condition, by the time the log stored them.
type batchWatch struct {
	prefix    string
	mu        sync.Mutex
	planned   map[string]bool
	running   map[string]time.Time
	succeeded map[string]bool
	complete  time.Time
	err       error
}

func newBatchWatch(prefix string) *batchWatch {
	return &batchWatch{prefix: prefix, planned: map[string]bool{}, running: map[string]time.Time{}, succeeded: map[string]bool{}}
}

type batchEnv struct {
	Type string `json:"type"`
	Data struct {
		Name       string `json:"name"`
		Phase      string `json:"phase"`
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
		Reasons []string `json:"reasons"`
	} `json:"data"`
}

func (w *batchWatch) follow(ctx context.Context, js jetstream.JetStream) error {
	return followLog(ctx, js, []logSource{
		{events.StreamDecisions, []string{events.SubjectPodDecAll, events.SubjectAdmissionAll, events.SubjectWorkloadAll}},
		{events.StreamObservations, []string{events.SubjectObsPodAll}},
	}, w.take)
}

func (w *batchWatch) take(data []byte, stored time.Time) {
	var e batchEnv
	if err := json.Unmarshal(data, &e); err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e.Type {
	case events.TypePodPlanned:
		if strings.HasPrefix(e.Data.Name, w.prefix) {
			w.planned[e.Data.Name] = true
		}
	case events.TypePodStatusObserved:
		if !strings.HasPrefix(e.Data.Name, w.prefix) {
			return
		}
		switch e.Data.Phase {
		case events.PhaseRunning:
			if _, ok := w.running[e.Data.Name]; !ok {
				w.running[e.Data.Name] = stored
			}
		case events.PhaseSucceeded:
			w.succeeded[e.Data.Name] = true
		}
	case events.TypeWorkloadStatus:
		for _, c := range e.Data.Conditions {
			switch {
			case c.Type == "Complete" && c.Status == "True" && w.complete.IsZero():
				w.complete = stored
			case c.Type == "Failed" && c.Status == "True":
				w.err = fmt.Errorf("%s failed: %s: %s", e.Data.Name, c.Reason, c.Message)
			}
		}
	case events.TypeAdmissionRejected:
		w.err = fmt.Errorf("%s rejected: %v", e.Data.Name, e.Data.Reasons)
	}
}

func (w *batchWatch) runningCount() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.running) }
func (w *batchWatch) plannedCount() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.planned) }
func (w *batchWatch) succeededCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.succeeded)
}
func (w *batchWatch) completeAt() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.complete }
func (w *batchWatch) failure() error        { w.mu.Lock(); defer w.mu.Unlock(); return w.err }

func (w *batchWatch) lastRunning() (time.Time, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var last time.Time
	for _, t := range w.running {
		if t.After(last) {
			last = t
		}
	}
	return last, len(w.running)
}
