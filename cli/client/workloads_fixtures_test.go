package client

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Fixtures of every workload kind, as the projector writes them: deployment
// hello's current ReplicaSet (named by its template's hash) and an old one
// scaled to zero, a DaemonSet, a Job half done, a CronJob and the Job it
// made, and a pod of each that runs pods.

func helloTemplate() manifest.PodTemplateSpec {
	return *fixtureWorkload(fixtureT0).Object.PodTemplate()
}

// helloRSName is the name of deployment hello's current ReplicaSet.
func helloRSName() string { return "hello-" + manifest.TemplateHash(helloTemplate()) }

func fixtureRS(created time.Time, name string, replicas int32, st projections.WorkloadStatus) *projections.Workload {
	t := helloTemplate()
	hash := name[len("hello-"):]
	t.Metadata.Labels = map[string]string{"app": "hello", "pod-template-hash": hash}
	return &projections.Workload{
		Kind: "replicaset", Namespace: "default", Name: name, UID: "rs-uid-" + hash, Generation: 1,
		Owner: &events.OwnerRef{Kind: "deployment", Name: "hello", UID: "dep-uid-1"},
		Object: manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindReplicaSet,
			Metadata: manifest.ObjectMeta{Name: name, Namespace: "default", Labels: t.Metadata.Labels},
			Spec: &manifest.ReplicaSetSpec{Replicas: ptrInt32(replicas), Template: t,
				Selector: &manifest.LabelSelector{MatchLabels: t.Metadata.Labels}}},
		CreatedAt: created, Status: st, Seqs: projections.Seqs{},
	}
}

func fixtureDS(created time.Time) *projections.Workload {
	labels := map[string]string{"app": "agent"}
	return &projections.Workload{
		Kind: "daemonset", Namespace: "default", Name: "agent", UID: "ds-uid-1", Generation: 1,
		Object: manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindDaemonSet,
			Metadata: manifest.ObjectMeta{Name: "agent", Namespace: "default", Labels: labels},
			Spec: &manifest.DaemonSetSpec{Selector: &manifest.LabelSelector{MatchLabels: labels},
				Template: manifest.PodTemplateSpec{Metadata: manifest.TemplateMeta{Labels: labels},
					Spec: manifest.PodSpec{NodeSelector: map[string]string{"zone": "a"},
						Containers: []manifest.Container{{Name: "agent", Image: "agent:v2"}}}}}},
		CreatedAt: created,
		Status:    projections.WorkloadStatus{Desired: 2, Replicas: 2, ReadyReplicas: 1, UpdatedReplicas: 2, AvailableReplicas: 1},
		Seqs:      projections.Seqs{},
	}
}

func jobTemplate() manifest.PodTemplateSpec {
	return manifest.PodTemplateSpec{Metadata: manifest.TemplateMeta{Labels: map[string]string{"app": "pi"}},
		Spec: manifest.PodSpec{RestartPolicy: "Never", Containers: []manifest.Container{{Name: "pi", Image: "perl:5.34",
			Command: []string{"perl", "-e", "print 3.14"}}}}}
}

// fixtureJob is pi: 3 of 5 completions, 2 at a time, started 3h ago.
func fixtureJob(created time.Time) *projections.Workload {
	return &projections.Workload{
		Kind: "job", Namespace: "default", Name: "pi", UID: "job-uid-1", Generation: 1,
		Object: manifest.Object{APIVersion: manifest.APIBatchV1, Kind: manifest.KindJob,
			Metadata: manifest.ObjectMeta{Name: "pi", Namespace: "default", Labels: map[string]string{"app": "pi"}},
			Spec:     &manifest.JobSpec{Completions: ptrInt32(5), Parallelism: ptrInt32(8), Template: jobTemplate()}},
		CreatedAt: created,
		Status: projections.WorkloadStatus{Replicas: 2, ReadyReplicas: 2, Succeeded: 3, StartTime: ptrTime(created),
			Conditions: nil},
		Seqs: projections.Seqs{},
	}
}

