package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// BenchmarkScheduler (B1) measures scheduling throughput at scale: `gantry up
// --node=false` (embedded NATS and every control-plane service, the scheduler
// among them, in one process) and `gantry sim` (GANTRY_B1_NODES simulated
// nodes, default 5,000, in a second process). Once every node is Ready and a
// background of GANTRY_B1_PODS/10 pods runs, it appends GANTRY_B1_PODS pods
// (default 50,000) as Deployments of 100 in one go and reads the decisions
// stream: for each pod, its Deployment's intent time (envelope) and its first
// PodBound, both the binding's envelope time (when the scheduler's pass
// decided it) and the time the log stored it (the message's JetStream
// timestamp). The headline uses the stored time, since a pass's bindings all
// carry the pass's envelope time however long they take to store:
// pods_per_s is bound pods over first intent → last PodBound stored, p99_ms
// the 99th percentile of intent → PodBound stored. B1-detail gives both.
// CPU and peak RSS are those of the `gantry up` process, which holds the
// scheduler but also NATS and the other services. GANTRY_B1_SPREAD=1 gives
// every Deployment a zone topology spread (maxSkew 1) and a preferred
// anti-affinity on kubernetes.io/hostname. GANTRY_B1_RATE=<pods/s> offers
// the pods as a steady load instead of a burst (Deployments of GANTRY_B1_SIZE,
// default 10, every 100 ms), which is what intent → bound latency means
// under a load the cluster keeps up with (B1-steady). GANTRY_B1_SIM_ARGS adds flags to
// `gantry sim` (e.g. "--consumers durable"). The benchmark stops at its
// deadline (GANTRY_B1_TIMEOUT, default 9m) and reports what was bound by
// then. Its last line is `B1 pods_per_s=… p99_ms=… nodes=… pods=…`.
func BenchmarkScheduler(b *testing.B) {
	nodes := envInt(b, "GANTRY_B1_NODES", 5000)
	pods := envInt(b, "GANTRY_B1_PODS", 50000)
	spread := os.Getenv("GANTRY_B1_SPREAD") == "1"
	offered := envInt(b, "GANTRY_B1_RATE", 0)
	size := envInt(b, "GANTRY_B1_SIZE", 10)
	budget := envDuration(b, "GANTRY_B1_TIMEOUT", 9*time.Minute)
	const perDeployment = 100
	began := time.Now()
	deadline := began.Add(budget)
	remaining := func() time.Duration { return max(time.Until(deadline), time.Second) }

	c := newCluster(b)
	// gantry up profiles itself, so the run can say what each service and
	// each stream of the embedded server cost (B1-cpu).
	profDir := os.Getenv("GANTRY_E2E_LOGDIR")
	if profDir == "" {
		profDir = b.TempDir()
	}
	upProfile := filepath.Join(profDir, "b1-up.prof")
	up := c.up(append([]string{"--node=false", "--cpu-profile", upProfile}, strings.Fields(os.Getenv("GANTRY_B1_UP_ARGS"))...)...)
	simArgs := append([]string{"sim", "--nodes", strconv.Itoa(nodes), "--cpu", "32", "--memory", "128Gi", "--pods", "110", "--name-prefix", "sim"},
		strings.Fields(os.Getenv("GANTRY_B1_SIM_ARGS"))...)
	sim := c.start(simArgs...)
	c.waitFor("the simulated nodes to start", remaining(), func() bool {
		return strings.Contains(sim.out.String(), "nodes ready")
	})
	simStarted := time.Since(began)
	c.waitFor(fmt.Sprintf("%d Ready nodes in gantry get nodes", nodes), remaining(), func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == nodes
	})
	nodesReady := time.Since(began)
	fmt.Printf("B1-setup nodes=%d sim_started_s=%.1f nodes_ready_s=%.1f spread=%v\n", nodes, simStarted.Seconds(), nodesReady.Seconds(), spread)

	conn, err := bus.Connect(c.url, "bench-b1", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newB1Watch()
	if err := w.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}

	// Background: pods already running when the burst comes.
	background := max(pods/10/perDeployment, 1)
	bgIntents := publishDeployments(b, conn, "b1-bg", background, perDeployment, spread)
	bgDeadline := time.Now().Add(remaining() / 3)
	for w.running(bgIntents) < background*perDeployment && time.Now().Before(bgDeadline) {
		if err := w.rejected(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
	fmt.Printf("B1-background pods=%d running=%d took_s=%.1f\n", background*perDeployment, w.running(bgIntents), time.Since(began).Seconds()-nodesReady.Seconds())

	// The burst: every Deployment appended at once. Or, with GANTRY_B1_RATE,
	// a steady load: Deployments of GANTRY_B1_SIZE pods appended every 100 ms
	// at that many pods a second, until GANTRY_B1_PODS are offered.
	cpu0, cpuSim0 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	burstStart := time.Now()
	var intents map[string]time.Time
	var want int
	if offered > 0 {
		intents = map[string]time.Time{}
		perTick := max(offered/10/size, 1) // Deployments every 100 ms
		ticks := max(pods/(perTick*size), 1)
		tick := time.NewTicker(100 * time.Millisecond)
		for i := range ticks {
			<-tick.C
			maps.Copy(intents, publishDeployments(b, conn, fmt.Sprintf("b1-t%d", i), perTick, size, spread))
		}
		tick.Stop()
		want = ticks * perTick * size
	} else {
		burst := max(pods/perDeployment, 1)
		intents = publishDeployments(b, conn, "b1", burst, perDeployment, spread)
		want = burst * perDeployment
	}
	published := time.Since(burstStart)
	next := time.Now().Add(10 * time.Second)
	for w.bound(intents) < want && time.Now().Before(deadline) {
		if err := w.rejected(); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(next) {
			fmt.Printf("B1-progress t_s=%.0f bound=%d running=%d up_cpu_s=%.1f\n", time.Since(burstStart).Seconds(), w.bound(intents), w.running(intents), procCPU(up.cmd.Process.Pid)-cpu0)
			next = next.Add(10 * time.Second)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	boundWall := time.Since(burstStart)
	stoppedAt := time.Now()
	cpu1, cpuSim1 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	// Give the nodes a moment to report the last pods Running (not part of the figure).
	runDeadline := time.Now().Add(60 * time.Second)
	if d := deadline.Add(30 * time.Second); d.Before(runDeadline) {
		runDeadline = d
	}
	for w.running(intents) < w.bound(intents) && time.Now().Before(runDeadline) {
		time.Sleep(200 * time.Millisecond) // polling interval
	}

	r := w.result(intents)
	if r.bound < want {
		// Stopped by the deadline: the rate covers the whole wait, not just
		// up to the last binding.
		r.span, r.storedSpan = stoppedAt.Sub(r.first), stoppedAt.Sub(r.first)
	}
	upHWM, upRSS := procMem(up.cmd.Process.Pid)
	simHWM, _ := procMem(sim.cmd.Process.Pid)
	rate := perSecond(r.bound, r.storedSpan)
	fmt.Printf("B1-detail intents=%d publish_ms=%d bound=%d/%d running=%d "+
		"envelope: last_bound_s=%.1f pods_per_s=%.0f p50_ms=%.0f p99_ms=%.0f | stored: last_bound_s=%.1f pods_per_s=%.0f p50_ms=%.0f p99_ms=%.0f max_ms=%.0f | run_p50_ms=%.0f run_p99_ms=%.0f "+
		"up_cpu_s=%.1f up_cores=%.2f up_peak_rss_mb=%d up_rss_mb=%d sim_cpu_s=%.1f sim_peak_rss_mb=%d deadline_hit=%v\n",
		len(intents), published.Milliseconds(), r.bound, want, r.running,
		r.span.Seconds(), perSecond(r.bound, r.span), pct(r.lat, 50), pct(r.lat, 99),
		r.storedSpan.Seconds(), perSecond(r.bound, r.storedSpan), pct(r.storedLat, 50), pct(r.storedLat, 99), pct(r.storedLat, 100),
		pct(r.runLat, 50), pct(r.runLat, 99),
		cpu1-cpu0, (cpu1-cpu0)/boundWall.Seconds(), upHWM>>10, upRSS>>10, cpuSim1-cpuSim0, simHWM>>10, r.bound < want)
	if offered > 0 {
		planned, placed := w.hops(intents)
		fmt.Printf("B1-steady offered_pods_per_s=%d deployment_size=%d pods=%d bound=%d p50_ms=%.0f p99_ms=%.0f max_ms=%.0f | intent→planned p50_ms=%.0f p99_ms=%.0f | planned→bound p50_ms=%.0f p99_ms=%.0f\n",
			offered, size, want, r.bound, pct(r.storedLat, 50), pct(r.storedLat, 99), pct(r.storedLat, 100),
			pct(planned, 50), pct(planned, 99), pct(placed, 50), pct(placed, 99))
	}
	bt := w.batches(intents)
	fmt.Printf("B1-passes passes=%d median_pods=%d max_pods=%d between_s=%.1f in_pass_s=%.1f in_pass_pods_per_s=%.0f\n",
		bt.passes, bt.median, bt.max, bt.between.Seconds(), bt.inPass.Seconds(), perSecond(r.bound, bt.inPass))
	fmt.Printf("B1-timeline %s\n", w.timeline(intents, 2*time.Second))
	fmt.Printf("B1-log stream_obs_msgs=%d stream_obs_subjects=%d stream_decisions_msgs=%d kv_pods_writes=%d kv_nodes_writes=%d\n",
		streamCount(b, conn, events.StreamObservations), streamSubjects(b, conn, events.StreamObservations, events.SubjectObsPodAll),
		streamCount(b, conn, events.StreamDecisions), streamWrites(b, conn, "KV_"+bus.BucketPods), streamWrites(b, conn, "KV_"+bus.BucketNodes))
	// Each node is decided Ready once; any other decision is a node decided
	// NotReady (and back) during the burst: a false NotReady.
	states := streamMsgsOn(b, conn, events.StreamDecisions, events.SubjectNodeStateAll)
	fmt.Printf("B1-health nodestate_decisions=%d beyond_first_ready=%d evicted=%d\n", states, states-uint64(nodes), w.evictions())
	for _, pr := range []struct {
		name string
		p    *proc
	}{{"up", up}, {"sim", sim}} {
		for _, l := range logSummary(pr.p.out.String(), 6) {
			fmt.Printf("B1-log %s %s\n", pr.name, l)
		}
	}
	up.stop() // writes the profile
	if line, err := cpuByLabel(upProfile); err != nil {
		fmt.Printf("B1-cpu unavailable: %v\n", err)
	} else {
		fmt.Printf("B1-cpu %s\n", line)
	}
	fmt.Printf("B1 pods_per_s=%.0f p99_ms=%.0f nodes=%d pods=%d\n", rate, pct(r.storedLat, 99), nodes, r.bound)
}

// publishDeployments appends n Deployment intents of replicas pods each in
// one asynchronous burst and returns intent id → intent time.
func publishDeployments(t testing.TB, conn *bus.Conn, prefix string, n, replicas int, spread bool) map[string]time.Time {
	out := make([]bus.Outgoing, 0, n)
	ids := make(map[string]time.Time, n)
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		obj, err := json.Marshal(b1Deployment(name, replicas, spread))
		if err != nil {
			t.Fatal(err)
		}
		id := events.NewID()
		at := time.Now()
		env, err := events.Seal(&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: name, Object: obj},
			events.Meta{ID: id, Source: "cli", Subject: "default/" + name, Time: at, Actor: "bench"})
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = env.Time
		out = append(out, bus.Outgoing{Subject: events.IntentSubject("default", "deployment", name), Envelope: env, MsgID: id})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	publishAll(ctx, t, conn, out)
	return ids
}

func b1Deployment(name string, replicas int, spread bool) map[string]any {
	sel := map[string]any{"matchLabels": map[string]string{"app": name}}
	spec := map[string]any{
		"containers": []any{map[string]any{
			"name": "web", "image": imageRef,
			"resources": map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "64Mi"}},
		}},
	}
	if spread {
		spec["topologySpreadConstraints"] = []any{map[string]any{
			"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel,
		}}
		spec["affinity"] = map[string]any{"podAntiAffinity": map[string]any{
			"preferredDuringSchedulingIgnoredDuringExecution": []any{map[string]any{
				"weight": 100, "podAffinityTerm": map[string]any{"labelSelector": sel, "topologyKey": "kubernetes.io/hostname"},
			}},
		}}
	}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{
			"replicas": replicas, "selector": sel,
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": name}}, "spec": spec},
		},
	}
}

