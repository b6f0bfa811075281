package client

import (
	"strconv"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// revisionRS is deployment hello's ReplicaSet of its template with image,
// at revision rev, made as its controller makes one: the template with
// pod-template-hash added.
func revisionRS(image string, rev int64, changeCause string) *projections.Workload {
	t := helloTemplate()
	t.Spec.Containers[0].Image = image
	hash := manifest.TemplateHash(t)
	rs := fixtureRS(time.Unix(0, 0), "hello-"+hash, 0, manifest.WorkloadStatus{})
	rs.Object.ReplicaSet().Template.Spec.Containers = []manifest.Container{t.Spec.Containers[0]}
	rs.Object.Metadata.Annotations = map[string]string{manifest.RevisionAnnotation: strconv.FormatInt(rev, 10)}
	if changeCause != "" {
		rs.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation] = changeCause
	}
	return rs
}

// helloAt is deployment hello with its template's image set.
func helloAt(image string) *projections.Workload {
	w := fixtureWorkload(time.Unix(0, 0))
	w.Object.Deployment().Template = helloTemplate()
	w.Object.Deployment().Template.Spec.Containers[0].Image = image
	return w
}

// Given revisions 1 (v1, a change cause), 2 (v2) and 3 (v3, current):
// undo takes revision 2's template, --to-revision 1 revision 1's with its
// change cause; the result's hash is that ReplicaSet's own (so its
// controller finds it again); the current one is skipped; unknown or
// missing history are kubectl's errors.
func TestRollbackObject(t *testing.T) {
	owned := []*projections.Workload{revisionRS("nginx:3", 3, ""), revisionRS("nginx:1", 1, "first"), revisionRS("nginx:2", 2, "")}
	owned[2].Deleted = true // a deleted one is no revision
	owned = append(owned, revisionRS("nginx:2", 2, ""))
	dep := helloAt("nginx:3")
	dep.Object.Metadata.Annotations = map[string]string{manifest.ChangeCauseAnnotation: "third", "team": "web"}

	for _, tc := range []struct {
		to       int64
		image    string
		rev      int64
		cause    string
		hasCause bool
	}{
		{0, "nginx:2", 2, "", false},
		{1, "nginx:1", 1, "first", true},
	} {
		obj, rev, skipped, err := rollbackObject(dep, owned, tc.to)
		if err != nil || skipped || rev != tc.rev {
			t.Fatalf("to %d: rev %d skipped %v err %v", tc.to, rev, skipped, err)
		}
		tpl := obj.Deployment().Template
		if got := tpl.Spec.Containers[0].Image; got != tc.image {
			t.Errorf("to %d: image %q, want %q", tc.to, got, tc.image)
		}
		if _, ok := tpl.Metadata.Labels[podTemplateHashLabel]; ok {
			t.Errorf("to %d: template kept %s: %v", tc.to, podTemplateHashLabel, tpl.Metadata.Labels)
		}
		want := helloTemplate()
		want.Spec.Containers[0].Image = tc.image
		if manifest.TemplateHash(tpl) != manifest.TemplateHash(want) {
			t.Errorf("to %d: template hash %s, want the revision's %s", tc.to, manifest.TemplateHash(tpl), manifest.TemplateHash(want))
		}
		cc, ok := obj.Metadata.Annotations[manifest.ChangeCauseAnnotation]
		if ok != tc.hasCause || cc != tc.cause || obj.Metadata.Annotations["team"] != "web" {
			t.Errorf("to %d: annotations %v", tc.to, obj.Metadata.Annotations)
		}
	}
	if dep.Object.Deployment().Template.Spec.Containers[0].Image != "nginx:3" || dep.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation] != "third" {
		t.Errorf("the Deployment read was changed: %+v", dep.Object)
	}

	if _, rev, skipped, err := rollbackObject(dep, owned, 3); err != nil || !skipped || rev != 3 {
		t.Errorf("to the current revision: rev %d skipped %v err %v", rev, skipped, err)
	}
	if _, _, _, err := rollbackObject(dep, owned, 7); err == nil || err.Error() != "unable to find specified revision 7 in history" {
		t.Errorf("unknown revision: %v", err)
	}
	if _, _, _, err := rollbackObject(dep, owned[:1], 0); err == nil || err.Error() != `no rollout history found for deployment "hello"` {
		t.Errorf("one revision: %v", err)
	}
}

