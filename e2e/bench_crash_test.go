package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
)

// BenchmarkCrash measures, on real containerd, how long a crashed container
// takes to run again: its first restart, which has no back-off. Each sample
// is a fresh pod of the demo image whose first run exits 1 after
// HELLO_RUN_FOR (HELLO_FAIL_TIMES=1); the pods come in waves of
// crashWave, their runs staggered by crashStagger so that no two crash at
// once. For each pod the log's first Running report after the restart gives
// the sample: that report's time − the crashed run's finishedAt (its
// lastState, the exit time containerd recorded). Its parts: exit → the new
// run's start (detection, reconcile, task restart), start → report. GANTRY_CRASH_PODS
// (default 30) sets the number of samples. Last line:
// `CRASH p50_ms=… p99_ms=… restarts=…`.
func BenchmarkCrash(b *testing.B) {
	n := envInt(b, "GANTRY_CRASH_PODS", 30)
	c := newCluster(b)
	c.up()
	var total, toStart, toReport []float64
	for wave := 0; len(total) < n; wave++ {
		size := min(crashWave, n-len(total))
		var names []string
		var docs []string
		for i := range size {
			name := fmt.Sprintf("crash-%d-%d", wave, i)
			names = append(names, name)
			docs = append(docs, crashPod(name, crashRunFor+time.Duration(i)*crashStagger))
		}
		manifest := strings.Join(docs, "---\n")
		if _, errOut, code := c.gantryIn(manifest, "apply", "-f", "-"); code != 0 {
			b.Fatalf("apply: %s", errOut)
		}
		c.waitFor(fmt.Sprintf("wave %d restarted", wave), 2*time.Minute, func() bool {
			restarted := 0
			for _, p := range c.runningPods() {
				if strings.HasPrefix(p.Metadata.Name, fmt.Sprintf("crash-%d-", wave)) && p.Status.ContainerStatuses[0].RestartCount >= 1 {
					restarted++
				}
			}
			return restarted == size
		})
		t, s, r := crashSamples(b, c, names)
		total, toStart, toReport = append(total, t...), append(toStart, s...), append(toReport, r...)
		if _, errOut, code := c.gantryIn(manifest, "delete", "-f", "-"); code != 0 {
			b.Fatalf("delete: %s", errOut)
		}
		c.waitFor(fmt.Sprintf("wave %d gone", wave), 2*time.Minute, func() bool {
			for _, p := range c.pods() {
				if strings.HasPrefix(p.Metadata.Name, fmt.Sprintf("crash-%d-", wave)) {
					return false
				}
			}
			return true
		})
	}
	fmt.Printf("CRASH-detail exit→started p50_ms=%.0f p99_ms=%.0f | started→reported p50_ms=%.0f p99_ms=%.0f | max_ms=%.0f\n",
		pct(toStart, 50), pct(toStart, 99), pct(toReport, 50), pct(toReport, 99), pct(total, 100))
	fmt.Printf("CRASH p50_ms=%.0f p99_ms=%.0f restarts=%d\n", pct(total, 50), pct(total, 99), len(total))
}

const (
	crashWave    = 5
	crashRunFor  = 2 * time.Second
	crashStagger = 400 * time.Millisecond
)

// crashPod is a pod of the demo image whose first run exits 1 after runFor;
// the next runs exit 0 after it (and are deleted before that matters).
func crashPod(name string, runFor time.Duration) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: {app: crash}}
spec:
  restartPolicy: Always
  containers:
  - name: app
    image: %s
    env:
    - {name: HELLO_RUN_FOR, value: %s}
    - {name: HELLO_FAIL_TIMES, value: "1"}
`, name, imageRef, runFor)
}

// crashSamples reads the log: for each named pod, its first Running report
// with a restart, and from it the crash → reported time and its parts.
func crashSamples(b *testing.B, c *cluster, names []string) (total, toStart, toReport []float64) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, line := range strings.Split(c.mustGantry("events", "-o", "json"), "\n") {
		if line == "" {
			continue
		}
		var env events.Envelope
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			b.Fatalf("events -o json: %v", err)
		}
		if env.Type != events.TypePodStatusObserved {
			continue
		}
		var st events.PodStatusObserved
		if err := json.Unmarshal(env.Data, &st); err != nil {
			b.Fatal(err)
		}
		if !want[st.Name] || len(st.Containers) != 1 {
			continue
		}
		cs := st.Containers[0]
		if cs.State != events.ContainerRunning || cs.RestartCount < 1 || cs.LastState == nil || cs.StartedAt == nil {
			continue
		}
		delete(want, st.Name)
		crashed := cs.LastState.FinishedAt
		total = append(total, ms(env.Time.Sub(crashed)))
		toStart = append(toStart, ms(cs.StartedAt.Sub(crashed)))
		toReport = append(toReport, ms(env.Time.Sub(*cs.StartedAt)))
	}
	if len(want) > 0 {
		b.Fatalf("no Running report after a restart for %v", want)
	}
	return total, toStart, toReport
}