// b1Watch follows the log: the first binding of each pod, the first Running
// report of each pod, and admission's rejections.
type b1Watch struct {
	mu       sync.Mutex
	bindAt   map[string]time.Time // ns/pod → first PodBound envelope time
	storeAt  map[string]time.Time // ns/pod → when the log stored that PodBound
	bindCorr map[string]string    // ns/pod → correlation id (the intent)
	runAt    map[string]time.Time // ns/pod → first Running report
	planAt   map[string]time.Time // ns/pod → when the log stored its PodPlanned
	rejects  []string
	evicted  int // pods deleted because their node was lost
	err      error
}

func newB1Watch() *b1Watch {
	return &b1Watch{bindAt: map[string]time.Time{}, storeAt: map[string]time.Time{}, bindCorr: map[string]string{}, runAt: map[string]time.Time{}, planAt: map[string]time.Time{}}
}

// b1Env is the part of an envelope the benchmark reads, for every type it follows.
type b1Env struct {
	Type          string    `json:"type"`
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlationid"`
	Data          struct {
		Pod *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"pod"`
		Namespace string   `json:"namespace"`
		Name      string   `json:"name"`
		Phase     string   `json:"phase"`
		Reason    string   `json:"reason"`
		Reasons   []string `json:"reasons"`
	} `json:"data"`
}

func (w *b1Watch) follow(ctx context.Context, js jetstream.JetStream) error {
	return followLog(ctx, js, []logSource{
		{events.StreamDecisions, []string{events.SubjectPodDecAll, events.SubjectAdmissionAll}},
		{events.StreamObservations, []string{events.SubjectObsPodAll}},
	}, w.take)
}

// logSource is a stream and the subjects of it a benchmark follows.
type logSource struct {
	stream  string
	filters []string
}

// followLog hands take every message of the sources, as it is stored, with
// the time the log stored it, until ctx ends.
func followLog(ctx context.Context, js jetstream.JetStream, sources []logSource, take func(data []byte, stored time.Time)) error {
	for _, src := range sources {
		cons, err := js.OrderedConsumer(ctx, src.stream, jetstream.OrderedConsumerConfig{FilterSubjects: src.filters})
		if err != nil {
			return fmt.Errorf("follow %s: %w", src.stream, err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(4096))
		if err != nil {
			return fmt.Errorf("follow %s: %w", src.stream, err)
		}
		go func() { <-ctx.Done(); it.Stop() }()
		go func() {
			for {
				m, err := it.Next()
				if err != nil {
					if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
						return
					}
					continue
				}
				var stored time.Time
				if md, err := m.Metadata(); err == nil {
					stored = md.Timestamp
				}
				take(m.Data(), stored)
			}
		}()
	}
	return nil
}

func (w *b1Watch) take(data []byte, stored time.Time) {
	var e b1Env
	if err := json.Unmarshal(data, &e); err != nil {
		w.mu.Lock()
		w.err = err
		w.mu.Unlock()
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e.Type {
	case events.TypePodPlanned:
		k := e.Data.Namespace + "/" + e.Data.Name
		if _, seen := w.planAt[k]; !seen {
			w.planAt[k] = stored
		}
	case events.TypePodBound:
		if e.Data.Pod == nil {
			return
		}
		k := e.Data.Pod.Namespace + "/" + e.Data.Pod.Name
		if _, seen := w.bindAt[k]; !seen {
			w.bindAt[k], w.storeAt[k], w.bindCorr[k] = e.Time, stored, e.CorrelationID
		}
	case events.TypePodStatusObserved:
		k := e.Data.Namespace + "/" + e.Data.Name
		if _, seen := w.runAt[k]; !seen && e.Data.Phase == events.PhaseRunning {
			w.runAt[k] = e.Time
		}
	case events.TypeAdmissionRejected:
		w.rejects = append(w.rejects, fmt.Sprintf("%s: %s", e.Data.Name, strings.Join(e.Data.Reasons, "; ")))
	case events.TypePodDeleted:
		if e.Data.Reason == "NodeLost" {
			w.evicted++
		}
	}
}

func (w *b1Watch) evictions() int { w.mu.Lock(); defer w.mu.Unlock(); return w.evicted }

func (w *b1Watch) rejected() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if len(w.rejects) > 0 {
		return fmt.Errorf("admission rejected %d deployments, first: %s", len(w.rejects), w.rejects[0])
	}
	return nil
}

// bound counts the pods of the intents that have been bound.
func (w *b1Watch) bound(intents map[string]time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, corr := range w.bindCorr {
		if _, ok := intents[corr]; ok {
			n++
		}
	}
	return n
}

// running counts the pods of the intents reported Running.
func (w *b1Watch) running(intents map[string]time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for k := range w.runAt {
		if _, ok := intents[w.bindCorr[k]]; ok {
			n++
		}
	}
	return n
}

type b1Result struct {
	bound, running int
	span           time.Duration // first intent → last binding (envelope times)
	storedSpan     time.Duration // first intent → last binding stored (log timestamps)
	lat, runLat    []float64     // ms, intent → bound, intent → Running (envelope times)
	storedLat      []float64     // ms, intent → binding stored
	first          time.Time     // the first intent
}

func (w *b1Watch) result(intents map[string]time.Time) b1Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	var r b1Result
	var last, lastStored time.Time
	first := firstIntent(intents)
	for k, corr := range w.bindCorr {
		at, ok := intents[corr]
		if !ok {
			continue
		}
		r.bound++
		bt := w.bindAt[k]
		if bt.After(last) {
			last = bt
		}
		r.lat = append(r.lat, float64(bt.Sub(at).Microseconds())/1000)
		st := w.storeAt[k]
		if st.After(lastStored) {
			lastStored = st
		}
		r.storedLat = append(r.storedLat, float64(st.Sub(at).Microseconds())/1000)
		if rt, ok := w.runAt[k]; ok {
			r.running++
			r.runLat = append(r.runLat, float64(rt.Sub(at).Microseconds())/1000)
		}
	}
	if r.bound > 0 {
		r.span, r.storedSpan = last.Sub(first), lastStored.Sub(first)
	}
	r.first = first
	return r
}

// b1Batches splits the bindings into the scheduler's passes (a pass stamps
// its bindings with the time it began): between passes (the first intent or
// the previous pass's last binding stored → the pass begins: the scheduler
// reads the log and waits to see its own decisions) and in passes (the pass
// begins → its last binding is stored: Decide, then publishing).
type b1Batches struct {
	passes, median, max int
	between, inPass     time.Duration
}

func (w *b1Watch) batches(intents map[string]time.Time) b1Batches {
	w.mu.Lock()
	defer w.mu.Unlock()
	type pass struct {
		n          int
		lastStored time.Time
	}
	byTime := map[time.Time]*pass{}
	first := firstIntent(intents)
	for k, corr := range w.bindCorr {
		if _, ok := intents[corr]; !ok {
			continue
		}
		p := byTime[w.bindAt[k]]
		if p == nil {
			p = &pass{}
			byTime[w.bindAt[k]] = p
		}
		p.n++
		if st := w.storeAt[k]; st.After(p.lastStored) {
			p.lastStored = st
		}
	}
	times := make([]time.Time, 0, len(byTime))
	for t := range byTime {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var out b1Batches
	var sizes []int
	prev := first
	for _, t := range times {
		p := byTime[t]
		sizes = append(sizes, p.n)
		out.max = max(out.max, p.n)
		if t.After(prev) {
			out.between += t.Sub(prev)
		}
		out.inPass += p.lastStored.Sub(t)
		prev = p.lastStored
	}
	out.passes = len(times)
	if len(sizes) > 0 {
		sort.Ints(sizes)
		out.median = sizes[len(sizes)/2]
	}
	return out
}

// hops splits intent → bound (stored) into intent → PodPlanned stored
// (admission and replica) and PodPlanned → PodBound stored (the scheduler),
// in ms.
func (w *b1Watch) hops(intents map[string]time.Time) (planned, placed []float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, corr := range w.bindCorr {
		at, ok := intents[corr]
		pt := w.planAt[k]
		if !ok || pt.IsZero() {
			continue
		}
		planned = append(planned, float64(pt.Sub(at).Microseconds())/1000)
		placed = append(placed, float64(w.storeAt[k].Sub(pt).Microseconds())/1000)
	}
	return planned, placed
}

// firstIntent is the earliest intent time.
func firstIntent(intents map[string]time.Time) time.Time {
	var first time.Time
	for _, at := range intents {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first
}

// timeline counts, in steps of step from the first intent, the burst's pods
// whose PodPlanned and PodBound the log stored and that nodes reported
// Running in each step: where the pipeline waits.
func (w *b1Watch) timeline(intents map[string]time.Time, step time.Duration) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	first := firstIntent(intents)
	type counts struct{ planned, bound, running int }
	var buckets []counts
	add := func(at time.Time, f func(*counts)) {
		if at.IsZero() {
			return
		}
		i := max(int(at.Sub(first)/step), 0)
		for len(buckets) <= i {
			buckets = append(buckets, counts{})
		}
		f(&buckets[i])
	}
	for k, corr := range w.bindCorr {
		if _, ok := intents[corr]; !ok {
			continue
		}
		add(w.planAt[k], func(c *counts) { c.planned++ })
		add(w.storeAt[k], func(c *counts) { c.bound++ })
		add(w.runAt[k], func(c *counts) { c.running++ })
	}
	var b strings.Builder
	fmt.Fprintf(&b, "step_s=%.0f planned/bound/running:", step.Seconds())
	for i, c := range buckets {
		fmt.Fprintf(&b, " %d:%d/%d/%d", i, c.planned, c.bound, c.running)
	}
	return b.String()
}

// cpuByLabel sums a CPU profile of gantry up by the label the runner puts
// on each service's goroutines (service=) and the one nats-server puts on
// each stream's (stream=). The profile covers the whole process, setup
// included.
func cpuByLabel(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return "", fmt.Errorf("profile %s: %w", path, err)
	}
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return "", fmt.Errorf("profile %s has no cpu samples", path)
	}
	var total time.Duration
	by := map[string]map[string]time.Duration{"service": {}, "stream": {}}
	for _, s := range p.Sample {
		v := time.Duration(s.Value[cpu])
		total += v
		for key, sums := range by {
			if l := s.Label[key]; len(l) > 0 {
				sums[l[0]] += v
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "whole_run_s=%.1f", total.Seconds())
	for _, key := range []string{"service", "stream"} {
		names := slices.Sorted(maps.Keys(by[key]))
		slices.SortStableFunc(names, func(x, y string) int { return cmp.Compare(by[key][y], by[key][x]) })
		fmt.Fprintf(&b, " |")
		for _, n := range names {
			fmt.Fprintf(&b, " %s=%.1f", n, by[key][n].Seconds())
		}
	}
	return b.String(), nil
}

// logSummary counts a process's warnings and errors by message (key=value
// fields dropped) and returns the n most frequent.
func logSummary(out string, n int) []string {
	counts := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || (f[1] != "WRN" && f[1] != "ERR") {
			continue
		}
		var msg []string
		for _, w := range f[1:] {
			if !strings.Contains(w, "=") {
				msg = append(msg, w)
			}
		}
		counts[logNoise.ReplaceAllString(strings.Join(msg, " "), "…")]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	var res []string
	for _, k := range keys[:min(n, len(keys))] {
		res = append(res, fmt.Sprintf("count=%d %q", counts[k], k))
	}
	return res
}

// logNoise is what differs between two occurrences of one problem: node
// names, subjects.
var logNoise = regexp.MustCompile(`sim-[0-9]+|gantry\.[a-z]+\.[^\s:"]+`)

func streamCount(t testing.TB, conn *bus.Conn, stream string) uint64 {
	return streamState(t, conn, stream).Msgs
}

// streamWrites is how many messages were ever stored on stream (a KV
// bucket's stream keeps one per key, but its sequence counts every write).
func streamWrites(t testing.TB, conn *bus.Conn, stream string) uint64 {
	return streamState(t, conn, stream).LastSeq
}

func streamState(t testing.TB, conn *bus.Conn, stream string) jetstream.StreamState {
	st, err := conn.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

func streamSubjects(t testing.TB, conn *bus.Conn, stream, filter string) uint64 {
	return uint64(len(subjectCounts(t, conn, stream, filter)))
}

// streamMsgsOn counts the messages of stream on subjects matching filter.
func streamMsgsOn(t testing.TB, conn *bus.Conn, stream, filter string) uint64 {
	var n uint64
	for _, c := range subjectCounts(t, conn, stream, filter) {
		n += c
	}
	return n
}

// subjectCounts is how many messages stream holds on each subject matching filter.
func subjectCounts(t testing.TB, conn *bus.Conn, stream, filter string) map[string]uint64 {
	st, err := conn.JS.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

func perSecond(n int, d time.Duration) float64 {
	if n == 0 || d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// procCPU is a process's user+system CPU in seconds (/proc/<pid>/stat).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14
	st, _ := strconv.ParseFloat(f[12], 64) // field 15
	return (ut + st) / clockTicks()
}

var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || v <= 0 {
		return 100
	}
	return v
})

// procMem is a process's peak and current resident memory in KiB.
func procMem(pid int) (hwm, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			hwm = v
		case "VmRSS:":
			rss = v
		}
	}
	return hwm, rss
}

func envInt(t testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

func envDuration(t testing.TB, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 9m", name, s)
	}
	return v
}
