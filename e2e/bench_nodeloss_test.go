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

// BenchmarkNodeLoss measures how long a lost node's pods take to run
// elsewhere, with Gantry's defaults (1 s heartbeats, 4 s grace, 3 s
// toleration), on simulated nodes (`gantry up --node=false`, the victims
// and `gantry sim` as processes of their own).
//
// B3-50: GANTRY_B3_VICTIMS (default 50) simulated nodes in one `gantry
// sim` process are filled with a Deployment of 110 pods each, then
// GANTRY_B3_NODES (default 1,000) more join; the victims' process is killed
// (kill -9: their agents fall silent, nothing is deleted). Seconds from the
// kill to the last replacement reported Running on another node.
//
// B3: the same with one victim run as its own `gantry node --runtime
// simulated` process and 110 pods. Its last line is
// `B3 seconds=<n> pods=<n> nodes=<n>`; before it, a line per phase says
// where the seconds went (B3-detail).
func BenchmarkNodeLoss(b *testing.B) {
	nodes := envInt(b, "GANTRY_B3_NODES", 1000)
	victims := envInt(b, "GANTRY_B3_VICTIMS", 50)
	budget := envDuration(b, "GANTRY_B3_TIMEOUT", 5*time.Minute)
	if victims > 0 {
		r := benchNodeLoss(b, nodes, victims, budget)
		fmt.Printf("B3-50-detail %s\n", r.detail())
		fmt.Printf("B3-50 seconds=%.1f pods=%d\n", r.seconds(), r.pods)
	}
	r := benchNodeLoss(b, nodes, 0, budget)
	fmt.Printf("B3-detail %s\n", r.detail())
	fmt.Printf("B3 seconds=%.1f pods=%d nodes=%d\n", r.seconds(), r.pods, nodes+1)
}

// lossResult is when each step of a node loss happened, from the log.
type lossResult struct {
	pods                   int
	killed, lastBeat       time.Time
	notReady               time.Time // the last victim decided NotReady
	firstEvict, lastEvict  time.Time
	lastBound, lastRunning time.Time
	falseNotReady          int
}

func (r lossResult) seconds() float64 { return r.lastRunning.Sub(r.killed).Seconds() }

func (r lossResult) detail() string {
	s := func(t time.Time) string { return fmt.Sprintf("%.1f", t.Sub(r.killed).Seconds()) }
	return fmt.Sprintf("last_heartbeat_s=%s notready_s=%s first_eviction_s=%s last_eviction_s=%s last_bound_s=%s last_running_s=%s "+
		"false_notready=%d",
		s(r.lastBeat), s(r.notReady), s(r.firstEvict), s(r.lastEvict), s(r.lastBound), s(r.lastRunning), r.falseNotReady)
}

// benchNodeLoss runs one node loss: victims simulated nodes in one `gantry
// sim` process, or (victims 0) one `gantry node` process.
func benchNodeLoss(b *testing.B, nodes, victims int, budget time.Duration) lossResult {
	c := newCluster(b)
	defer c.teardown()
	c.up("--node=false")
	var victim *proc
	n, prefix := victims, "victim"
	if victims == 0 {
		n = 1
		victim = c.start("node", "--runtime", "simulated", "--node-name", "victim", "--data-dir", b.TempDir())
	} else {
		victim = c.start("sim", "--nodes", strconv.Itoa(victims), "--cpu", "32", "--memory", "128Gi", "--pods", "110",
			"--name-prefix", prefix)
	}
	c.waitFor(fmt.Sprintf("%d victim nodes Ready", n), budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == n
	})
	pods := 110 * n
	conn, err := bus.Connect(c.url, "bench-b3", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	w := &lossWatch{victims: prefix, notReady: map[string]time.Time{}, running: map[string]time.Time{}, bound: map[string]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}
	const name = "b3"
	tmpl := benchTemplate(name, nil, "")
	tmpl["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["resources"] =
		map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "16Mi"}}
	applyIntent(b, conn, "deployment", name, map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{"replicas": pods, "selector": map[string]any{"matchLabels": map[string]string{"app": name}},
			"template": tmpl},
	})
	c.waitFor(fmt.Sprintf("%d pods Running on the victims", pods), budget, func() bool { return w.runningOn(true) == pods })

	sim := c.start("sim", "--nodes", strconv.Itoa(nodes), "--cpu", "32", "--memory", "128Gi", "--pods", "110", "--name-prefix", "sim")
	c.waitFor("the simulated nodes to start", budget, func() bool { return strings.Contains(sim.out.String(), "nodes ready") })
	c.waitFor(fmt.Sprintf("%d Ready nodes", nodes+n), budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == nodes+n
	})
	before := w.notReadyCount()
	killed := time.Now()
	victim.kill9(b)
	c.waitFor(fmt.Sprintf("%d replacements Running elsewhere", pods), budget, func() bool { return w.runningOn(false) == pods })
	r := w.result(killed)
	r.pods = pods
	r.falseNotReady = w.notReadyCount() - before - n
	return r
}

