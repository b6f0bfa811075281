package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// rolloutFailure's verdicts: a failure of the current generation (rolled
// back or halted), a Progressing condition False for a failure, and a
// failure of an older generation, which a stale condition does not revive.
func TestRolloutFailure(t *testing.T) {
	progressing := func(status, reason, msg string) []manifest.Condition {
		return []manifest.Condition{{Type: manifest.DeploymentProgressing, Status: status, Reason: reason, Message: msg}}
	}
	for name, tc := range map[string]struct {
		rollout *manifest.RolloutStatus
		conds   []manifest.Condition
		want    string
	}{
		"complete": {&manifest.RolloutStatus{StableRevision: 2}, progressing("True", manifest.ReasonNewReplicaSetAvailable, ""), ""},
		"deadline, rolled back": {&manifest.RolloutStatus{FailedGeneration: 2, FailedRevision: 3, RolledBackTo: 2, Reason: manifest.ReasonProgressDeadlineExceeded,
			Message: `ReplicaSet "hello-x" has timed out progressing.`}, nil,
			`deployment "hello" exceeded its progress deadline: ReplicaSet "hello-x" has timed out progressing. (rolled back to revision 2)`},
		"crash loop, halted": {&manifest.RolloutStatus{FailedGeneration: 2, FailedRevision: 3, Reason: "CrashLooping", Message: "pod hello-x-a restarted 2 times"}, nil,
			`deployment "hello" rollout failed: CrashLooping: pod hello-x-a restarted 2 times`},
		"condition only": {nil, progressing("False", manifest.ReasonProgressDeadlineExceeded, ""), `deployment "hello" exceeded its progress deadline`},
		"rolled back condition": {nil, progressing("False", manifest.ReasonRolledBack, "back to revision 1"),
			`deployment "hello" rollout failed and was rolled back: back to revision 1`},
		"older generation failed": {&manifest.RolloutStatus{FailedGeneration: 1, RolledBackTo: 1, Reason: "Unready"},
			progressing("False", manifest.ReasonRolledBack, ""), ""},
		"paused": {nil, progressing("Unknown", manifest.ReasonDeploymentPaused, ""), ""},
	} {
		w := helloAt("nginx:2") // generation 2
		w.Status.Rollout, w.Status.Conditions = tc.rollout, tc.conds
		err := rolloutFailure(w)
		if got := errString(err); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// rollout status' exit codes against the read model: 0 complete; 1 failed
// or rolled back, with the reason on stderr; paused waits for resume (until
// --timeout, or once with --watch=false); a canary at a pause step waits
// for promote.
func TestRolloutStatusExitCodes(t *testing.T) {
	c := newReadCluster(t)
	cur := helloRSName()
	put := func(t *testing.T, edit func(d, rs *projections.Workload)) {
		t.Helper()
		dep := fixtureWorkload(time.Unix(0, 0)) // 3 updated, 2 available
		rs := fixtureRS(time.Unix(0, 0), cur, 3, manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2})
		rs.Object.Metadata.Annotations = map[string]string{manifest.RevisionAnnotation: "2"}
		edit(dep, rs)
		c.put(t, bus.BucketWorkloads, "deployment.default.hello", dep)
		c.put(t, bus.BucketWorkloads, "replicaset.default."+rs.Name, rs)
		c.progress(t, 0)
	}
	t.Run("complete", func(t *testing.T) {
		put(t, func(d, rs *projections.Workload) {
			d.Status.AvailableReplicas, rs.Status.AvailableReplicas, rs.Status.ReadyReplicas = 3, 3, 3
		})
		code, out, errOut := c.gantry("rollout", "status", "deploy/hello", "--timeout=5s")
		if code != 0 || out != "deployment \"hello\" successfully rolled out\n" || errOut != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		// On a terminal: the live display, drawn once as nothing changes.
		var buf strings.Builder
		if err := watchRollout(context.Background(), c.conn.JS, resourceKinds["deployment"], "default", "hello", true, 5*time.Second, &buf, true); err != nil {
			t.Fatal(err)
		}
		want := `deployment "hello": 3 desired | 3 updated | 2 ready | 3 available` + "\n" +
			"  revision 2   [" + strings.Repeat("█", barWidth) + "]  " + cur + "  3/3 ready, 3 available (new)\n" +
			`deployment "hello" successfully rolled out` + "\n"
		if buf.String() != want {
			t.Errorf("live:\n%s\nwant:\n%s", buf.String(), want)
		}
	})
	t.Run("rolled back", func(t *testing.T) {
		put(t, func(d, rs *projections.Workload) {
			d.Status.Rollout = &manifest.RolloutStatus{StableRevision: 1, FailedGeneration: 2, FailedRevision: 2, RolledBackTo: 1, Reason: "CrashLooping"}
			d.Status.Conditions = []manifest.Condition{{Type: manifest.DeploymentProgressing, Status: "False", Reason: manifest.ReasonRolledBack}}
		})
		code, out, errOut := c.gantry("rollout", "status", "deploy/hello", "--timeout=5s")
		if code != 1 || out != "" || errOut != "error: deployment \"hello\" rollout failed: CrashLooping (rolled back to revision 1)\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("failed", func(t *testing.T) {
		put(t, func(d, rs *projections.Workload) {
			d.Status.Conditions = []manifest.Condition{{Type: manifest.DeploymentProgressing, Status: "False", Reason: manifest.ReasonProgressDeadlineExceeded}}
		})
		code, _, errOut := c.gantry("rollout", "status", "deploy/hello", "--timeout=5s")
		if code != 1 || errOut != "error: deployment \"hello\" exceeded its progress deadline\n" {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("paused", func(t *testing.T) {
		put(t, func(d, rs *projections.Workload) { d.Object.Deployment().Paused = true })
		line := "Waiting for deployment \"hello\" rollout to resume...\n"
		code, out, errOut := c.gantry("rollout", "status", "deploy/hello", "--timeout=300ms")
		if code != 1 || out != line || errOut != "error: timed out waiting for the condition\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		if code, out, _ := c.gantry("rollout", "status", "deploy/hello", "--watch=false"); code != 0 || out != line {
			t.Errorf("--watch=false: exit %d, stdout %q", code, out)
		}
	})
	t.Run("canary awaiting promote", func(t *testing.T) {
		put(t, func(d, rs *projections.Workload) {
			ten := int32(10)
			d.Object.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.CanaryStrategy, Canary: &manifest.CanarySpec{
				Steps: []manifest.CanaryStep{{SetWeight: &ten}, {Pause: &manifest.CanaryPause{}}}}}
			d.Status.UpdatedReplicas = 1
			d.Status.Rollout = &manifest.RolloutStatus{CanaryHash: manifest.TemplateHash(d.Object.Deployment().Template), CanaryStep: 1}
		})
		code, out, _ := c.gantry("rollout", "status", "deploy/hello", "--watch=false")
		if code != 0 || out != "Waiting for deployment \"hello\" rollout to be promoted: canary step 1 of 2 pauses until \"gantry rollout promote\"...\n" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
}

// The live display: a line of the whole, a bar per revision with pods
// (newest first; an old one scaled to 0 and empty is left out) and the
// status line. Worked bars: 4 desired and 5 pods, so cells of 5 pods, 24
// cells: the new revision's 2 available → ⌈9.6⌉ = 10 █, its 3 created →
// ⌈14.4⌉ − 10 = 5 ▒; the old one's 1 available → ⌈4.8⌉ = 5 █, its 2 ready
// → 10 − 5 = 5 ▓.
func TestRolloutFrame(t *testing.T) {
	dep := helloAt("nginx:2")
	dep.Object.Deployment().Replicas = ptrInt32(4)
	dep.Status = manifest.WorkloadStatus{Replicas: 5, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3,
		Rollout: &manifest.RolloutStatus{StableRevision: 1}}
	cur := revisionRS("nginx:2", 2, "")
	cur.Name = "hello-" + manifest.TemplateHash(dep.Object.Deployment().Template)
	cur.Object.ReplicaSet().Replicas = ptrInt32(3)
	cur.Status = manifest.WorkloadStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2}
	old := revisionRS("nginx:1", 1, "")
	old.Object.ReplicaSet().Replicas = ptrInt32(2)
	old.Status = manifest.WorkloadStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 1}
	gone := revisionRS("nginx:0", 0, "")
	gone.Name = "hello-gone"

	msg, _, _ := rolloutStatus(dep, []*projections.Workload{old, gone, cur})
	got := rolloutFrame(dep, []*projections.Workload{old, gone, cur}, msg)
	want := []string{
		`deployment "hello": 4 desired | 3 updated | 4 ready | 3 available | stable revision 1`,
		"  revision 2   [██████████▒▒▒▒▒·········]  " + cur.Name + "  2/3 ready, 2 available (new)",
		"  revision 1   [█████▓▓▓▓▓··············]  " + old.Name + "  2/2 ready, 1 available (old)",
		`Waiting for deployment "hello" rollout to finish: 3 out of 4 new replicas have been updated...`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("frame:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := rolloutBar(7, 7, 7, 4); got != "["+strings.Repeat("█", barWidth)+"]" {
		t.Errorf("more pods than the scale overflow: %s", got)
	}
	ds := fixtureDS(time.Unix(0, 0)) // 2 desired, 1 available
	want = []string{`daemon set "agent": 2 desired | 2 updated | 1 ready | 1 available`, "  [████████████▒▒▒▒▒▒▒▒▒▒▒▒]  1/2 ready, 1 available"}
	if got := rolloutFrame(ds, nil, ""); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("daemonset: %q", got)
	}
}
