package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// BenchmarkHugeBesideSmall measures what one huge object costs the others
// (issue 12, item 1): `gantry up --runtime simulated` with a ceiling that
// lets a Deployment of 1,000,000,000 replicas through (as a log written
// before the ceiling would hold one), whose pods fit no node (a
// nodeSelector no node has), so the replica keeps planning it for the whole
// run. Once it has planned a few thousand, a Deployment of 3 is applied: the
// time until its 3 pods are Running is the first figure. The huge one goes
// on for GANTRY_HUGE_WINDOW (default 20 s) while `gantry up`'s peak RSS is
// sampled; then SIGTERM, and the time until the process has exited. The
// last line:
//
//	HUGE small_running_ms=… huge_pods=… up_peak_rss_mb=… stop_ms=…
func BenchmarkHugeBesideSmall(b *testing.B) {
	window := envDuration(b, "GANTRY_HUGE_WINDOW", 20*time.Second)
	c := newCluster(b)
	up := c.up("--runtime", "simulated", "--max-pods-per-workload", "1000000000")
	conn, err := bus.Connect(c.url, "bench-huge", c.controlPlane())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	podSubjects := func() uint64 {
		st, err := conn.JS.Stream(context.Background(), events.StreamDecisions)
		if err != nil {
			b.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		return info.State.NumSubjects // ≈ pods planned: one subject a pod, and a few verdicts
	}
	c.mustGantryIn(hugeDeployment("huge", 1_000_000_000, "pool: nowhere"), "apply", "-f", "-")
	c.waitFor("the huge Deployment to be planning", 60*time.Second, func() bool { return podSubjects() >= 2000 })

	began := time.Now()
	c.mustGantryIn(hugeDeployment("small", 3, ""), "apply", "-f", "-")
	c.waitFor("the small Deployment's 3 pods Running", 60*time.Second, func() bool {
		n := 0
		for _, p := range c.runningPods() {
			if len(p.Metadata.OwnerReferences) > 0 && p.Metadata.OwnerReferences[0].Name == "small" {
				n++
			}
		}
		return n == 3
	})
	smallRunning := time.Since(began)

	end := time.Now().Add(window)
	var peak int64
	for time.Now().Before(end) {
		if hwm, _ := procMem(up.cmd.Process.Pid); hwm > peak {
			peak = hwm
		}
		time.Sleep(200 * time.Millisecond) // sampling interval
	}
	if hwm, _ := procMem(up.cmd.Process.Pid); hwm > peak {
		peak = hwm
	}
	pods := podSubjects()
	stopAt := time.Now()
	up.stop()
	stop := time.Since(stopAt)
	fmt.Printf("HUGE small_running_ms=%d huge_pods=%d up_peak_rss_mb=%d stop_ms=%d window_s=%.0f\n",
		smallRunning.Milliseconds(), pods, peak/1024, stop.Milliseconds(), window.Seconds())
}

// hugeDeployment is a Deployment of replicas pods of the demo image; a
// nodeSelector line ("key: value") makes its pods fit no node.
func hugeDeployment(name string, replicas int, nodeSelector string) string {
	sel := ""
	if nodeSelector != "" {
		sel = "      nodeSelector: {" + nodeSelector + "}\n"
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
%s      containers:
        - name: app
          image: %s
`, name, replicas, name, name, sel, imageRef)
}

// mustGantryIn runs a client command with stdin and fails on an error.
func (c *cluster) mustGantryIn(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.gantryIn(stdin, args...)
	if code != 0 {
		c.t.Fatalf("gantry %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, strings.TrimSpace(errOut))
	}
	return out
}
