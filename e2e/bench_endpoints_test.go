package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// b7YAML is B7's pod, its readiness probed every second (the shortest
// period Gantry accepts) and failing at the first miss, behind a ClusterIP
// Service.
const b7YAML = `apiVersion: v1
kind: Pod
metadata:
  name: b7
  labels: {app: b7}
spec:
  containers:
  - name: app
    image: gantry.local/hello:v1
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: b7}
spec:
  selector: {app: b7}
  ports: [{name: http, port: 80, targetPort: http}]
`

// b7Transition is what the harness saw of one flip back to ready.
type b7Transition struct {
	on time.Time // just before POST /ready/on
	ok time.Time // the first request through the virtual IP answered
}

// BenchmarkEndpoints (B7) measures how soon a pod whose readiness comes
// back is reachable through its Service, on one real containerd node: the
// pod's readiness switch (docs/demo-image.md) is flipped off until a
// request to the virtual IP from the host is refused, then on, and the
// virtual IP is polled every millisecond until a request reaches the pod.
// One transition's latency runs from the envelope time of the node's first
// PodStatusObserved that says the pod ready (the probe saw it pass; the
// up-to-one-period wait before is excluded, as the issue defines it) to
// that first answer. The phases between come from the log (the
// EndpointSlice decision's envelope time) and from `nft monitor` (the
// kernel's commit of the proxy's transaction, stamped as the harness reads
// it). It prints the phases and, last, `B7 p50_ms=… p99_ms=… transitions=…`.
// GANTRY_B7_TRANSITIONS changes the count (default 100).
func BenchmarkEndpoints(b *testing.B) {
	n := 100
	if v := os.Getenv("GANTRY_B7_TRANSITIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("GANTRY_B7_TRANSITIONS=%q: want a whole number ≥ 1", v)
		}
	}
	c := newCluster(b)
	c.up()
	if out, errOut, code := c.gantryIn(b7YAML, "apply", "-f", "-"); code != 0 {
		b.Fatalf("apply: %s%s", out, errOut)
	}
	var vip string
	c.waitFor("b7's name to resolve", 60*time.Second, func() bool {
		rrs, _, err := lookup("b7.default.svc.gantry.local", dns.TypeA)
		if a := aRecords(rrs); err == nil && len(a) == 1 {
			vip = a[0]
			return true
		}
		return false
	})
	var podIP string
	c.waitFor("b7 to run ready", 60*time.Second, func() bool {
		for _, p := range c.runningPods() {
			if p.Metadata.Name == "b7" {
				podIP = p.Status.PodIP
			}
		}
		return podIP != ""
	})
	through := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + vip + "/"
	c.waitFor("the virtual IP to answer", 30*time.Second, func() bool { return b7Get(through, url) == nil })

	mon := startNFTMonitor(b, "gantry-"+podBridge)
	defer mon.stop()

	pod := "http://" + net.JoinHostPort(podIP, "8080")
	flip := func(to string) {
		b.Helper()
		resp, err := http.Post(pod+"/ready/"+to, "text/plain", nil)
		if err != nil {
			b.Fatalf("POST /ready/%s: %v", to, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("POST /ready/%s: %s", to, resp.Status)
		}
	}
	trans := make([]b7Transition, 0, n)
	for i := 0; i < n; i++ {
		flip("off")
		deadline := time.Now().Add(15 * time.Second)
		for err := b7Get(through, url); !errors.Is(err, syscall.ECONNREFUSED); err = b7Get(through, url) {
			if time.Now().After(deadline) {
				b.Fatalf("transition %d: the virtual IP still not refusing 15 s after readiness went off (last: %v)\n%s", i, err, c.logs())
			}
			time.Sleep(5 * time.Millisecond) // polling interval
		}
		tr := b7Transition{on: time.Now()}
		flip("on")
		deadline = time.Now().Add(15 * time.Second)
		for b7Get(through, url) != nil {
			if time.Now().After(deadline) {
				b.Fatalf("transition %d: the virtual IP not answering 15 s after readiness came back\n%s", i, c.logs())
			}
			time.Sleep(time.Millisecond) // polling interval
		}
		tr.ok = time.Now()
		trans = append(trans, tr)
	}
	commits := mon.stop()

	seen, decided := b7LogTimes(b, c)
	var total, toSlice, toRules, toRequest, flipToSeen []float64
	late := 0 // commits the monitor read only after the answer
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for i, tr := range trans {
		s := firstIn(seen, tr.on, tr.ok)
		if s.IsZero() {
			b.Fatalf("transition %d: no PodStatusObserved saying b7 ready between the flip (%s) and the first answer (%s)",
				i, tr.on.Format(time.RFC3339Nano), tr.ok.Format(time.RFC3339Nano))
		}
		total = append(total, ms(tr.ok.Sub(s)))
		flipToSeen = append(flipToSeen, ms(s.Sub(tr.on)))
		sl := firstIn(decided, s, tr.ok)
		if sl.IsZero() {
			continue // no decision in the log in between: the phases of this one are not known
		}
		toSlice = append(toSlice, ms(sl.Sub(s)))
		// The monitor stamps a commit when it reads it, which may be after
		// the answer it let through: look up to the next flip.
		until := sl.Add(5 * time.Second)
		if i+1 < len(trans) {
			until = trans[i+1].on
		}
		if k := firstIn(commits, sl, until); !k.IsZero() {
			toRules = append(toRules, ms(k.Sub(sl)))
			if k.After(tr.ok) {
				late++
			} else {
				toRequest = append(toRequest, ms(tr.ok.Sub(k)))
			}
		}
	}
	fmt.Printf("B7 flip→probe-seen (excluded: the probe's period) p50_ms=%.1f p99_ms=%.1f\n", pct(flipToSeen, 50), pct(flipToSeen, 99))
	fmt.Printf("B7 phases: probe-seen→slice-decided p50_ms=%.1f p99_ms=%.1f (n=%d) | slice→nftables-commit p50_ms=%.1f p99_ms=%.1f (n=%d) | "+
		"commit→request p50_ms=%.1f p99_ms=%.1f (n=%d; %d commits read by nft monitor only after the answer)\n",
		pct(toSlice, 50), pct(toSlice, 99), len(toSlice), pct(toRules, 50), pct(toRules, 99), len(toRules),
		pct(toRequest, 50), pct(toRequest, 99), len(toRequest), late)
	fmt.Printf("B7 max_ms=%.1f\n", pct(total, 100))
	fmt.Printf("B7 p50_ms=%.1f p99_ms=%.1f transitions=%d\n", pct(total, 50), pct(total, 99), len(total))
}

