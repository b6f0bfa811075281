package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// fanFilters are the subjects every node's WatchServices follows
// (node.serviceFilters): what a node is sent when a Service changes.
var fanFilters = []string{
	"gantry.decision.admission.*.service.>",
	"gantry.decision.workload.*.service.>",
	"gantry.decision.workload.*.endpointslice.>",
	events.SubjectServiceAlloc,
}

// BenchmarkFanout measures what an endpoint change costs at scale, on
// `gantry up --node=false` and `gantry sim` (as B1): GANTRY_FAN_NODES
// simulated nodes (default 1,000), GANTRY_FAN_SERVICES Services (default
// 1,000), each over a Deployment of GANTRY_FAN_PODS pods (default 10). The
// first Service's last pod is a bare Pod whose readiness probe fails from
// HELLO_UNREADY_AFTER on (the simulated runtime answers /ready as the demo
// image does): its one flip to not ready is the change measured.
//
// Flip: the decisions the log stored for it on the nodes' Service subjects
// (count, bytes as stored: subject, headers and data), and what the nodes
// were sent: one ordered consumer per node with WatchServices' filters,
// opened by the benchmark at the log's position just before the flip (the
// simulated agents watch no Service), counting the messages and bytes each
// receives. Rollout: a Service over a Deployment of GANTRY_FAN_ROLLOUT pods
// (default 1,000; slices of 100) whose template changes (RollingUpdate 25
// %/25 %): the CPU of the `gantry up` process from the change until its
// slices hold only new pods, all ready, and the slice decisions and bytes
// stored and sent in that time. The last line is `FANOUT flip_msgs=…
// flip_bytes=… delivered_bytes=… rollout_cpu_s=…`.
func BenchmarkFanout(b *testing.B) {
	nodes := envInt(b, "GANTRY_FAN_NODES", 1000)
	services := envInt(b, "GANTRY_FAN_SERVICES", 1000)
	per := envInt(b, "GANTRY_FAN_PODS", 10)
	big := envInt(b, "GANTRY_FAN_ROLLOUT", 1000)
	budget := envDuration(b, "GANTRY_FAN_TIMEOUT", 10*time.Minute)
	began := time.Now()

	c := newCluster(b)
	defer c.teardown()
	up := c.up("--node=false")
	sim := c.start("sim", "--nodes", strconv.Itoa(nodes), "--cpu", "32", "--memory", "128Gi", "--pods", "110", "--name-prefix", "sim")
	c.waitFor("the simulated nodes to start", budget, func() bool { return strings.Contains(sim.out.String(), "nodes ready") })
	c.waitFor(fmt.Sprintf("%d Ready nodes", nodes), budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == nodes
	})
	fmt.Printf("FANOUT-setup nodes=%d ready_s=%.1f\n", nodes, time.Since(began).Seconds())

	conn, err := bus.Connect(c.url, "bench-fanout", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &fanWatch{slices: map[string]fanSlice{}}
	if err := w.follow(ctx, conn.JS); err != nil {
		b.Fatal(err)
	}

	// 1,000 Services of 10 pods; the first's last pod is the one that flips.
	for i := range services {
		name := fmt.Sprintf("fan-%d", i)
		applyIntent(b, conn, "service", name, fanService(name))
		replicas := per
		if i == 0 {
			replicas--
		}
		applyIntent(b, conn, "deployment", name, fanDeployment(name, replicas, "1"))
	}
	w.await(b, fmt.Sprintf("%d Services' slices to hold their ready pods", services), budget, func() bool {
		for i := range services {
			want := per
			if i == 0 {
				want--
			}
			if ready, _ := w.ready(fmt.Sprintf("fan-%d", i), nil); ready != want {
				return false
			}
		}
		return true
	})
	fmt.Printf("FANOUT-setup services=%d pods=%d slices=%d decided_s=%.1f\n", services, services*per, w.count(), time.Since(began).Seconds())

	applyIntent(b, conn, "pod", "fan-flip", fanFlipPod("fan-0", 10*time.Second))
	var before uint64 // the log's sequence of the decision that made fan-flip ready
	w.await(b, "fan-flip to be a ready endpoint", budget, func() bool {
		ready, seq := w.ready("fan-0", nil)
		before = seq
		return ready == per
	})
	fc, err := openFanCounters(ctx, c.url, nodes, before+1, c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer fc.close()
	var after uint64
	w.await(b, "fan-flip's readiness to flip", budget, func() bool {
		ready, seq := w.ready("fan-0", nil)
		after = seq
		return ready == per-1
	})
	flip := w.between(before, after)
	sent := fc.await(b, before, after, uint64(nodes*flip.msgs), budget)
	fmt.Printf("FANOUT-flip log_msgs=%d log_bytes=%d (%s) | sent to %d nodes: msgs=%d bytes=%d per_node_bytes=%d | computed stored×nodes=%d\n",
		flip.msgs, flip.bytes, strings.Join(flip.subjects, ","), nodes, sent.msgs, sent.bytes, sent.bytes/uint64(nodes), uint64(flip.bytes)*uint64(nodes))

	// The rollout of one Service of 1,000 pods (10 slices of 100).
	// GANTRY_FAN_ROLLOUT_SENT=0 closes the nodes' consumers first: the
	// control plane's CPU without the fan-out's delivery.
	sendRollout := os.Getenv("GANTRY_FAN_ROLLOUT_SENT") != "0"
	if !sendRollout {
		fc.close()
	}
	applyIntent(b, conn, "service", "fan-big", fanService("fan-big"))
	applyIntent(b, conn, "deployment", "fan-big", fanDeployment("fan-big", big, "1"))
	w.await(b, fmt.Sprintf("fan-big's %d ready endpoints", big), budget, func() bool {
		ready, _ := w.ready("fan-big", nil)
		return ready == big
	})
	old := w.pods("fan-big")
	_, seq0 := w.ready("fan-big", nil)
	seq0 = max(seq0, w.last())
	cpu0, simCPU0 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	start := time.Now()
	changed := applyIntent(b, conn, "deployment", "fan-big", fanDeployment("fan-big", big, "2"))
	var seq1 uint64
	w.await(b, "fan-big's slices to hold only new pods, all ready", budget, func() bool {
		ready, seq := w.ready("fan-big", old)
		seq1 = seq
		return ready == big && w.total("fan-big") == big
	})
	took := time.Since(start)
	cpu1, simCPU1 := procCPU(up.cmd.Process.Pid), procCPU(sim.cmd.Process.Pid)
	roll := w.between(seq0, seq1)
	var rollSent fanSent
	if sendRollout {
		rollSent = fc.await(b, seq0, seq1, uint64(nodes*roll.msgs), budget)
	}
	upHWM, _ := procMem(up.cmd.Process.Pid)
	late := w.between(seq1, w.last()) // decisions of the Service's slices after they settled, if any
	own, sliced := roll.services["fan-big"], 0
	for _, n := range roll.services {
		sliced += n
	}
	fmt.Printf("FANOUT-rollout-slices first_decided_s=%.2f last_decided_s=%.2f (stored, after the change's intent was appended) fan-big's_slices=%d other_services'_slices=%d not_slice_decisions=%d\n",
		roll.first.Sub(changed).Seconds(), roll.last.Sub(changed).Seconds(), own, sliced-own, roll.msgs-sliced)
	fmt.Printf("FANOUT-rollout replicas=%d slices=%d seconds=%.1f up_cpu_s=%.1f up_cores=%.2f sim_cpu_s=%.1f up_peak_rss_mb=%d | "+
		"slice decisions=%d bytes=%d mean_bytes=%d (after settling: %d) | sent (consumers open: %v) to %d nodes: msgs=%d bytes=%d per_node_bytes=%d\n",
		big, w.slicesOf("fan-big"), took.Seconds(), cpu1-cpu0, (cpu1-cpu0)/took.Seconds(), simCPU1-simCPU0, upHWM>>10,
		roll.msgs, roll.bytes, roll.bytes/max(roll.msgs, 1), late.msgs, sendRollout, nodes, rollSent.msgs, rollSent.bytes, rollSent.bytes/uint64(nodes))
	fmt.Printf("FANOUT flip_msgs=%d flip_bytes=%d delivered_bytes=%d rollout_cpu_s=%.1f\n", flip.msgs, flip.bytes, sent.bytes, cpu1-cpu0)
}

func fanService(name string) map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{"selector": map[string]string{"app": name},
			"ports": []any{map[string]any{"name": "http", "port": 80, "targetPort": "http"}}},
	}
}