// fixtureCronJob is report, every five minutes, its last run 3h ago and
// still active.
func fixtureCronJob(created time.Time) *projections.Workload {
	tz := "Europe/Paris"
	return &projections.Workload{
		Kind: "cronjob", Namespace: "default", Name: "report", UID: "cj-uid-1", Generation: 1,
		Object: manifest.Object{APIVersion: manifest.APIBatchV1, Kind: manifest.KindCronJob,
			Metadata: manifest.ObjectMeta{Name: "report", Namespace: "default"},
			Spec: &manifest.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: &tz,
				JobTemplate: manifest.JobTemplateSpec{
					Metadata: manifest.TemplateMeta{Labels: map[string]string{"team": "ops"}, Annotations: map[string]string{"note": "nightly"}},
					Spec:     manifest.JobSpec{BackoffLimit: ptrInt32(2), Template: jobTemplate()}}}},
		CreatedAt: created,
		Status: projections.WorkloadStatus{LastScheduleTime: ptrTime(created), Owned: []string{"report-100"},
			Active: []string{"report-100"}},
		Seqs: projections.Seqs{},
	}
}

// fixtureCronJobRun is the Job report made, finished in 12s.
func fixtureCronJobRun(created time.Time) *projections.Workload {
	w := fixtureJob(created)
	w.Name, w.UID = "report-100", "job-uid-2"
	w.Owner = &events.OwnerRef{Kind: "cronjob", Name: "report", UID: "cj-uid-1"}
	w.Object.Metadata.Name, w.Object.Metadata.Labels = "report-100", map[string]string{"team": "ops"}
	w.Object.Spec = &manifest.JobSpec{BackoffLimit: ptrInt32(2), Template: jobTemplate()}
	done := created.Add(12 * time.Second)
	w.Status = projections.WorkloadStatus{Succeeded: 1, StartTime: ptrTime(created), CompletionTime: &done,
		Conditions: []manifest.Condition{{Type: manifest.JobComplete, Status: manifest.ConditionTrue, LastTransitionTime: done}}}
	return w
}

// ownedPod is a running pod of owner, named name, created at created.
func ownedPod(created time.Time, name, uid string, owner *events.OwnerRef, labels map[string]string) *projections.Pod {
	p := fixturePod(created)
	p.Name, p.UID, p.Owner, p.Labels = name, uid, owner, labels
	p.Status.Name, p.Status.UID = name, uid
	return p
}

// seedWorkloads writes the fixtures of every kind into the read models.
func (c *readCluster) seedWorkloads(t *testing.T, created time.Time) {
	t.Helper()
	rs := fixtureRS(created, helloRSName(), 3, projections.WorkloadStatus{Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2})
	old := fixtureRS(created.Add(-time.Hour), "hello-6d8f7b9c4x", 0, projections.WorkloadStatus{})
	dep := fixtureWorkload(created)
	dep.Status.Owned = []string{old.Name, rs.Name}
	for _, w := range []*projections.Workload{dep, rs, old, fixtureDS(created), fixtureJob(created),
		fixtureCronJob(created), fixtureCronJobRun(created)} {
		c.put(t, bus.BucketWorkloads, w.Kind+"."+w.Namespace+"."+w.Name, w)
	}
	rsRef := &events.OwnerRef{Kind: "replicaset", Name: rs.Name, UID: rs.UID}
	jobRef := &events.OwnerRef{Kind: "job", Name: "pi", UID: "job-uid-1"}
	for _, p := range []*projections.Pod{
		ownedPod(created.Add(-2*time.Second), rs.Name+"-bbbbb", "pod-rs-2", rsRef, map[string]string{"app": "hello"}),
		ownedPod(created.Add(-time.Second), rs.Name+"-aaaaa", "pod-rs-1", rsRef, map[string]string{"app": "hello"}),
		ownedPod(created, "pi-x1", "pod-job-1", jobRef, map[string]string{"app": "pi"}),
		ownedPod(created, "pi-x2", "pod-job-2", jobRef, map[string]string{"app": "pi"}),
	} {
		c.put(t, bus.BucketPods, p.Namespace+"."+p.Name, p)
	}
	c.progress(t, 0)
}
