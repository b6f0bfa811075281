package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// describe of every workload kind: the kind's lines, the pod template,
// conditions, a Deployment's old and new ReplicaSets, a CronJob's active
// Jobs, and the events from the log of the object, of what was made for it
// and of its pods.
func TestDescribeWorkloadKindsAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	rs := helloRSName()
	at := created
	next := func() time.Time { at = at.Add(time.Second); return at }
	depRef := &events.OwnerRef{Kind: "deployment", Name: "hello", UID: "dep-uid-1"}
	rsObj, _ := json.Marshal(fixtureRS(created, rs, 3, manifest.WorkloadStatus{}).Object)
	c.publish(t, events.WorkloadSubject("default", "replicaset", rs),
		&events.WorkloadDecided{Kind: "replicaset", Namespace: "default", Name: rs, UID: "rs-uid-x", Generation: 1, Owner: depRef, Object: rsObj},
		"replica", "default/"+rs, next())
	c.publish(t, events.WorkloadSubject("default", "replicaset", "hello-6d8f7b9c4x"),
		&events.WorkloadDeleted{Kind: "replicaset", Namespace: "default", Name: "hello-6d8f7b9c4x", UID: "rs-uid-old", Reason: "history limit"},
		"replica", "default/hello-6d8f7b9c4x", next())
	rsRef := &events.OwnerRef{Kind: "replicaset", Name: rs, UID: "rs-uid-" + rs[len("hello-"):]}
	c.publish(t, events.PodDecisionSubject("default", rs+"-aaaaa"),
		&events.PodPlanned{Namespace: "default", Name: rs + "-aaaaa", UID: "pod-rs-1", Owner: rsRef}, "replica", "default/"+rs+"-aaaaa", next())
	c.publish(t, events.PodDecisionSubject("default", rs+"-aaaaa"),
		&events.PodDeleted{Namespace: "default", Name: rs + "-aaaaa", UID: "pod-rs-1", Reason: "scaled down"}, "replica", "default/"+rs+"-aaaaa", next())
	jobRef := &events.OwnerRef{Kind: "job", Name: "pi", UID: "job-uid-1"}
	c.publish(t, events.PodDecisionSubject("default", "pi-x1"),
		&events.PodPlanned{Namespace: "default", Name: "pi-x1", UID: "pod-job-1", Owner: jobRef}, "job", "default/pi-x1", next())
	c.publish(t, events.WorkloadSubject("default", "job", "pi"),
		&events.WorkloadStatusDecided{Kind: "job", Namespace: "default", Name: "pi", UID: "job-uid-1", StartTime: ptrTime(created),
			Message: "started"}, "job", "default/pi", next())
	c.publish(t, events.WorkloadSubject("default", "job", "pi"),
		&events.WorkloadStatusDecided{Kind: "job", Namespace: "default", Name: "pi", UID: "job-uid-0", Message: "an older pi"},
		"job", "default/pi", next())
	cjRef := &events.OwnerRef{Kind: "cronjob", Name: "report", UID: "cj-uid-1"}
	runObj, _ := json.Marshal(fixtureCronJobRun(created).Object)
	c.publish(t, events.WorkloadSubject("default", "job", "report-100"),
		&events.WorkloadDecided{Kind: "job", Namespace: "default", Name: "report-100", UID: "job-uid-2", Generation: 1, Owner: cjRef, Object: runObj},
		"cronjob", "default/report-100", next())
	c.seedWorkloads(t, created)

	describe := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errOut := c.gantry(append([]string{"describe"}, args...)...)
		if code != 0 {
			t.Fatalf("describe %v: exit %d, stderr %q", args, code, errOut)
		}
		return out
	}
	t.Run("deployment", func(t *testing.T) {
		out := describe(t, "deploy", "hello")
		hasLine(t, out, "OldReplicaSets: <none>") // hello-6d8f7b9c4x is scaled to 0
		hasLine(t, out, "NewReplicaSet: "+rs+" (3/3 replicas created)")
		if !strings.Contains(out, "replicaset default/"+rs+" generation 1 for deployment hello") {
			t.Errorf("the ReplicaSet made for it is not among its events:\n%s", out)
		}
		if strings.Contains(out, "planned for replicaset") {
			t.Errorf("its ReplicaSet's pods are not its events:\n%s", out)
		}
	})
	t.Run("replicaset", func(t *testing.T) {
		out := describe(t, "rs", rs)
		hasLine(t, out, "Controlled By: Deployment/hello")
		hasLine(t, out, "Replicas: 3 current / 3 desired")
		hasLine(t, out, "Pods Status: 2 Running / 1 Waiting / 0 Succeeded / 0 Failed")
		hasLine(t, out, "Pod Template:")
		hasLine(t, out, "  Labels: app=hello")
		for _, want := range []string{"PodPlanned", "PodDeleted"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %s among its events:\n%s", want, out)
			}
		}
	})
	t.Run("daemonset", func(t *testing.T) {
		out := describe(t, "ds", "agent")
		hasLine(t, out, "Node-Selector: zone=a")
		hasLine(t, out, "Desired Number of Nodes Scheduled: 2")
		hasLine(t, out, "Events: <none>")
	})
	t.Run("job", func(t *testing.T) {
		out := describe(t, "job", "pi")
		hasLine(t, out, "Parallelism: 8 (effective 5: no more than the completions)")
		hasLine(t, out, "Completions: 5")
		hasLine(t, out, "Pods Statuses: 2 Active (2 Ready) / 3 Succeeded / 0 Failed")
		hasLine(t, out, "      Image: perl:5.34")
		if !strings.Contains(out, "PodPlanned") || !strings.Contains(out, "started") || strings.Contains(out, "an older pi") {
			t.Errorf("events of the job:\n%s", out)
		}
		out = describe(t, "job", "report-100")
		hasLine(t, out, "Controlled By: CronJob/report")
		hasLine(t, out, "Conditions:")
		hasLine(t, out, "  Complete True <none>")
		if !strings.Contains(out, "WorkloadDecided") {
			t.Errorf("the decision that made it:\n%s", out)
		}
	})
	t.Run("cronjob", func(t *testing.T) {
		out := describe(t, "cj", "report")
		hasLine(t, out, "Schedule: */5 * * * *")
		hasLine(t, out, "Time Zone: Europe/Paris")
		hasLine(t, out, "Active Jobs: report-100")
		hasLine(t, out, "      Image: perl:5.34")
		if !strings.Contains(out, "job default/report-100 generation 1 for cronjob report") {
			t.Errorf("the Job it made:\n%s", out)
		}
	})
}