func fanContainer(env map[string]string) map[string]any {
	var envs []any
	for k, v := range env {
		envs = append(envs, map[string]any{"name": k, "value": v})
	}
	return map[string]any{"name": "web", "image": imageRef, "env": envs,
		"ports":     []any{map[string]any{"name": "http", "containerPort": 8080}},
		"resources": map[string]any{"requests": map[string]string{"cpu": "10m", "memory": "16Mi"}}}
}

// fanDeployment is a Deployment of replicas pods labelled app: name, rolled
// 25 %/25 %, whose pods' env says revision.
func fanDeployment(name string, replicas int, revision string) map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": "default"},
		"spec": map[string]any{
			"replicas": replicas, "selector": map[string]any{"matchLabels": map[string]string{"app": name}},
			"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": "25%"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]string{"app": name}},
				"spec": map[string]any{"containers": []any{fanContainer(map[string]string{"FAN_REVISION": revision})}}},
		},
	}
}

// fanFlipPod is a pod labelled app: app whose readiness probe passes until
// it has run for after.
func fanFlipPod(app string, after time.Duration) map[string]any {
	ctr := fanContainer(map[string]string{"HELLO_UNREADY_AFTER": after.String()})
	ctr["readinessProbe"] = map[string]any{"httpGet": map[string]any{"path": "/ready", "port": "http"}, "periodSeconds": 1, "failureThreshold": 1}
	return map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "fan-flip", "namespace": "default", "labels": map[string]string{"app": app}},
		"spec":     map[string]any{"containers": []any{ctr}},
	}
}

