package client

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// rollout history of deployment hello with revisions 1 (no change cause,
// made before revisions kept their actor) and 3 (the current one), a
// ReplicaSet of revision 2 pruned: kubectl's table with Gantry's CREATED
// and ACTOR; --revision 3 its pod template; --revision 2 kubectl's error;
// and get -o yaml showing the Deployment's revision annotation.
func TestRolloutHistoryAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	old := fixtureRS(created, "hello-6d8f7b9c4x", 0, manifest.WorkloadStatus{})
	old.Object.Metadata.Annotations = map[string]string{manifest.RevisionAnnotation: "1"}
	cur := fixtureRS(created.Add(time.Hour), helloRSName(), 3, manifest.WorkloadStatus{Replicas: 3})
	cur.Object.Metadata.Annotations = map[string]string{manifest.RevisionAnnotation: "3", manifest.ChangeCauseAnnotation: "gantry apply -f web.yaml"}
	cur.RevisionActor, cur.RevisionAt = "alice", created.Add(2*time.Hour)
	dep := fixtureWorkload(created)
	dep.Status.Revision = 3
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", dep)
	c.put(t, bus.BucketWorkloads, "replicaset.default."+old.Name, old)
	c.put(t, bus.BucketWorkloads, "replicaset.default."+cur.Name, cur)
	c.progress(t, 0)

	code, out, errOut := c.gantry("rollout", "history", "deploy/hello")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "deployment.apps/hello\n" +
		"REVISION  CHANGE-CAUSE              CREATED               ACTOR\n" +
		"1         <none>                    2026-05-01T10:00:00Z  <unknown>\n" +
		"3         gantry apply -f web.yaml  2026-05-01T12:00:00Z  alice\n\n"
	if out != want {
		t.Errorf("history:\n%s\nwant:\n%s", out, want)
	}

	code, out, errOut = c.gantry("rollout", "history", "deployment", "hello", "--revision", "3")
	if code != 0 {
		t.Fatalf("--revision 3: exit %d, stderr %q", code, errOut)
	}
	for _, line := range []string{"deployment.apps/hello with revision #3\n", "Pod Template:\n", "pod-template-hash=",
		"kubernetes.io/change-cause=gantry apply -f web.yaml", "Image:", "nginx:1.25", "80/TCP", "MODE:", "prod"} {
		if !strings.Contains(out, line) {
			t.Errorf("--revision 3 lacks %q:\n%s", line, out)
		}
	}

	code, out, errOut = c.gantry("rollout", "history", "deploy/hello", "--revision", "2")
	if code != 1 || errOut != "error: unable to find the specified revision\n" || out != "" {
		t.Errorf("--revision 2: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = c.gantry("get", "deploy", "hello", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "deployment.kubernetes.io/revision: \"3\"") {
		t.Errorf("get -o yaml: exit %d, stderr %q:\n%s", code, errOut, out)
	}
}