// b7Get makes one request through the virtual IP on a new connection: nil
// when the pod answered.
func b7Get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "hello from b7") {
		return fmt.Errorf("answer %s %q", resp.Status, body)
	}
	return nil
}

// b7LogTimes reads the log: the envelope times of the node's reports that
// say b7 is ready, and of the endpoints service's decisions that b7's
// EndpointSlice holds a ready endpoint, oldest first.
func b7LogTimes(t testing.TB, c *cluster) (ready, decided []time.Time) {
	out := c.mustGantry("events", "-o", "json")
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var env events.Envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatalf("events -o json: %v", err)
		}
		switch env.Type {
		case events.TypePodStatusObserved:
			var st events.PodStatusObserved
			if err := json.Unmarshal(env.Data, &st); err != nil {
				t.Fatal(err)
			}
			if st.Namespace == "default" && st.Name == "b7" && st.Phase == events.PhaseRunning &&
				len(st.Containers) == 1 && st.Containers[0].Ready {
				ready = append(ready, env.Time)
			}
		case events.TypeWorkloadDecided:
			var wd events.WorkloadDecided
			if err := json.Unmarshal(env.Data, &wd); err != nil {
				t.Fatal(err)
			}
			if wd.Kind != "endpointslice" || wd.Namespace != "default" || wd.Owner == nil || wd.Owner.Name != "b7" {
				continue
			}
			var obj struct {
				Spec manifest.EndpointSliceSpec `json:"spec"`
			}
			if err := json.Unmarshal(wd.Object, &obj); err != nil {
				t.Fatalf("b7's EndpointSlice: %v", err)
			}
			for _, e := range obj.Spec.Endpoints {
				if e.Conditions.Ready {
					decided = append(decided, env.Time)
					break
				}
			}
		}
	}
	return ready, decided
}

// firstIn is the first of the ascending times at or after from and not
// after to; zero when there is none.
func firstIn(times []time.Time, from, to time.Time) time.Time {
	for _, at := range times {
		if !at.Before(from) && !at.After(to) {
			return at
		}
	}
	return time.Time{}
}

// nftMonitor runs `nft monitor` and stamps, as it reads them, the commits
// (nft's "# new generation" lines) of transactions that touched one table.
type nftMonitor struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	commits []time.Time
}

func startNFTMonitor(t testing.TB, table string) *nftMonitor {
	cmd := exec.Command("nft", "monitor")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nft monitor: %v", err)
	}
	m := &nftMonitor{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		touched := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "# new generation"):
				if touched {
					m.mu.Lock()
					m.commits = append(m.commits, time.Now())
					m.mu.Unlock()
				}
				touched = false
			case slices.Contains(strings.Fields(line), table):
				touched = true
			}
		}
	}()
	return m
}

// stop ends the monitor (again: nothing) and returns the commits it saw.
func (m *nftMonitor) stop() []time.Time {
	if m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Kill()
		<-m.done
		_ = m.cmd.Wait()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]time.Time(nil), m.commits...)
}