// fanSlice is an EndpointSlice as last decided.
type fanSlice struct {
	service string
	seq     uint64 // the decision's sequence in the log
	eps     []manifest.Endpoint
}

// fanMsg is one message of the nodes' Service subjects as the log stored it.
type fanMsg struct {
	seq     uint64
	subject string
	bytes   int
	at      time.Time // when the log stored it
	service string    // the Service whose slice it decides, if it does
}

// fanWatch follows the nodes' Service subjects from the log's start: the
// slices as last decided and every message's size.
type fanWatch struct {
	mu     sync.Mutex
	slices map[string]fanSlice // ns/name → slice
	msgs   []fanMsg
	err    error
}

func (w *fanWatch) follow(ctx context.Context, js jetstream.JetStream) error {
	r, err := bus.Read(ctx, js, events.StreamDecisions, jetstream.OrderedConsumerConfig{FilterSubjects: fanFilters})
	if err != nil {
		return err
	}
	go func() {
		defer r.Close()
		for {
			m, err := r.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					w.fail(err)
				}
				return
			}
			md, err := m.Metadata()
			if err != nil {
				w.fail(err)
				return
			}
			err = w.apply(md, m)
			if err != nil {
				w.fail(err)
				return
			}
		}
	}()
	return nil
}

func (w *fanWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

func (w *fanWatch) apply(md *jetstream.MsgMetadata, m jetstream.Msg) error {
	var env events.Envelope
	if err := json.Unmarshal(m.Data(), &env); err != nil {
		return fmt.Errorf("%s: %w", m.Subject(), err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := md.Sequence.Stream
	w.msgs = append(w.msgs, fanMsg{seq: seq, subject: m.Subject(), bytes: msgSize(m), at: md.Timestamp})
	msg := &w.msgs[len(w.msgs)-1]
	switch env.Type {
	case events.TypeWorkloadDecided:
		var wd events.WorkloadDecided
		if err := json.Unmarshal(env.Data, &wd); err != nil {
			return err
		}
		if wd.Kind != "endpointslice" || wd.Owner == nil {
			return nil
		}
		var obj struct {
			Spec manifest.EndpointSliceSpec `json:"spec"`
		}
		if err := json.Unmarshal(wd.Object, &obj); err != nil {
			return fmt.Errorf("slice %s: %w", wd.Name, err)
		}
		w.slices[wd.Namespace+"/"+wd.Name] = fanSlice{service: wd.Owner.Name, seq: seq, eps: obj.Spec.Endpoints}
		msg.service = wd.Owner.Name
	case events.TypeWorkloadDeleted:
		var wd events.WorkloadDeleted
		if err := json.Unmarshal(env.Data, &wd); err != nil {
			return err
		}
		if wd.Kind == "endpointslice" {
			delete(w.slices, wd.Namespace+"/"+wd.Name)
		}
	}
	return nil
}

// msgSize is a message's size as stored: subject, headers and data.
func msgSize(m jetstream.Msg) int {
	n := len(m.Subject()) + len(m.Data())
	for k, vs := range m.Headers() {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

// ready is how many ready endpoints the Service's slices hold (none of the
// pods in old), and the newest sequence of its slices' decisions.
func (w *fanWatch) ready(svc string, old map[string]bool) (n int, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.slices {
		if s.service != svc {
			continue
		}
		seq = max(seq, s.seq)
		for _, e := range s.eps {
			if e.Conditions.Ready && (e.TargetRef == nil || !old[e.TargetRef.Name]) {
				n++
			}
		}
	}
	return n, seq
}

// total is how many endpoints the Service's slices hold, ready or not.
func (w *fanWatch) total(svc string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.slices {
		if s.service == svc {
			n += len(s.eps)
		}
	}
	return n
}

func (w *fanWatch) slicesOf(svc string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, s := range w.slices {
		if s.service == svc {
			n++
		}
	}
	return n
}

// pods are the pods the Service's slices hold.
func (w *fanWatch) pods(svc string) map[string]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]bool{}
	for _, s := range w.slices {
		if s.service == svc {
			for _, e := range s.eps {
				if e.TargetRef != nil {
					out[e.TargetRef.Name] = true
				}
			}
		}
	}
	return out
}

func (w *fanWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.slices)
}

// last is the sequence of the newest message read.
func (w *fanWatch) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.msgs) == 0 {
		return 0
	}
	return w.msgs[len(w.msgs)-1].seq
}