// restart sets the template's restartedAt to the time in RFC 3339, keeps
// its other annotations, changes the template's hash (a new revision) and
// leaves the object read untouched; a kind without rollouts is refused.
func TestRestartObject(t *testing.T) {
	dep := helloAt("nginx:1")
	dep.Object.Deployment().Template.Metadata.Annotations = map[string]string{"prometheus.io/scrape": "true"}
	now := time.Date(2026, 12, 3, 16, 30, 0, 0, time.UTC)
	obj, err := restartObject(dep.Object, now)
	if err != nil {
		t.Fatal(err)
	}
	ann := obj.Deployment().Template.Metadata.Annotations
	if ann[RestartedAtAnnotation] != "2026-12-03T16:30:00Z" || ann["prometheus.io/scrape"] != "true" {
		t.Errorf("annotations %v", ann)
	}
	if manifest.TemplateHash(obj.Deployment().Template) == manifest.TemplateHash(dep.Object.Deployment().Template) {
		t.Error("the template's hash did not change")
	}
	if _, ok := dep.Object.Deployment().Template.Metadata.Annotations[RestartedAtAnnotation]; ok {
		t.Error("the object read was changed")
	}
	again, _ := restartObject(obj, now.Add(time.Second))
	if manifest.TemplateHash(again.Deployment().Template) == manifest.TemplateHash(obj.Deployment().Template) {
		t.Error("a second restart made no new template")
	}

	ds := fixtureDS(time.Unix(0, 0))
	if obj, err := restartObject(ds.Object, now); err != nil || obj.DaemonSet().Template.Metadata.Annotations[RestartedAtAnnotation] == "" {
		t.Errorf("daemonset: %v", err)
	}
	rs := fixtureRS(time.Unix(0, 0), helloRSName(), 1, manifest.WorkloadStatus{})
	if _, err := restartObject(rs.Object, now); err == nil {
		t.Error("a ReplicaSet was restarted")
	}
}

// rolloutStatus's line for each stage of a Deployment of 3 rolling out to
// web's current template, and for a DaemonSet.
func TestRolloutStatusLines(t *testing.T) {
	cur := revisionRS("nginx:2", 2, "")
	cur.Name = "hello-" + manifest.TemplateHash(helloAt("nginx:2").Object.Deployment().Template)
	const w = `Waiting for deployment "hello" rollout to finish: `
	for _, tc := range []struct {
		st        manifest.WorkloadStatus
		available int32
		want      string
		done      bool
	}{
		{manifest.WorkloadStatus{Replicas: 3}, 0, w + "0 out of 3 new replicas have been updated...\n", false},
		{manifest.WorkloadStatus{Replicas: 3, UpdatedReplicas: 1}, 1, w + "1 out of 3 new replicas have been updated...\n", false},
		{manifest.WorkloadStatus{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 4}, 3, w + "1 old replicas are pending termination...\n", false},
		// Old pods ready do not count as available updated ones.
		{manifest.WorkloadStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}, 2, w + "2 of 3 updated replicas are available...\n", false},
		{manifest.WorkloadStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}, 3, "deployment \"hello\" successfully rolled out\n", true},
	} {
		dep := helloAt("nginx:2")
		dep.Status = tc.st
		cur.Status.AvailableReplicas = tc.available
		got, done, err := rolloutStatus(dep, []*projections.Workload{revisionRS("nginx:1", 1, ""), cur})
		if err != nil || got != tc.want || done != tc.done {
			t.Errorf("%+v, %d available: %q done %v err %v; want %q", tc.st, tc.available, got, done, err, tc.want)
		}
	}
	ds := fixtureDS(time.Unix(0, 0)) // 2 desired, 2 updated, 1 available
	if got, done, _ := rolloutStatus(ds, nil); done || got != "Waiting for daemon set \"agent\" rollout to finish: 1 of 2 updated pods are available...\n" {
		t.Errorf("daemonset: %q done %v", got, done)
	}
}

// rollout status against a read model that never completes: its line
// once, then kubectl's timeout error and exit 1; --watch=false prints the
// line and exits 0; a Job has no status viewer.
func TestRolloutStatusTimesOut(t *testing.T) {
	c := newReadCluster(t)
	dep := fixtureWorkload(time.Unix(0, 0)) // 3 updated, 2 available
	rs := fixtureRS(time.Unix(0, 0), helloRSName(), 3, manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2})
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", dep)
	c.put(t, bus.BucketWorkloads, "replicaset.default."+rs.Name, rs)
	c.progress(t, 0)
	line := "Waiting for deployment \"hello\" rollout to finish: 2 of 3 updated replicas are available...\n"

	code, out, errOut := c.gantry("rollout", "status", "deploy/hello", "--timeout=300ms")
	if code != 1 || out != line || errOut != "error: timed out waiting for the condition\n" {
		t.Errorf("timeout: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := c.gantry("rollout", "status", "deploy/hello", "--watch=false"); code != 0 || out != line {
		t.Errorf("--watch=false: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := c.gantry("rollout", "status", "deploy/nope", "--timeout=5s"); code != 1 || errOut != "error: deployments.apps \"nope\" not found\n" {
		t.Errorf("unknown: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := c.gantry("rollout", "status", "job/pi"); code != 1 || errOut != "error: no status viewer has been implemented for job.batch\n" {
		t.Errorf("job: exit %d, stderr %q", code, errOut)
	}
}
