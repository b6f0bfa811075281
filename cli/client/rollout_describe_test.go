package client

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// describe deployment of a rolling update: kubectl's strategy lines with
// the defaults, the Conditions table, the old ReplicaSet still with pods
// and the new one with their counts.
func TestDescribeDeploymentRollingUpdate(t *testing.T) {
	dep := helloAt("nginx:2")
	dep.Object.Deployment().MinReadySeconds = 5
	dep.Status.Conditions = []manifest.Condition{
		{Type: manifest.DeploymentAvailable, Status: "True", Reason: manifest.ReasonMinimumReplicasAvailable, LastTransitionTime: fixtureT0},
		{Type: manifest.DeploymentProgressing, Status: "True", Reason: manifest.ReasonReplicaSetUpdated, LastTransitionTime: fixtureT0},
	}
	dep.Status.Rollout = &manifest.RolloutStatus{StableRevision: 1}
	cur := revisionRS("nginx:2", 2, "")
	cur.Name = "hello-" + manifest.TemplateHash(dep.Object.Deployment().Template)
	cur.Object.ReplicaSet().Replicas, cur.Status.Replicas = ptrInt32(3), 2
	old := revisionRS("nginx:1", 1, "")
	old.Object.ReplicaSet().Replicas = ptrInt32(1)
	old.Status.Replicas = 1
	gone := revisionRS("nginx:0", 0, "") // scaled to 0: not listed
	gone.Name = "hello-gone"

	var buf bytes.Buffer
	if err := describeWorkload(&buf, dep, []*projections.Workload{gone, old, cur}, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	hasLine(t, out, "StrategyType: RollingUpdate")
	hasLine(t, out, "MinReadySeconds: 5")
	hasLine(t, out, "RollingUpdateStrategy: 25% max unavailable, 25% max surge")
	hasLine(t, out, "StableRevision: 1")
	hasLine(t, out, "  Type Status Reason")
	hasLine(t, out, "  Available True MinimumReplicasAvailable")
	hasLine(t, out, "  Progressing True ReplicaSetUpdated")
	hasLine(t, out, "OldReplicaSets: "+old.Name+" (1/1 replicas created)")
	hasLine(t, out, "NewReplicaSet: "+cur.Name+" (2/3 replicas created)")
	for _, no := range []string{"hello-gone", "FailedRevision", "CanarySteps"} {
		if strings.Contains(out, no) {
			t.Errorf("%s in\n%s", no, out)
		}
	}
}

// describe deployment of a canary whose rollout failed and went back:
// its bounds, steps, current step, the failure and where it went back to.
func TestDescribeDeploymentCanaryRolledBack(t *testing.T) {
	dep := canaryHello(2) // generation 2
	dep.Object.Deployment().Strategy.Canary.MaxSurge = &manifest.IntOrString{Int: 1}
	started := time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC)
	dep.Status.Rollout.StepStartedAt = &started
	dep.Status.Rollout.FailedGeneration, dep.Status.Rollout.FailedRevision, dep.Status.Rollout.RolledBackTo = 2, 3, 1
	dep.Status.Rollout.Reason, dep.Status.Rollout.Message = "AnalysisFailed", "pods.restarts == 0 was false"
	dep.Status.Conditions = []manifest.Condition{{Type: manifest.DeploymentProgressing, Status: "False", Reason: manifest.ReasonRolledBack}}

	var buf bytes.Buffer
	if err := describeWorkload(&buf, dep, nil, nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	hasLine(t, out, "StrategyType: Canary")
	hasLine(t, out, "CanaryStrategy: 25% max unavailable, 1 max surge")
	hasLine(t, out, `CanarySteps: 0: setWeight 10, 1: pause (until promoted), 2: analysis "pods.restarts == 0", 3: pause 60s`)
	hasLine(t, out, `CanaryStep: 2 of 4: analysis "pods.restarts == 0", since 2026-12-03T16:00:00Z`)
	hasLine(t, out, "FailedRevision: 3 (AnalysisFailed: pods.restarts == 0 was false)")
	hasLine(t, out, "RolledBackTo: revision 1")
	hasLine(t, out, "  Progressing False RolledBack")
	if strings.Contains(out, "RollingUpdateStrategy") {
		t.Errorf("a canary has no RollingUpdateStrategy:\n%s", out)
	}

	// A failure of an older generation is history: a new attempt runs.
	dep.Generation, dep.Status.ObservedGeneration = 3, 3 // the read model observes every generation
	buf.Reset()
	if err := describeWorkload(&buf, dep, nil, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "FailedRevision") {
		t.Errorf("an older generation's failure shown:\n%s", buf.String())
	}
}
