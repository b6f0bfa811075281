package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projectiontest"
)

// imageRefV2 is the demo image under a second tag, for `set image`.
const imageRefV2 = "gantry.local/hello:v2"

// rollApp is a Deployment of the demo image the rollout tests roll out:
// its pods are ready once their readiness probe (GET /ready) has passed,
// readyDelay seconds after they start, and available as soon as ready.
type rollApp struct {
	name                 string
	replicas             int
	maxSurge, maxUnavail int
	readyDelay           int
	revision             string   // the env value ROLLOUT_REVISION: a new one is a new template
	command              []string // the container's command, when set
	annotations          map[string]string
}

func (a rollApp) yaml() string {
	var ann, cmd string
	if len(a.annotations) > 0 {
		var kv []string
		for k, v := range a.annotations {
			kv = append(kv, fmt.Sprintf("%s: %q", k, v))
		}
		sort.Strings(kv)
		ann = "\n  annotations: {" + strings.Join(kv, ", ") + "}"
	}
	if len(a.command) > 0 {
		q, _ := json.Marshal(a.command)
		cmd = "\n        command: " + string(q)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s%[2]s
spec:
  replicas: %[3]d
  selector: {matchLabels: {app: %[1]s}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: %[4]d, maxUnavailable: %[5]d}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: web
        image: %[6]s%[7]s
        env: [{name: ROLLOUT_REVISION, value: %[8]q}]
        readinessProbe:
          httpGet: {path: /ready, port: 8080}
          initialDelaySeconds: %[9]d
          periodSeconds: 1
`, a.name, ann, a.replicas, a.maxSurge, a.maxUnavail, imageRef, cmd, a.revision, a.readyDelay)
}

func (c *cluster) applyApp(a rollApp) {
	c.t.Helper()
	if _, errOut, code := c.gantryIn(a.yaml(), "apply", "-f", "-"); code != 0 {
		c.t.Fatalf("apply %s revision %s: exit %d: %s", a.name, a.revision, code, errOut)
	}
}

// rolledOut runs `gantry rollout status` and wants it to end complete.
func (c *cluster) rolledOut(name string) {
	c.t.Helper()
	out, errOut, code := c.gantry("rollout", "status", "deploy/"+name, "--timeout=45s")
	if code != 0 || !strings.HasSuffix(out, fmt.Sprintf("deployment %q successfully rolled out\n", name)) {
		c.t.Fatalf("rollout status deploy/%s: exit %d\nstdout: %s\nstderr: %s\n%s", name, code, out, errOut, c.logs())
	}
}

// deployJSON is the part of `gantry get deploy NAME -o json` the tests read.
type deployJSON struct {
	Spec struct {
		Paused bool `json:"paused"`
	} `json:"spec"`
	Status struct {
		Conditions []manifest.Condition    `json:"conditions"`
		Rollout    *manifest.RolloutStatus `json:"rollout"`
	} `json:"status"`
}

func (d deployJSON) condition(typ string) manifest.Condition {
	for _, c := range d.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return manifest.Condition{}
}

func (c *cluster) deployment(name string) deployJSON {
	c.t.Helper()
	out := c.mustGantry("get", "deploy", name, "-o", "json")
	var d deployJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		c.t.Fatalf("get deploy %s -o json: %v\n%s", name, err, out)
	}
	return d
}

// rsJSON is the part of `gantry get rs -o json` the tests read.
type rsJSON struct {
	Metadata struct {
		Name            string            `json:"name"`
		UID             string            `json:"uid"`
		Annotations     map[string]string `json:"annotations"`
		OwnerReferences []struct {
			Name string `json:"name"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
	} `json:"spec"`
	Status struct {
		ReadyReplicas int `json:"readyReplicas"`
	} `json:"status"`
}

func (r rsJSON) revision() int {
	n, _ := strconv.Atoi(r.Metadata.Annotations["deployment.kubernetes.io/revision"])
	return n
}

