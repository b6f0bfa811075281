package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Fixtures shared by the tests of get, describe, events and the k8s converters.

var fixtureT0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ptrTime(t time.Time) *time.Time { return &t }

func ptrInt32(v int32) *int32 { return &v }

func fixtureContainer() manifest.Container {
	return manifest.Container{
		Name: "web", Image: "nginx:1.25",
		Ports: []manifest.ContainerPort{{ContainerPort: 80}},
		Env:   []manifest.EnvVar{{Name: "MODE", Value: "prod"}},
		Resources: manifest.ResourceRequirements{
			Requests: manifest.ResourceList{"cpu": manifest.MustQuantity("100m"), "memory": manifest.MustQuantity("64Mi")},
			Limits:   manifest.ResourceList{"memory": manifest.MustQuantity("128Mi")},
		},
	}
}

// fixturePod is a running, ready pod of deployment hello on node-1.
func fixturePod(created time.Time) *projections.Pod {
	bound := created.Add(time.Second)
	return &projections.Pod{
		Namespace: "default", Name: "hello-abc12", UID: "pod-uid-1",
		Owner:     &events.OwnerRef{Kind: "deployment", Name: "hello", UID: "dep-uid-1"},
		Labels:    map[string]string{"app": "hello", "pod-template-hash": "abc12"},
		Spec:      manifest.PodSpec{Containers: []manifest.Container{fixtureContainer()}},
		CreatedAt: created, Node: "node-1", Epoch: 1, BoundAt: &bound,
		Status: &events.PodStatusObserved{Namespace: "default", Name: "hello-abc12", UID: "pod-uid-1", Node: "node-1",
			Epoch: 1, Phase: events.PhaseRunning, PodIP: "10.42.0.7",
			Containers: []events.ContainerStatus{{Name: "web", ContainerID: "containerd://c1", Image: "nginx:1.25",
				State: events.ContainerRunning, Ready: true, RestartCount: 2, StartedAt: ptrTime(created.Add(2 * time.Second))}}},
		Seqs: projections.Seqs{},
	}
}

// fixturePendingPod is unschedulable.
func fixturePendingPod(created time.Time) *projections.Pod {
	return &projections.Pod{
		Namespace: "default", Name: "big-xyz", UID: "pod-uid-2",
		Owner:         &events.OwnerRef{Kind: "deployment", Name: "big", UID: "dep-uid-2"},
		Spec:          manifest.PodSpec{Containers: []manifest.Container{{Name: "big", Image: "busybox"}}},
		CreatedAt:     created,
		Unschedulable: "0/1 nodes are available: 1 insufficient memory.",
		Seqs:          projections.Seqs{},
	}
}

func fixtureWorkload(created time.Time) *projections.Workload {
	replicas := int32(3)
	spec := &manifest.DeploymentSpec{
		Replicas: &replicas,
		Selector: &manifest.LabelSelector{MatchLabels: map[string]string{"app": "hello"}},
		Template: manifest.PodTemplateSpec{
			Metadata: manifest.TemplateMeta{Labels: map[string]string{"app": "hello"}},
			Spec:     manifest.PodSpec{Containers: []manifest.Container{fixtureContainer()}},
		},
	}
	return &projections.Workload{
		Kind: "deployment", Namespace: "default", Name: "hello", UID: "dep-uid-1", Generation: 2,
		Object: manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindDeployment,
			Metadata: manifest.ObjectMeta{Name: "hello", Namespace: "default", Labels: map[string]string{"team": "web"}},
			Spec:     spec},
		CreatedAt: created,
		Status:    projections.WorkloadStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2},
		Seqs:      projections.Seqs{},
	}
}

func fixtureNode(registered, heartbeat time.Time) *projections.Node {
	return &projections.Node{
		Info: events.NodeInfo{Name: "node-1", Labels: map[string]string{"zone": "a"},
			Capacity:    map[string]int64{"cpu": 8000, "memory": 16 << 30, "pods": 110},
			Allocatable: map[string]int64{"cpu": 7500, "memory": 15 << 30, "pods": 110},
			PodCIDR:     "10.42.0.0/24", Address: "10.0.0.1", Runtime: "containerd", Version: "v0.1.0"},
		RegisteredAt: registered, LastHeartbeat: heartbeat, Seqs: projections.Seqs{},
	}
}

// sealedRecord turns an event into the record a reader of the log sees, its
// event decoded from the envelope as in production.
func sealedRecord(t *testing.T, ev events.Event, source, subject string, at time.Time) logItem {
	t.Helper()
	env, err := events.Seal(ev, events.Meta{ID: events.NewID(), Source: source, Subject: subject, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := env.Decode()
	if err != nil {
		t.Fatal(err)
	}
	return logItem{stream: events.StreamDecisions, env: env, event: dec, at: env.Time, data: b}
}

// mustJSON is v's JSON, for comparing shapes.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := renderJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameJSON compares two JSON texts by value.
func sameJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v\n%s", err, want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", gb, wb)
	}
}