// fanSpan is the messages of (from, to] in the log.
type fanSpan struct {
	msgs, bytes int
	subjects    []string
	first, last time.Time      // stored
	services    map[string]int // decisions by Service
}

func (w *fanWatch) between(from, to uint64) fanSpan {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s fanSpan
	for _, m := range w.msgs {
		if m.seq > from && m.seq <= to {
			if s.msgs == 0 {
				s.first = m.at
			}
			s.msgs++
			s.bytes += m.bytes
			s.last = m.at
			if m.service != "" {
				if s.services == nil {
					s.services = map[string]int{}
				}
				s.services[m.service]++
			}
			if len(s.subjects) < 3 {
				s.subjects = append(s.subjects, m.subject)
			}
		}
	}
	return s
}

func (w *fanWatch) await(b testing.TB, what string, budget time.Duration, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(budget)
	next := time.Now().Add(10 * time.Second)
	for {
		w.mu.Lock()
		err := w.err
		w.mu.Unlock()
		switch {
		case err != nil:
			b.Fatalf("following the log: %v", err)
		case cond():
			return
		case time.Now().After(deadline):
			b.Fatalf("no %s after %s (%d slices)", what, budget, w.count())
		case time.Now().After(next):
			fmt.Printf("FANOUT-progress waiting for %s: %d slices\n", what, w.count())
			next = next.Add(10 * time.Second)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// fanCounters are one ordered consumer per node with WatchServices'
// filters, counting what each receives.
type fanCounters struct {
	conns []*bus.Conn
	ctxs  []jetstream.ConsumeContext
	mu    sync.Mutex
	seqs  map[uint64]fanSent // the log's sequence → what the nodes received of it
	err   error
}

type fanSent struct{ msgs, bytes uint64 }

// openFanCounters opens n consumers from the log's sequence from on, over
// a few connections as the simulated nodes share theirs.
func openFanCounters(ctx context.Context, url string, n int, from uint64, creds nats.Option) (*fanCounters, error) {
	fc := &fanCounters{seqs: map[uint64]fanSent{}}
	for i := range 8 {
		conn, err := bus.Connect(url, fmt.Sprintf("bench-fanout-nodes-%d", i), creds)
		if err != nil {
			fc.close()
			return nil, err
		}
		fc.conns = append(fc.conns, conn)
	}
	for i := range n {
		js := fc.conns[i%len(fc.conns)].JS
		cons, err := js.OrderedConsumer(ctx, events.StreamDecisions, jetstream.OrderedConsumerConfig{
			FilterSubjects: fanFilters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
		if err != nil {
			fc.close()
			return nil, fmt.Errorf("node %d's consumer: %w", i, err)
		}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			md, err := m.Metadata()
			fc.mu.Lock()
			defer fc.mu.Unlock()
			if err != nil {
				fc.err = err
				return
			}
			s := fc.seqs[md.Sequence.Stream]
			s.msgs++
			s.bytes += uint64(msgSize(m))
			fc.seqs[md.Sequence.Stream] = s
		})
		if err != nil {
			fc.close()
			return nil, fmt.Errorf("node %d's consumer: %w", i, err)
		}
		fc.ctxs = append(fc.ctxs, cc)
	}
	return fc, nil
}

// sent is what the nodes received of the log's messages in (from, to].
func (fc *fanCounters) sent(from, to uint64) fanSent {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var t fanSent
	for seq, s := range fc.seqs {
		if seq > from && seq <= to {
			t.msgs += s.msgs
			t.bytes += s.bytes
		}
	}
	return t
}

// await returns once the consumers have received msgs messages of the
// log's (from, to].
func (fc *fanCounters) await(b testing.TB, from, to, msgs uint64, budget time.Duration) fanSent {
	b.Helper()
	deadline := time.Now().Add(budget)
	for {
		fc.mu.Lock()
		err := fc.err
		fc.mu.Unlock()
		got := fc.sent(from, to)
		switch {
		case err != nil:
			b.Fatalf("the nodes' consumers: %v", err)
		case got.msgs >= msgs:
			return got
		case time.Now().After(deadline):
			b.Fatalf("the nodes' consumers received %d messages, want %d", got.msgs, msgs)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// close stops the consumers (again: nothing).
func (fc *fanCounters) close() {
	for _, cc := range fc.ctxs {
		cc.Stop()
	}
	for _, c := range fc.conns {
		c.Close()
	}
	fc.ctxs, fc.conns = nil, nil
}
