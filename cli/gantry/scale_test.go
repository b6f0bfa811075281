package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
)

// webReplicaSets are deployment web's ReplicaSets that exist, by name: the
// image and spec.replicas of each ("hello:v1 x3").
func webReplicaSets(t *testing.T, c *simCluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, w := range kvAll[projections.Workload](t, c.conn, bus.BucketWorkloads) {
		if w.Kind == "replicaset" && !w.Deleted && w.Owner != nil && w.Owner.Name == "web" {
			rs := w.Object.ReplicaSet()
			out[w.Name] = fmt.Sprintf("%s x%d", rs.Template.Spec.Containers[0].Image, rs.ReplicaCount())
		}
	}
	return out
}

func names(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// scale changes a Deployment's replicas through admission and its
// controller, keeping its ReplicaSet (the template hash is the same); set
// image changes the template, so a ReplicaSet of a new hash takes over.
func TestScaleAndSetImageThroughTheCluster(t *testing.T) {
	c := newSimCluster(t)
	drainNodes(c, "n1")
	c.apply(strings.Replace(deploymentYAML, "REPLICAS", "2", 1))
	runningOn(t, c.conn, "web-", 2)
	var first map[string]string
	clitest.Eventually(t, "deployment web's ReplicaSet", func() bool { first = webReplicaSets(t, c); return len(first) == 1 })

	code, out, errOut := c.gantry("scale", "deploy/web", "--replicas=3", "--current-replicas=2", "--timeout=30s")
	if code != 0 || out != "deployment.apps/web scaled\n" || errOut != "" {
		t.Fatalf("scale: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	runningOn(t, c.conn, "web-", 3)
	clitest.Eventually(t, "the ReplicaSet scaled to 3", func() bool {
		rs := webReplicaSets(t, c)
		return len(rs) == 1 && rs[names(first)[0]] == "gantry.local/hello:v1 x3"
	})

	for args, want := range map[string]string{
		"scale deployment web --replicas=1 --current-replicas=5": "error: Expected replicas to be 5, was 3\n",
		"scale deploy/nope --replicas=1":                         "error: deployments.apps \"nope\" not found\n",
		"set image deploy/web db=postgres":                       "error: unable to find container named \"db\" in spec.template: its containers are web\n",
	} {
		if code, out, errOut := c.gantry(strings.Fields(args)...); code != 1 || out != "" || errOut != want {
			t.Errorf("gantry %s: exit %d, stdout %q, stderr %q; want %q", args, code, out, errOut, want)
		}
	}

	code, out, errOut = c.gantry("set", "image", "deployment/web", "web=gantry.local/hello:v2")
	if code != 0 || out != "deployment.apps/web image updated\n" || errOut != "" {
		t.Fatalf("set image: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	old := names(first)[0]
	var after map[string]string
	clitest.Eventually(t, "a ReplicaSet of the new template, the old one scaled to 0", func() bool {
		after = webReplicaSets(t, c)
		if len(after) != 2 || after[old] != "gantry.local/hello:v1 x0" {
			return false
		}
		for name, rs := range after {
			if name != old && rs == "gantry.local/hello:v2 x3" {
				return true
			}
		}
		return false
	})
	var newRS string
	for name := range after {
		if name != old {
			newRS = name
		}
	}
	runningOn(t, c.conn, newRS+"-", 3)

	// The same image again changes nothing: kubectl prints nothing.
	if code, out, errOut := c.gantry("set", "image", "deploy", "web", "*=gantry.local/hello:v2"); code != 0 || out != "" || errOut != "" {
		t.Errorf("set image, unchanged: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Scaling to the same count is still "scaled", as in kubectl.
	if code, out, _ := c.gantry("scale", "deploy/web", "--replicas=3"); code != 0 || out != "deployment.apps/web scaled\n" {
		t.Errorf("scale, unchanged: exit %d, stdout %q", code, out)
	}
	if rs := webReplicaSets(t, c); strings.Join(names(rs), " ") != strings.Join(names(after), " ") {
		t.Errorf("ReplicaSets after the no-op edits: %v, want %v", rs, after)
	}
}
