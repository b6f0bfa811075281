package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// webRevisions are deployment web's live ReplicaSets: the image, restart
// annotation and spec.replicas of each, by revision ("hello:v1 x2").
func webRevisions(t *testing.T, c *simCluster) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for _, w := range kvAll[projections.Workload](t, c.conn, bus.BucketWorkloads) {
		if w.Kind == "replicaset" && !w.Deleted && w.Owner != nil && w.Owner.Name == "web" {
			rs := w.Object.ReplicaSet()
			s := rs.Template.Spec.Containers[0].Image
			if rs.Template.Metadata.Annotations[client.RestartedAtAnnotation] != "" {
				s += " restarted"
			}
			out[manifest.RevisionOf(w.Object.Metadata.Annotations)] = fmt.Sprintf("%s x%d", s, rs.ReplicaCount())
		}
	}
	return out
}

// rolledOut runs rollout status and checks it ends complete, each line
// differing from the one before.
func rolledOut(t *testing.T, c *simCluster) {
	t.Helper()
	code, out, errOut := c.gantry("rollout", "status", "deploy/web", "--timeout=60s")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || errOut != "" || lines[len(lines)-1] != `deployment "web" successfully rolled out` {
		t.Fatalf("rollout status: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i] == lines[i-1] {
			t.Errorf("rollout status printed %q twice in a row:\n%s", lines[i], out)
		}
	}
}

// set image, rollout status, undo (the first template's ReplicaSet comes
// back at the next revision), undo's errors, and restart (a new revision
// whose template carries restartedAt), through the control plane and a
// simulated node.
func TestRolloutUndoRestartStatusThroughTheCluster(t *testing.T) {
	c := newSimCluster(t)
	drainNodes(c, "n1")
	c.apply(strings.Replace(deploymentYAML, "REPLICAS", "2", 1))
	rolledOut(t, c)
	if code, out, errOut := c.gantry("rollout", "undo", "deploy/web"); code != 1 || out != "" ||
		errOut != "error: no rollout history found for deployment \"web\"\n" {
		t.Errorf("undo of one revision: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	if code, _, errOut := c.gantry("set", "image", "deploy/web", "web=gantry.local/hello:v2"); code != 0 {
		t.Fatalf("set image: exit %d, stderr %q", code, errOut)
	}
	rolledOut(t, c)
	clitest.Eventually(t, "revision 2 of the new image, revision 1 at 0", func() bool {
		got := webRevisions(t, c)
		return len(got) == 2 && got[1] == "gantry.local/hello:v1 x0" && got[2] == "gantry.local/hello:v2 x2"
	})

	code, out, errOut := c.gantry("rollout", "undo", "deploy/web")
	if code != 0 || out != "deployment.apps/web rolled back\n" || errOut != "" {
		t.Fatalf("undo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	clitest.Eventually(t, "web's first template back as revision 3", func() bool {
		got := webRevisions(t, c)
		return len(got) == 2 && got[3] == "gantry.local/hello:v1 x2" && got[2] == "gantry.local/hello:v2 x0"
	})
	rolledOut(t, c)
	runningOn(t, c.conn, "web-", 2)

	for args, want := range map[string]string{
		"rollout undo deploy/web --to-revision=9": "error: unable to find specified revision 9 in history\n",
		"rollout undo deploy/web --to-revision=1": "error: unable to find specified revision 1 in history\n", // it moved to 3
		"rollout undo deploy/nope":                "error: deployments.apps \"nope\" not found\n",
		"rollout undo job/web":                    "error: no rollbacker has been implemented for job.batch\n",
	} {
		if code, out, errOut := c.gantry(strings.Fields(args)...); code != 1 || out != "" || errOut != want {
			t.Errorf("gantry %s: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, want)
		}
	}
	if code, out, _ := c.gantry("rollout", "undo", "deploy/web", "--to-revision=3"); code != 0 ||
		out != "deployment.apps/web skipped rollback (current template already matches revision 3)\n" {
		t.Errorf("undo to the current revision: exit %d, stdout %q", code, out)
	}

	code, out, errOut = c.gantry("rollout", "restart", "deploy/web")
	if code != 0 || out != "deployment.apps/web restarted\n" || errOut != "" {
		t.Fatalf("restart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	clitest.Eventually(t, "a restarted revision 4", func() bool {
		got := webRevisions(t, c)
		return got[4] == "gantry.local/hello:v1 restarted x2" && got[3] == "gantry.local/hello:v1 x0"
	})
	rolledOut(t, c)
	if code, out, _ := c.gantry("rollout", "status", "deploy/web", "--watch=false"); code != 0 || out != "deployment \"web\" successfully rolled out\n" {
		t.Errorf("status --watch=false: exit %d, stdout %q", code, out)
	}
}
