package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/cli/clitest"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
)

// logsCluster is an in-process control plane with one node agent on the
// simulated runtime, whose containers log a line when they start and one
// when they exit.
type logsCluster struct {
	*simCluster
	rt *sim.Runtime
}

func newLogsCluster(t *testing.T) *logsCluster {
	t.Helper()
	c := newSimCluster(t)
	// Restarts at once: the test exits containers and waits for them back.
	rt := c.addNode("n1", sim.Config{MilliCPU: 8000, Memory: 16 << 30},
		node.Config{ResyncEvery: 50 * time.Millisecond, HeartbeatEvery: 200 * time.Millisecond, BackoffBase: time.Millisecond})
	return &logsCluster{simCluster: c, rt: rt}
}

// runningPods waits until the deployment's n pods run and returns them by name.
func (c *logsCluster) runningPods(t *testing.T, deployment string, n int) []projections.Pod {
	t.Helper()
	var pods []projections.Pod
	clitest.Eventually(t, fmt.Sprintf("%d running pods of %s", n, deployment), func() bool {
		pods = pods[:0]
		for _, p := range kvAll[projections.Pod](t, c.conn, bus.BucketPods) {
			if strings.HasPrefix(p.Name, deployment+"-") && p.Status != nil && p.Phase() == events.PhaseRunning {
				pods = append(pods, p)
			}
		}
		return len(pods) == n
	})
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

const sidecarYAML = `apiVersion: apps/v1

kind: Deployment
metadata:
  name: other
spec:
  replicas: 1
  selector:
    matchLabels: {app: other}
  template:
    metadata:
      labels: {app: other}
    spec:
      containers:
        - name: main
          image: gantry.local/hello:v1
        - name: side
          image: gantry.local/hello:v1
`

// started is what a simulated container logs when it starts.
func started(pod, container string) string {
	return "simulated container " + container + " of default/" + pod + " started\n"
}

func TestLogsPreviousAndSelector(t *testing.T) {
	c := newLogsCluster(t)
	manifest := strings.ReplaceAll(deploymentYAML, "REPLICAS", "3") + "---\n" + sidecarYAML
	if code, out, errOut := runGantryIn(manifest, "apply", "--nats", c.url, "-f", "-"); code != 0 {
		t.Fatalf("apply: %s%s", out, errOut)
	}
	web := c.runningPods(t, "web", 3)
	other := c.runningPods(t, "other", 1)[0]

	t.Run("selector", func(t *testing.T) {
		code, out, errOut := c.gantry("logs", "-l", "app=web")
		want := started(web[0].Name, "web") + started(web[1].Name, "web") + started(web[2].Name, "web")
		if code != 0 || out != want || errOut != "" {
			t.Errorf("logs -l app=web: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
		}
		code, out, _ = c.gantry("logs", "--selector", "app in (web,other)", "--prefix")
		want = ""
		for _, p := range []projections.Pod{other, web[0], web[1], web[2]} {
			container := "web"
			if p.Name == other.Name {
				container = "main"
			}
			want += "[pod/" + p.Name + "/" + container + "] " + started(p.Name, container)
		}
		if code != 0 || out != want {
			t.Errorf("logs --selector --prefix: exit %d, stdout %q; want %q", code, out, want)
		}
		code, out, errOut = c.gantry("logs", "-l", "app=nothing")
		if code != 0 || out != "" || errOut != "No resources found in default namespace.\n" {
			t.Errorf("no pod matches: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("all containers", func(t *testing.T) {
		code, out, errOut := c.gantry("logs", other.Name, "--all-containers", "--prefix")
		want := "[pod/" + other.Name + "/main] " + started(other.Name, "main") + "[pod/" + other.Name + "/side] " + started(other.Name, "side")
		if code != 0 || out != want || errOut != "" {
			t.Errorf("logs --all-containers --prefix: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
		}
		code, out, _ = c.gantry("logs", "-l", "app=other", "--all-containers")
		if want := started(other.Name, "main") + started(other.Name, "side"); code != 0 || out != want {
			t.Errorf("logs -l --all-containers: exit %d, stdout %q; want %q", code, out, want)
		}
	})

	t.Run("follow", func(t *testing.T) {
		code, _, errOut := c.gantry("logs", "-l", "app=web", "-f", "--max-log-requests", "2")
		want := "error: you are attempting to follow 3 log streams, but maximum allowed concurrency is 2, use --max-log-requests to increase the limit\n"
		if code != 1 || errOut != want {
			t.Errorf("too many to follow: exit %d, stderr %q; want %q", code, errOut, want)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out clitest.Buffer
		done := make(chan error, 1)
		// The command itself, run until its context ends (as by ^C).
		g := &client.Globals{Version: version, In: strings.NewReader(""), Out: &out, ErrOut: &out}
		root := newRoot(g)
		root.SetArgs([]string{"logs", "--nats", c.url, "-l", "app=web", "-f", "--prefix"})
		go func() { done <- root.ExecuteContext(ctx) }()
		clitest.Eventually(t, "three followed logs", func() bool { return strings.Count(out.String(), "\n") == 3 })
		for _, p := range web {
			if line := "[pod/" + p.Name + "/web] " + started(p.Name, "web"); !strings.Contains(out.String(), line) {
				t.Errorf("followed logs lack %q:\n%s", line, out.String())
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("an interrupted follow ends cleanly, got %v", err)
		}
	})

	t.Run("previous", func(t *testing.T) {
		code, _, errOut := c.gantry("logs", "-p", web[0].Name)
		want := `error: previous terminated container "web" in pod "` + web[0].Name + `" not found` + "\n"
		if code != 1 || errOut != want {
			t.Errorf("logs -p before a restart: exit %d, stderr %q; want %q", code, errOut, want)
		}
		c.rt.Exit(web[0].UID, "web", 2)
		clitest.Eventually(t, "the container restarted", func() bool {
			p, ok, err := c.rt.Pod(context.Background(), web[0].UID)
			return err == nil && ok && len(p.Containers) == 1 && p.Containers[0].Running && p.Containers[0].Restarts == 1
		})
		code, out, errOut := c.gantry("logs", "--previous", "pod/"+web[0].Name)
		want = started(web[0].Name, "web") + "simulated container web exited with code 2\n"
		if code != 0 || out != want || errOut != "" {
			t.Errorf("logs --previous: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
		}
		code, out, _ = c.gantry("logs", web[0].Name)
		if want := "simulated container web of default/" + web[0].Name + " started (restart 1)\n"; code != 0 || out != want {
			t.Errorf("logs after a restart: exit %d, stdout %q; want %q", code, out, want)
		}
		// With a selector, the pods never restarted are named and the others shown.
		code, out, errOut = c.gantry("logs", "-p", "-l", "app=web", "--prefix")
		if want := "[pod/" + web[0].Name + "/web] " + started(web[0].Name, "web") + "[pod/" + web[0].Name + "/web] simulated container web exited with code 2\n"; code != 1 || out != want {
			t.Errorf("logs -p -l: exit %d, stdout %q; want %q", code, out, want)
		}
		for _, p := range web[1:] {
			if line := `error: previous terminated container "web" in pod "` + p.Name + `" not found`; !strings.Contains(errOut, line) {
				t.Errorf("logs -p -l: stderr %q lacks %q", errOut, line)
			}
		}
		if strings.Contains(errOut, "logs not shown") {
			t.Errorf("logs -p -l: stderr %q adds a summary line after the per-pod errors", errOut)
		}
	})
}

// runGantryIn runs the CLI with stdin.
func runGantryIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}