// lossWatch follows the log: node state decisions, bindings, evictions and
// pod reports of the b3 pods.
type lossWatch struct {
	victims  string // name prefix of the victim nodes
	mu       sync.Mutex
	notReady map[string]time.Time // node → its last NotReady decision
	nrCount  int                  // NotReady decisions in all
	lastBeat time.Time            // the victims' newest registration or heartbeat report
	running  map[string]time.Time // pod@node → first Running
	bound    map[string]time.Time // pod → its newest binding (elsewhere)
	evicted  []time.Time          // evictions, as stored
}

func (w *lossWatch) follow(ctx context.Context, js jetstream.JetStream) error {
	return followLog(ctx, js, []logSource{
		{events.StreamDecisions, []string{events.SubjectPodDecAll, events.SubjectNodeStateAll}},
		{events.StreamObservations, []string{events.SubjectObsPodAll}},
	}, w.take)
}

type lossEnv struct {
	Type string `json:"type"`
	Data struct {
		Name          string    `json:"name"`
		Node          string    `json:"node"`
		Ready         bool      `json:"ready"`
		Phase         string    `json:"phase"`
		Reason        string    `json:"reason"`
		LastHeartbeat time.Time `json:"lastHeartbeat"`
		Pod           struct {
			Name string `json:"name"`
		} `json:"pod"`
	} `json:"data"`
}

func (w *lossWatch) take(data []byte, stored time.Time) {
	var e lossEnv
	if err := json.Unmarshal(data, &e); err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	victim := strings.HasPrefix(e.Data.Node, w.victims)
	switch e.Type {
	case events.TypeNodeState:
		if !e.Data.Ready {
			w.nrCount++
			w.notReady[e.Data.Node] = stored
			if victim && e.Data.LastHeartbeat.After(w.lastBeat) {
				w.lastBeat = e.Data.LastHeartbeat
			}
		}
	case events.TypePodBound:
		if strings.HasPrefix(e.Data.Pod.Name, "b3-") && !victim {
			w.bound[e.Data.Pod.Name] = stored
		}
	case events.TypePodDeleted:
		if e.Data.Reason == "NodeLost" {
			w.evicted = append(w.evicted, stored)
		}
	case events.TypePodStatusObserved:
		if e.Data.Phase != events.PhaseRunning || !strings.HasPrefix(e.Data.Name, "b3-") {
			return
		}
		k := e.Data.Name + "@" + e.Data.Node
		if _, ok := w.running[k]; !ok {
			w.running[k] = stored
		}
	}
}

// runningOn counts the b3 pods that reported Running on the victims (true)
// or elsewhere (false).
func (w *lossWatch) runningOn(victims bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for k := range w.running {
		_, node, _ := strings.Cut(k, "@")
		if strings.HasPrefix(node, w.victims) == victims {
			n++
		}
	}
	return n
}

func (w *lossWatch) notReadyCount() int { w.mu.Lock(); defer w.mu.Unlock(); return w.nrCount }

func (w *lossWatch) result(killed time.Time) lossResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := lossResult{killed: killed, lastBeat: w.lastBeat}
	for node, at := range w.notReady {
		if strings.HasPrefix(node, w.victims) && at.After(r.notReady) {
			r.notReady = at
		}
	}
	for _, at := range w.evicted {
		if r.firstEvict.IsZero() || at.Before(r.firstEvict) {
			r.firstEvict = at
		}
		if at.After(r.lastEvict) {
			r.lastEvict = at
		}
	}
	for _, at := range w.bound {
		if at.After(r.lastBound) {
			r.lastBound = at
		}
	}
	for k, at := range w.running {
		if _, node, _ := strings.Cut(k, "@"); !strings.HasPrefix(node, w.victims) && at.After(r.lastRunning) {
			r.lastRunning = at
		}
	}
	return r
}

// BenchmarkHeartbeat measures what heartbeats cost: GANTRY_HB_NODES
// (default 5,000) idle simulated nodes beating every GANTRY_HB_INTERVAL
// (default 1 s, jitter half of it), the CPU `gantry up` (every service and
// NATS) and `gantry sim` spend over 30 s. An interval over 2 s runs the
// control plane with a grace of 10 intervals, so the nodes stay Ready. Its
// last line is `HB interval=… nodes=… up_cores=… sim_cores=…`.
func BenchmarkHeartbeat(b *testing.B) {
	nodes := envInt(b, "GANTRY_HB_NODES", 5000)
	interval := envDuration(b, "GANTRY_HB_INTERVAL", time.Second)
	c := newCluster(b)
	defer c.teardown()
	upArgs := []string{"--node=false"}
	if interval > 2*time.Second {
		upArgs = append(upArgs, "--node-monitor-grace-period", (10 * interval).String())
	}
	up := c.up(upArgs...)
	sim := c.start("sim", "--nodes", strconv.Itoa(nodes), "--cpu", "32", "--memory", "128Gi", "--pods", "110", "--name-prefix", "sim",
		"--heartbeat", interval.String(), "--heartbeat-jitter", (interval / 2).String())
	c.waitFor(fmt.Sprintf("%d Ready nodes", nodes), 5*time.Minute, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == nodes
	})
	const span = 30 * time.Second
	up0, sim0 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	time.Sleep(span) // the span measured, not synchronization
	up1, sim1 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	fmt.Printf("HB interval=%s nodes=%d up_cores=%.3f sim_cores=%.3f\n", interval, nodes, (up1-up0)/span.Seconds(), (sim1-sim0)/span.Seconds())
}
