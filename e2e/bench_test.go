package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// BenchmarkStartup (B2) measures apply → Running on real containerd: for 3
// and for 30 replicas, 5 runs each, the time from the intent's envelope to
// the node's first Running report of each pod. It prints one line per size
// and, last, `B2 p50_ms=… p99_ms=… pods=…` over every pod measured.
func BenchmarkStartup(b *testing.B) {
	c := newCluster(b)
	c.up()
	base := readFile(b, filepath.Join(repoRoot, "deploy/examples/hello.yaml"))
	var all []float64
	for _, replicas := range []int{3, 30} {
		var lat, bound []float64
		for run := 0; run < 5; run++ {
			name := fmt.Sprintf("b2-%d-%d", replicas, run)
			m := strings.Replace(base, "replicas: 3", fmt.Sprintf("replicas: %d", replicas), 1)
			m = strings.ReplaceAll(m, "hello", name)
			m = strings.ReplaceAll(m, "gantry.local/"+name+":v1", imageRef)
			if _, errOut, code := c.gantryIn(m, "apply", "-f", "-"); code != 0 {
				b.Fatalf("apply: %s", errOut)
			}
			c.waitFor(fmt.Sprintf("%d running pods", replicas), 5*time.Minute, func() bool {
				return len(c.runningPods()) == replicas
			})
			l, bl := podStartLatencies(b, c, name)
			lat, bound = append(lat, l...), append(bound, bl...)
			c.mustGantry("delete", "deployment", name, "--timeout", "5m")
		}
		all = append(all, lat...)
		fmt.Printf("B2 replicas=%d runs=5 p50_ms=%.0f p99_ms=%.0f max_ms=%.0f pods=%d | intent→bound p50_ms=%.0f p99_ms=%.0f\n",
			replicas, pct(lat, 50), pct(lat, 99), pct(lat, 100), len(lat), pct(bound, 50), pct(bound, 99))
	}
	fmt.Printf("B2 p50_ms=%.0f p99_ms=%.0f pods=%d\n", pct(all, 50), pct(all, 99), len(all))
}

// podStartLatencies reads the log: for each pod of the deployment, the time
// from the intent that created it to its first Running report, and to its
// first binding (the control plane's part).
func podStartLatencies(t testing.TB, c *cluster, deployment string) (toRunning, toBound []float64) {
	out := c.mustGantry("events", "-o", "json")
	var intentAt time.Time
	running, bound := map[string]time.Time{}, map[string]time.Time{}
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var env events.Envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("events -o json: %v", err)
		}
		switch env.Type {
		case events.TypeIntentApplied:
			if env.Subject == "default/"+deployment {
				intentAt = env.Time
			}
		case events.TypePodBound:
			var pb events.PodBound
			if err := json.Unmarshal(env.Data, &pb); err != nil {
				t.Fatal(err)
			}
			if _, seen := bound[pb.Pod.Name]; !seen && strings.HasPrefix(pb.Pod.Name, deployment+"-") {
				bound[pb.Pod.Name] = env.Time
			}
		case events.TypePodStatusObserved:
			var st events.PodStatusObserved
			if err := json.Unmarshal(env.Data, &st); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(st.Name, deployment+"-") && st.Phase == events.PhaseRunning {
				if _, seen := running[st.Name]; !seen {
					running[st.Name] = env.Time
				}
			}
		}
	}
	if intentAt.IsZero() {
		t.Fatalf("no intent for %s in the log", deployment)
	}
	for _, at := range running {
		toRunning = append(toRunning, float64(at.Sub(intentAt).Microseconds())/1000)
	}
	for _, at := range bound {
		toBound = append(toBound, float64(at.Sub(intentAt).Microseconds())/1000)
	}
	return toRunning, toBound
}

func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// BenchmarkRestart measures the time from kill -9 of `gantry up` to a
// control plane that has replayed the log and is ready, for a log of about
// 1,000 and 100,000 events (intents plus their verdicts). The node runs the
// simulated runtime so containerd takes no part in the figure.
func BenchmarkRestart(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		c := newCluster(b)
		p := c.up("--runtime", "simulated")
		fill(b, c, n/2)
		p.kill9(b)
		start := time.Now()
		p = c.start("up", "--data-dir", c.dataDir, "--listen", c.listen, "--node-name", "e2e-node", "--runtime", "simulated")
		c.waitFor("control plane ready", 10*time.Minute, func() bool { return strings.Contains(p.out.String(), "control plane ready") })
		took := time.Since(start)
		replay := regexp.MustCompile(`control plane ready replay=(\S+)`).FindStringSubmatch(p.out.String())
		events := streamMsgs(b, c)
		fmt.Printf("RESTART events=%d kill_to_ready_ms=%d replay=%s\n", events, took.Milliseconds(), replay[1])
		p.stop()
	}
}

// fill appends n deployment intents (replicas 0) and waits for their n
// verdicts, so the log holds about 2n events.
func fill(t testing.TB, c *cluster, n int) {
	conn, err := bus.Connect(c.url, "bench", c.controlPlane())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	const batch = 2000
	for i := 0; i < n; i += batch {
		var out []bus.Outgoing
		for j := i; j < min(i+batch, n); j++ {
			name := fmt.Sprintf("fill-%d", j)
			obj := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":%q,"namespace":"default"},`+
				`"spec":{"replicas":0,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},`+
				`"spec":{"containers":[{"name":"web","image":"gantry.local/hello:v1"}]}}}}`, name, name, name)
			id := events.NewID()
			env, err := events.Seal(&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: name, Object: json.RawMessage(obj)},
				events.Meta{ID: id, Source: "cli", Subject: "default/" + name, Time: time.Now(), Actor: "bench"})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, bus.Outgoing{Subject: events.IntentSubject("default", "deployment", name), Envelope: env, MsgID: id})
		}
		publishAll(ctx, t, conn, out)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		last, err := bus.LastSeq(ctx, conn.JS, events.StreamDecisions, events.SubjectAdmissionAll)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := conn.JS.Stream(ctx, events.StreamDecisions); err == nil {
			if info, err := st.Info(ctx, jetstream.WithSubjectFilter(events.SubjectAdmissionAll)); err == nil && info.State.Msgs >= uint64(n) && last > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("admission did not answer %d intents in time", n)
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

func streamMsgs(t testing.TB, c *cluster) uint64 {
	conn, err := bus.Connect(c.url, "bench", c.controlPlane())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var total uint64
	for _, s := range []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations, events.StreamHeartbeats} {
		st, err := conn.JS.Stream(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total += info.State.Msgs
	}
	return total
}