func (r rsJSON) replicas() int {
	if r.Spec.Replicas == nil {
		return 1
	}
	return *r.Spec.Replicas
}

// replicaSets are the ReplicaSets of Deployment name, oldest revision first.
func (c *cluster) replicaSets(name string) []rsJSON {
	c.t.Helper()
	out := c.mustGantry("get", "rs", "-o", "json")
	var list struct {
		Items []rsJSON `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		c.t.Fatalf("get rs -o json: %v\n%s", err, out)
	}
	var mine []rsJSON
	for _, r := range list.Items {
		if len(r.Metadata.OwnerReferences) == 1 && r.Metadata.OwnerReferences[0].Name == name {
			mine = append(mine, r)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].revision() < mine[j].revision() })
	return mine
}

// sizes says each ReplicaSet's revision and spec.replicas: "1:3 2:2".
func sizes(rss []rsJSON) string {
	var s []string
	for _, r := range rss {
		s = append(s, fmt.Sprintf("%d:%d", r.revision(), r.replicas()))
	}
	return strings.Join(s, " ")
}

// appPods are the pods of Deployment name (its ReplicaSets are name-<hash>).
func (c *cluster) appPods(name string) []podJSON {
	var out []podJSON
	for _, p := range c.pods() {
		if len(p.Metadata.OwnerReferences) == 1 && strings.HasPrefix(p.Metadata.OwnerReferences[0].Name, name+"-") {
			out = append(out, p)
		}
	}
	return out
}

// rolloutWindow is what the log says of an app's pods from one of its
// Deployment's intents on, to the end of the log.
type rolloutWindow struct {
	records      int
	minAvailable int                  // fewest available pods after any record
	maxPods      int                  // most pods neither terminal nor being deleted
	deleted      map[string]bool      // uids of every PodDeleted decided in the window
	fold         *projections.Cluster // the whole log's, at its end
}

// replayWindow replays the log (replayLog) and counts app's pods after
// every record from the Deployment's intent number from (0: its first) on;
// visit, when set, sees every record of the window too.
func (c *cluster) replayWindow(app string, from int, visit func(*projections.Cluster, projectiontest.Stored)) rolloutWindow {
	c.t.Helper()
	conn, err := bus.Connect(c.url, "e2e-rollout-replay", c.controlPlane())
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	w := rolloutWindow{minAvailable: 1 << 30, deleted: map[string]bool{}}
	intents := 0
	_, err = replayLog(conn.JS, deploySources(app), func(cl *projections.Cluster, s projectiontest.Stored) bool {
		if s.Rec.Stream == events.StreamIntents {
			intents++
		}
		if intents <= from {
			return true
		}
		if d, ok := s.Rec.Event.(*events.PodDeleted); ok {
			w.deleted[d.UID] = true
		}
		w.fold = cl
		if visit != nil {
			visit(cl, s)
		}
		n := projectiontest.CountPods(cl, nil, s.At)[app]
		w.records++
		w.minAvailable = min(w.minAvailable, n.Available)
		w.maxPods = max(w.maxPods, n.Pods)
		return true
	})
	if err != nil {
		c.t.Fatalf("replay the log: %v", err)
	}
	if intents <= from {
		c.t.Fatalf("the log holds %d intents of deployment %s, want more than %d", intents, app, from)
	}
	return w
}

// checkBounds wants the window's counts within the rolling update's bounds:
// never fewer than replicas - maxUnavailable available, never more than
// replicas + maxSurge pods.
func checkBounds(t *testing.T, a rollApp, w rolloutWindow) {
	t.Helper()
	if lo := a.replicas - a.maxUnavail; w.minAvailable < lo {
		t.Errorf("%d available at the fewest, want at least %d (replicas %d - maxUnavailable %d), over %d records",
			w.minAvailable, lo, a.replicas, a.maxUnavail, w.records)
	}
	if hi := a.replicas + a.maxSurge; w.maxPods > hi {
		t.Errorf("%d pods at the most, want at most %d (replicas %d + maxSurge %d), over %d records",
			w.maxPods, hi, a.replicas, a.maxSurge, w.records)
	}
	t.Logf("the log's %d records: %d available at the fewest, %d pods at the most", w.records, w.minAvailable, w.maxPods)
}

// An env change of 4 replicas rolls out: every pod replaced by one of the
// new revision, and, from the log, never fewer than 3 available nor more
// than 5 pods.
func TestRolloutRollingUpdateEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	a := rollApp{name: "roll", replicas: 4, maxSurge: 1, maxUnavail: 1, revision: "1"}
	c.applyApp(a)
	c.rolledOut(a.name)
	before := podUIDs(c.appPods(a.name))

	a.revision = "2"
	c.applyApp(a)
	c.rolledOut(a.name)
	rss := c.replicaSets(a.name)
	if sizes(rss) != "1:0 2:4" {
		t.Fatalf("replica sets (revision:replicas) %s, want 1:0 2:4", sizes(rss))
	}
	c.waitFor("only revision 2's pods, all ready", 30*time.Second, func() bool {
		pods := c.appPods(a.name)
		return len(pods) == 4 && len(c.runningPods()) == 4 && ownedBy(pods, rss[1].Metadata.Name)
	})
	for _, uid := range podUIDs(c.appPods(a.name)) {
		for _, old := range before {
			if uid == old {
				t.Errorf("pod %s of revision 1 is still there", uid)
			}
		}
	}
	checkBounds(t, a, c.replayWindow(a.name, 1, nil))
}

func ownedBy(pods []podJSON, rs string) bool {
	for _, p := range pods {
		if p.Metadata.OwnerReferences[0].Name != rs {
			return false
		}
	}
	return true
}

// An update to a command that exits 1 fails its rollout (CrashLooping, at
// the new pod's first restart) and is rolled back by itself; with
// maxUnavailable 0 the old pods are never touched: the same uids, no
// PodDeleted for any of them, never fewer than 4 available.
func TestRolloutCrashLoopRollsBackEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	a := rollApp{name: "crash", replicas: 4, maxSurge: 1, maxUnavail: 0, revision: "1",
		annotations: map[string]string{manifest.FailureRestartsAnnotation: "1"}}
	c.applyApp(a)
	c.rolledOut(a.name)
	before := podUIDs(c.appPods(a.name))

	// Nothing listens in the container, so its own probe command exits 1.
	a.revision, a.command = "2", []string{"/app/hello", "probe", "/"}
	c.applyApp(a)
	c.waitFor("the rollout rolled back", 45*time.Second, func() bool {
		return c.deployment(a.name).condition("Progressing").Reason == manifest.ReasonRolledBack
	})
	if p := c.deployment(a.name).condition("Progressing"); p.Status != "False" {
		t.Errorf("Progressing %+v, want False (RolledBack)", p)
	}
	c.waitFor("revision 2 scaled to 0 and its pod gone", 30*time.Second, func() bool {
		return sizes(c.replicaSets(a.name)) == "1:4 2:0" && len(c.appPods(a.name)) == 4
	})
	if got := podUIDs(c.appPods(a.name)); strings.Join(got, ",") != strings.Join(before, ",") {
		t.Errorf("pods changed across the failed rollout: %v → %v", before, got)
	}
	if n := len(c.runningPods()); n != 4 {
		t.Errorf("%d pods running and ready after the rollback, want 4", n)
	}

	out, errOut, code := c.gantry("rollout", "status", "deploy/"+a.name, "--timeout=10s")
	if code != 1 || !strings.Contains(errOut, `rollout failed: CrashLooping`) || !strings.Contains(errOut, "rolled back to revision 1") {
		t.Errorf("rollout status after the rollback: exit %d, stdout %q, stderr %q; want exit 1 with the reason", code, out, errOut)
	}

	// The rollout service's status of the Deployment, as the log folds it
	// (`get deploy -o json` shows Kubernetes' status, without it).
	w := c.replayWindow(a.name, 1, nil)
	d := w.fold.Workloads[projections.WorkloadKey("deployment", "default", a.name)]
	if r := d.Decided().Rollout; r == nil || r.FailedGeneration != d.Generation || r.Reason != "CrashLooping" || r.FailedRevision != 2 || r.RolledBackTo != 1 {
		t.Errorf("status.rollout %+v, want failedGeneration %d, failedRevision 2, reason CrashLooping, rolledBackTo 1", r, d.Generation)
	}
	out = c.mustGantry("describe", "deployment", a.name)
	for _, want := range []string{"FailedRevision: 2 (CrashLooping:", "RolledBackTo: revision 1", "Progressing False RolledBack"} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("describe deployment %s lacks %q:\n%s", a.name, want, out)
		}
	}
	for _, uid := range before {
		if w.deleted[uid] {
			t.Errorf("the log decided PodDeleted for old pod %s", uid)
		}
	}
	if len(w.deleted) != 1 {
		t.Errorf("%d pods deleted in the window, want 1 (the crashing one)", len(w.deleted))
	}
	checkBounds(t, a, w)
}

// `rollout undo --to-revision 1` after two updates (an env change, then
// `set image`) runs revision 1's template again: its ReplicaSet, the same
// object, comes back as revision 4.
func TestRolloutUndoToRevisionEndToEnd(t *testing.T) {
	// The demo image under a second tag, in this run's namespace
	// (removeNamespace removes it).
	if out, err := exec.Command("ctr", "-n", ctrNS, "images", "tag", "--force", imageRef, imageRefV2).CombinedOutput(); err != nil {
		t.Fatalf("ctr images tag: %v: %s", err, out)
	}
	c := newCluster(t)
	c.up()
	a := rollApp{name: "undo", replicas: 2, maxSurge: 1, maxUnavail: 0, revision: "1"}
	c.applyApp(a)
	c.rolledOut(a.name)
	first := c.replicaSets(a.name)[0]

	a.revision = "2"
	c.applyApp(a)
	c.rolledOut(a.name)
	c.mustGantry("set", "image", "deploy/"+a.name, "web="+imageRefV2)
	c.rolledOut(a.name)
	if got := sizes(c.replicaSets(a.name)); got != "1:0 2:0 3:2" {
		t.Fatalf("replica sets (revision:replicas) %s after two updates, want 1:0 2:0 3:2", got)
	}

	if out := c.mustGantry("rollout", "undo", "deploy/"+a.name, "--to-revision", "1"); out != "deployment.apps/undo rolled back\n" {
		t.Errorf("undo: %q", out)
	}
	c.rolledOut(a.name)
	rss := c.replicaSets(a.name)
	if got := sizes(rss); got != "2:0 3:0 4:2" {
		t.Fatalf("replica sets (revision:replicas) %s after undo, want 2:0 3:0 4:2", got)
	}
	if back := rss[2]; back.Metadata.Name != first.Metadata.Name || back.Metadata.UID != first.Metadata.UID {
		t.Errorf("revision 4 is %s (uid %s), want revision 1's ReplicaSet %s (uid %s) again",
			back.Metadata.Name, back.Metadata.UID, first.Metadata.Name, first.Metadata.UID)
	}
	c.waitFor("2 pods of revision 1's ReplicaSet ready", 30*time.Second, func() bool {
		pods := c.appPods(a.name)
		return len(pods) == 2 && len(c.runningPods()) == 2 && ownedBy(pods, first.Metadata.Name)
	})
	checkBounds(t, a, c.replayWindow(a.name, 1, nil))
}

// `rollout pause` mid-rollout holds: once the rollout service has said
// DeploymentPaused, no ReplicaSet is scaled, though the new pod becomes
// ready (which would otherwise move the rollout on); `resume` completes it.
func TestRolloutPauseHoldsEndToEnd(t *testing.T) {
	c := newCluster(t)
	c.up()
	// Each new pod is ready 3 s after it starts: one wave at a time
	// (maxSurge 1, maxUnavailable 0), the rollout takes 4 of them.
	a := rollApp{name: "pause", replicas: 4, maxSurge: 1, maxUnavail: 0, readyDelay: 3, revision: "1"}
	c.applyApp(a)
	c.rolledOut(a.name)

	a.revision = "2"
	c.applyApp(a)
	c.waitFor("revision 2's ReplicaSet", 15*time.Second, func() bool { return len(c.replicaSets(a.name)) == 2 })
	if out := c.mustGantry("rollout", "pause", "deploy/"+a.name); out != "deployment.apps/pause paused\n" {
		t.Errorf("pause: %q", out)
	}
	c.waitFor("spec.paused and Progressing DeploymentPaused", 15*time.Second, func() bool {
		d := c.deployment(a.name)
		return d.Spec.Paused && d.condition("Progressing").Reason == manifest.ReasonDeploymentPaused
	})
	held := c.replicaSets(a.name)
	if held[1].replicas() == 0 || held[1].replicas() >= a.replicas || held[0].replicas() == 0 {
		t.Fatalf("paused at %s (revision:replicas): not mid-rollout", sizes(held))
	}
	c.waitFor("revision 2's pods ready while paused", 20*time.Second, func() bool {
		rss := c.replicaSets(a.name)
		return rss[1].Status.ReadyReplicas == held[1].replicas()
	})
	// A pause, not a synchronisation: it gives the rollout service the time
	// it would take to scale on, had the pause not held.
	time.Sleep(2 * time.Second)
	if got := sizes(c.replicaSets(a.name)); got != sizes(held) {
		t.Fatalf("replica sets moved while paused: %s → %s", sizes(held), got)
	}

	if out := c.mustGantry("rollout", "resume", "deploy/"+a.name); out != "deployment.apps/pause resumed\n" {
		t.Errorf("resume: %q", out)
	}
	c.rolledOut(a.name)
	if got := sizes(c.replicaSets(a.name)); got != "1:0 2:4" {
		t.Errorf("replica sets (revision:replicas) %s after resume, want 1:0 2:4", got)
	}

	// From the log: the ReplicaSets' sizes, as the fold holds them after
	// every record, do not change between the rollout service's
	// DeploymentPaused and the resume (the Deployment's fourth intent, after
	// two applies and the pause); they do after it.
	var pausedAt time.Time
	var moved []string
	intents, last, after := 1, "", 0
	w := c.replayWindow(a.name, 1, func(cl *projections.Cluster, s projectiontest.Stored) {
		if s.Rec.Stream == events.StreamIntents {
			intents++
		}
		if e, ok := s.Rec.Event.(*events.WorkloadStatusDecided); ok && e.Name == a.name && pausedAt.IsZero() {
			for _, cond := range e.Conditions {
				if cond.Type == "Progressing" && cond.Reason == manifest.ReasonDeploymentPaused {
					pausedAt = s.At
				}
			}
		}
		now := foldSizes(cl, a.name)
		switch {
		case now == last:
		case !pausedAt.IsZero() && intents < 4:
			moved = append(moved, last+" → "+now)
		case intents >= 4:
			after++
		}
		last = now
	})
	if pausedAt.IsZero() {
		t.Error("the log holds no DeploymentPaused status")
	}
	if len(moved) > 0 {
		t.Errorf("replica sets scaled while paused: %v", moved)
	}
	if after == 0 {
		t.Error("the log shows no ReplicaSet scaled after the resume")
	}
	checkBounds(t, a, w)
}

// foldSizes says the spec.replicas of Deployment name's ReplicaSets in a
// fold: "pause-6d8f7b9c4x:3 pause-7c9f8d6b5a:2".
func foldSizes(cl *projections.Cluster, name string) string {
	var s []string
	for _, w := range cl.Workloads {
		if w.Kind == "replicaset" && !w.Deleted && w.Owner != nil && w.Owner.Name == name {
			s = append(s, fmt.Sprintf("%s:%d", w.Name, w.Object.ReplicaSet().ReplicaCount()))
		}
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}
