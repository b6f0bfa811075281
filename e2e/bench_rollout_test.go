package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projectiontest"
)

// BenchmarkRollout measures a rolling update on simulated nodes (`gantry up
// --node=false` and `gantry sim`, as B1).
//
// B4: GANTRY_B4_NODES (default 200) nodes with room for 1.25 ×
// GANTRY_B4_REPLICAS (default 1,000) pods of the benchmark's size, a
// Deployment of that many replicas with strategy RollingUpdate 25 %/25 %
// written out, all of them available, then a change of its template (an
// env value). seconds runs from the change's intent as the log stored it to
// the last pod of the old template gone: the record after which the fold
// (projections.Cluster) holds none of them, that is, its node reported it
// removed after its deletion was decided (or it was deleted before being
// bound). min_available and max_pods are read from the log after the run:
// the decisions and observations are replayed through projections.Cluster
// in the order the server stored them, and counted after every record from
// the change on. B4-delay is the same with the simulated runtime's
// readiness delay of 1 s (--ready-delay), beside its target's waves =
// ⌈replicas / (maxSurge + maxUnavailable)⌉. The last line is
// `B4 seconds=… min_available=… replicas=…`.
func BenchmarkRollout(b *testing.B) {
	nodes := envInt(b, "GANTRY_B4_NODES", 200)
	replicas := envInt(b, "GANTRY_B4_REPLICAS", 1000)
	budget := envDuration(b, "GANTRY_B4_TIMEOUT", 4*time.Minute)
	pct := manifest.FromString("25%")
	surge, unavailable := manifest.ResolveBounds(&pct, &pct, int32(replicas))
	waves := (replicas + int(surge+unavailable) - 1) / int(surge+unavailable)

	if os.Getenv("GANTRY_B4_DELAY") != "0" {
		r := benchRollout(b, nodes, replicas, time.Second, budget)
		fmt.Printf("B4-delay-detail %s\n", r.detail())
		fmt.Printf("B4-delay seconds=%.2f waves=%d\n", r.seconds, waves)
	}
	r := benchRollout(b, nodes, replicas, 0, budget)
	fmt.Printf("B4-detail %s\n", r.detail())
	fmt.Printf("B4 seconds=%.2f min_available=%d replicas=%d\n", r.seconds, r.minAvailable, replicas)
}

// b4Result is one rollout as the log tells it.
type b4Result struct {
	seconds      float64 // change intent → last old pod gone
	lastNew      float64 // change intent → every replica of the new template available
	minAvailable int     // fewest available pods at any instant
	maxPods      int     // most pods not terminal nor being deleted (as status.replicas counts)
	maxLive      int     // most pods not yet gone (pending and terminating ones included)
	records      int     // records replayed in the window
	readyDelay   time.Duration
}

func (r b4Result) detail() string {
	return fmt.Sprintf("ready_delay=%s seconds=%.2f last_new_available_s=%.2f min_available=%d max_pods=%d max_live=%d records=%d",
		r.readyDelay, r.seconds, r.lastNew, r.minAvailable, r.maxPods, r.maxLive, r.records)
}

const b4Name = "b4"

// b4Request is what each pod asks of a node: room for a pod is this much.
const b4MilliCPU, b4MemMi = 100, 64

func benchRollout(b *testing.B, nodes, replicas int, readyDelay, budget time.Duration) b4Result {
	c := newCluster(b)
	defer c.teardown()
	c.up("--node=false")
	// Room for 1.25 × replicas pods: each node has room for ⌊room/nodes⌋
	// pods, the first room mod nodes one more (two sim processes).
	room := replicas * 5 / 4
	per, extra := room/nodes, room%nodes
	groups := []struct{ n, pods int }{{extra, per + 1}, {nodes - extra, per}}
	var sims []*proc
	for i, g := range groups {
		if g.n == 0 {
			continue
		}
		sims = append(sims, c.start("sim", "--nodes", strconv.Itoa(g.n), "--pods", strconv.Itoa(g.pods),
			"--cpu", fmt.Sprintf("%dm", g.pods*b4MilliCPU), "--memory", fmt.Sprintf("%dMi", g.pods*b4MemMi),
			"--ready-delay", readyDelay.String(), "--name-prefix", fmt.Sprintf("sim%d", i)))
	}
	c.waitFor("the simulated nodes to start", budget, func() bool {
		for _, s := range sims {
			if !strings.Contains(s.out.String(), "nodes ready") {
				return false
			}
		}
		return true
	})
	c.waitFor(fmt.Sprintf("%d Ready nodes", nodes), budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == nodes
	})
	conn, err := bus.Connect(c.url, "bench-b4", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := &liveFold{app: b4Name, c: projections.NewCluster()}
	if err := live.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}

	applyIntent(b, conn, "deployment", b4Name, b4Deployment(b4Name, replicas, "1"))
	live.await(b, fmt.Sprintf("%d available replicas", replicas), budget, func(c *projections.Cluster) bool {
		n := podCounts(c, nil, time.Now())
		return n.Available == replicas && n.Pods == replicas
	})
	old := live.hashes()
	applyIntent(b, conn, "deployment", b4Name, b4Deployment(b4Name, replicas, "2"))
	live.await(b, "the old pods gone and every new one available", budget, func(c *projections.Cluster) bool {
		n := podCounts(c, old, time.Now())
		return n.Old == 0 && n.Available == replicas
	})
	cancel()
	r, err := replayRollout(conn.JS, replicas, readyDelay)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// b4Deployment is the Deployment name (its pods labelled app: name) of
