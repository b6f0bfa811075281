package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// gantry logs on real containerd: after a container is killed and restarted
// its log starts afresh, -p serves the killed instance's, and -l --prefix
// prints every pod's.
func TestLogsPreviousAndSelectorEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	hello := filepath.Join(repoRoot, "deploy/examples/hello.yaml")
	c.mustGantry("apply", "-f", hello)
	c.waitFor("3 running pods", 90*time.Second, func() bool { return len(c.runningPods()) == 3 })
	pods := c.runningPods()
	sort.Slice(pods, func(i, j int) bool { return pods[i].Metadata.Name < pods[j].Metadata.Name })
	p := pods[0]
	name := p.Metadata.Name

	if _, err := httpGet(fmt.Sprintf("http://%s:8080/", p.Status.PodIP)); err != nil {
		t.Fatalf("GET pod %s: %v", name, err)
	}
	c.waitFor("the request in the log", 10*time.Second, func() bool {
		out, _, _ := c.gantry("logs", name)
		return strings.Contains(out, "GET / from")
	})
	_, errOut, code := c.gantry("logs", "-p", name)
	if want := `error: previous terminated container "hello" in pod "` + name + `" not found` + "\n"; code != 1 || errOut != want {
		t.Errorf("logs -p before a restart: exit %d, stderr %q; want %q", code, errOut, want)
	}

	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	if out, err := exec.Command("ctr", "-n", ctrNS, "tasks", "kill", "-s", "SIGKILL", id).CombinedOutput(); err != nil {
		t.Fatalf("kill %s: %v: %s", id, err, out)
	}
	c.waitFor("the killed container restarted", 60*time.Second, func() bool {
		for _, q := range c.runningPods() {
			if q.Metadata.Name == name && q.Status.ContainerStatuses[0].RestartCount == 1 {
				return true
			}
		}
		return false
	})
	c.waitFor("the new instance's first line", 10*time.Second, func() bool {
		out, _, _ := c.gantry("logs", name)
		return strings.Contains(out, "listening")
	})
	if cur := c.mustGantry("logs", name); strings.Contains(cur, "GET / from") {
		t.Errorf("the new instance's log holds the killed one's request:\n%s", cur)
	}
	if prev := c.mustGantry("logs", "-p", name); !strings.Contains(prev, "listening") || !strings.Contains(prev, "GET / from") {
		t.Errorf("logs -p of %s: %q, want the killed instance's log", name, prev)
	}

	all := c.mustGantry("logs", "-l", "app=hello", "--prefix")
	for _, q := range pods {
		if !strings.Contains(all, "[pod/"+q.Metadata.Name+"/hello] ") {
			t.Errorf("logs -l app=hello --prefix lacks pod %s:\n%s", q.Metadata.Name, all)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(all, "\n"), "\n") {
		if !strings.HasPrefix(line, "[pod/") {
			t.Errorf("a line without its prefix: %q", line)
		}
	}

	if out := c.mustGantry("delete", "-f", hello); !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %q", out)
	}
}
