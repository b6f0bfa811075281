package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// workloadJSON is what these tests read of `gantry get KIND NAME -o json`.
type workloadJSON struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Succeeded        int    `json:"succeeded"`
		Failed           int    `json:"failed"`
		CompletedIndexes string `json:"completedIndexes"`
		NumberReady      int    `json:"numberReady"`
		Desired          int    `json:"desiredNumberScheduled"`
		LastScheduleTime string `json:"lastScheduleTime"`
		Conditions       []struct {
			Type, Status, Reason string
		} `json:"conditions"`
	} `json:"status"`
}

func (c *cluster) workload(kind, name string) (workloadJSON, bool) {
	out, _, code := c.gantry("get", kind, name, "-o", "json")
	var w workloadJSON
	if code != 0 || json.Unmarshal([]byte(out), &w) != nil {
		return w, false
	}
	return w, true
}

func (w workloadJSON) condition(typ string) (reason string, ok bool) {
	for _, c := range w.Status.Conditions {
		if c.Type == typ && c.Status == "True" {
			return c.Reason, true
		}
	}
	return "", false
}

func writeYAML(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The batch kinds on real containerd with the demo image: a DaemonSet runs
// on the node; a Job completes; an Indexed Job's pods see their index; a
// failing Job stops at its backoff limit; a CronJob fires at the next
// minute (applied first, checked last, so the wait overlaps the rest).
func TestBatchKindsEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	c.mustGantry("apply", "-f", writeYAML(t, "cron.yaml", `apiVersion: batch/v1
kind: CronJob
metadata: {name: tick}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: gantry.local/hello:v1
            env: [{name: HELLO_EXIT_CODE, value: "0"}]
`))

	t.Run("daemonset", func(t *testing.T) {
		c.mustGantry("apply", "-f", writeYAML(t, "ds.yaml", `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: app, image: gantry.local/hello:v1}]}
`))
		c.waitFor("the daemon pod Ready on e2e-node", 90*time.Second, func() bool {
			w, ok := c.workload("ds", "agent")
			return ok && w.Status.Desired == 1 && w.Status.NumberReady == 1
		})
		if out := c.mustGantry("get", "pods", "-l", "app=agent", "-o", "wide"); !strings.Contains(out, "e2e-node") {
			t.Errorf("daemon pod not on e2e-node:\n%s", out)
		}
	})

	t.Run("job completes", func(t *testing.T) {
		c.mustGantry("apply", "-f", writeYAML(t, "job.yaml", `apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: gantry.local/hello:v1
        env: [{name: HELLO_RUN_FOR, value: 1s}, {name: HELLO_EXIT_CODE, value: "0"}]
`))
		c.waitFor("job once Complete", 90*time.Second, func() bool {
			w, ok := c.workload("job", "once")
			_, done := w.condition("Complete")
			return ok && done && w.Status.Succeeded == 2
		})
		if out := c.mustGantry("get", "jobs"); !strings.Contains(out, "2/2") || !strings.Contains(out, "Complete") {
			t.Errorf("get jobs:\n%s", out)
		}
	})

	t.Run("indexed job sees its index", func(t *testing.T) {
		c.mustGantry("apply", "-f", writeYAML(t, "indexed.yaml", `apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: gantry.local/hello:v1
        env: [{name: HELLO_EXIT_CODE, value: "0"}]
`))
		c.waitFor("job idx Complete", 90*time.Second, func() bool {
			w, ok := c.workload("job", "idx")
			_, done := w.condition("Complete")
			return ok && done && w.Status.CompletedIndexes == "0-2"
		})
		seen := map[string]bool{}
		for _, p := range c.pods() {
			if !strings.HasPrefix(p.Metadata.Name, "idx-") {
				continue
			}
			logs := c.mustGantry("logs", p.Metadata.Name)
			for _, i := range []string{"0", "1", "2"} {
				if strings.Contains(logs, "index "+i) && strings.HasPrefix(p.Metadata.Name, "idx-"+i+"-") {
					seen[i] = true
				}
			}
		}
		if len(seen) != 3 {
			t.Errorf("pods that printed their own index: %v, want 0, 1 and 2", seen)
		}
	})

	t.Run("failing job stops at its backoff limit", func(t *testing.T) {
		c.mustGantry("apply", "-f", writeYAML(t, "fail.yaml", `apiVersion: batch/v1
kind: Job
metadata: {name: doomed}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: gantry.local/hello:v1
        env: [{name: HELLO_EXIT_CODE, value: "3"}]
`))
		var w workloadJSON
		c.waitFor("job doomed Failed", 120*time.Second, func() bool {
			var ok bool
			w, ok = c.workload("job", "doomed")
			_, failed := w.condition("Failed")
			return ok && failed
		})
		if reason, _ := w.condition("Failed"); reason != "BackoffLimitExceeded" || w.Status.Failed != 2 {
			t.Errorf("doomed: reason %q, %d failed pods; want BackoffLimitExceeded after 2", reason, w.Status.Failed)
		}
	})

	t.Run("cronjob fires", func(t *testing.T) {
		c.waitFor("cronjob tick to run a Job that completes", 150*time.Second, func() bool {
			w, ok := c.workload("cronjob", "tick")
			if !ok || w.Status.LastScheduleTime == "" {
				return false
			}
			out, _, code := c.gantry("get", "jobs", "-o", "name")
			return code == 0 && strings.Contains(out, "job.batch/tick-")
		})
	})

	// Deleting the owners deletes what they own: the CronJob its Jobs, each
	// Job and the DaemonSet their pods; nothing of theirs is left on the
	// node.
	c.mustGantry("delete", "cronjob", "tick")
	c.mustGantry("delete", "daemonset", "agent")
	for _, j := range []string{"once", "idx", "doomed"} {
		c.mustGantry("delete", "job", j)
	}
	c.waitFor("every pod gone", 90*time.Second, func() bool {
		out, _, code := c.gantry("get", "pods", "-o", "name")
		return code == 0 && strings.TrimSpace(out) == ""
	})
	if out := c.mustGantry("get", "jobs", "-o", "name"); strings.TrimSpace(out) != "" {
		t.Errorf("jobs left after their CronJob was deleted:\n%s", out)
	}
	assertNothingLeft(t, c, nil)
}