// replicas, rolled 25 %/25 %, whose pods' env says revision.
func b4Deployment(name string, replicas int, revision string) map[string]any {
	sel := map[string]any{"matchLabels": map[string]string{"app": name}}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{
			"replicas": replicas, "selector": sel,
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": "25%"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": name}}, "spec": map[string]any{
				"containers": []any{map[string]any{
					"name": "web", "image": imageRef, "env": []any{map[string]string{"name": "B4_REVISION", "value": revision}},
					"resources": map[string]any{"requests": map[string]string{
						"cpu": fmt.Sprintf("%dm", b4MilliCPU), "memory": fmt.Sprintf("%dMi", b4MemMi)}},
				}},
			}},
		},
	}
}

// podCounts counts the b4 Deployment's pods in a fold (see
// projectiontest.PodCounts).
func podCounts(c *projections.Cluster, old map[string]bool, now time.Time) projectiontest.PodCounts {
	return projectiontest.CountPods(c, old, now)[b4Name]
}

// b4Sources are the streams and subjects that make the pods' fold.
var b4Sources = []logSource{
	{events.StreamDecisions, []string{events.SubjectPodDecAll, events.SubjectWorkloadAll, events.SubjectAdmissionAll, events.SubjectNodeStateAll}},
	{events.StreamObservations, []string{events.SubjectObsPodAll}},
}

// liveFold folds the log as it comes, to know when to go on; the figures
// come from replayRollout.
type liveFold struct {
	app string // the Deployment (its pods' label app) await reports on
	mu  sync.Mutex
	c   *projections.Cluster
	err error
}

func (l *liveFold) follow(ctx context.Context, js jetstream.JetStream) error {
	for _, src := range b4Sources {
		r, err := bus.Read(ctx, js, src.stream, jetstream.OrderedConsumerConfig{FilterSubjects: src.filters})
		if err != nil {
			return err
		}
		go func() {
			defer r.Close()
			for {
				m, err := r.Next(ctx)
				if err != nil {
					if ctx.Err() == nil {
						l.mu.Lock()
						l.err = err
						l.mu.Unlock()
					}
					return
				}
				rec, err := bustest.RecordOf(src.stream, m)
				l.mu.Lock()
				if err != nil {
					l.err = err
				} else {
					l.c.Apply(rec)
				}
				l.mu.Unlock()
			}
		}()
	}
	return nil
}

func (l *liveFold) await(b testing.TB, what string, budget time.Duration, cond func(*projections.Cluster) bool) {
	b.Helper()
	deadline := time.Now().Add(budget)
	next := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		done, err, n := cond(l.c), l.err, projectiontest.CountPods(l.c, nil, time.Now())[l.app]
		l.mu.Unlock()
		switch {
		case err != nil:
			b.Fatalf("following the log: %v", err)
		case done:
			return
		case time.Now().After(deadline):
			b.Fatalf("%s: no %s after %s: %+v", l.app, what, budget, n)
		case time.Now().After(next):
			fmt.Printf("%s-progress waiting for %s: %+v\n", l.app, what, n)
			next = next.Add(10 * time.Second)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// hashes are the template hashes of the Deployment's pods not being deleted.
func (l *liveFold) hashes() map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for _, p := range l.c.Pods {
		if p.Labels["app"] == l.app && !p.Deleting {
			out[p.TemplateHash] = true
		}
	}
	return out
}

// replayRollout reads the Deployment's intents, the decisions and the
// observations after the run and replays them through a fresh
// projections.Cluster in the order the server stored them (each stream in
// its own order; across streams by store time, a tie going to the stream
// listed first), counting the Deployment's pods after every record from the
// change's intent (its second) on, until no pod of the template it replaced
// is left and every replica of the new one is available (the window's
// figures cover both ends, whichever comes last).
func replayRollout(js jetstream.JetStream, replicas int, readyDelay time.Duration) (b4Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := b4Result{readyDelay: readyDelay}
	sources := append([]logSource{{events.StreamIntents, []string{events.IntentSubject("default", "deployment", b4Name)}}}, b4Sources...)
	lists := make([][]projectiontest.Stored, len(sources))
	for i, src := range sources {
		l, err := bustest.ReadStored(ctx, js, src.stream, src.filters)
		if err != nil {
			return r, err
		}
		lists[i] = l
	}
	if len(lists[0]) != 2 {
		return r, fmt.Errorf("%d intents of deployment %s, want 2", len(lists[0]), b4Name)
	}
	change := lists[0][1].At
	c := projections.NewCluster()
	var old map[string]bool
	for _, s := range projectiontest.Merge(lists...) {
		c.Apply(s.Rec)
		if s.At.Before(change) {
			continue
		}
		if old == nil {
			old = map[string]bool{}
			for _, p := range c.Pods {
				if p.Labels["app"] == b4Name && !p.Deleting {
					old[p.TemplateHash] = true
				}
			}
			r.minAvailable = 1 << 30
		}
		r.records++
		n := podCounts(c, old, s.At)
		r.minAvailable = min(r.minAvailable, n.Available)
		r.maxPods = max(r.maxPods, n.Pods)
		r.maxLive = max(r.maxLive, n.Live)
		if n.NewAvailable == replicas && r.lastNew == 0 {
			r.lastNew = s.At.Sub(change).Seconds()
		}
		if n.Old == 0 && r.seconds == 0 {
			r.seconds = s.At.Sub(change).Seconds()
		}
		if r.lastNew > 0 && r.seconds > 0 {
			return r, nil
		}
	}
	return r, fmt.Errorf("the log ends before the rollout did: %s", r.detail())
}
