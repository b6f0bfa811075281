package client

import (
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func TestK8sPodShapes(t *testing.T) {
	terminated := fixturePod(fixtureT0)
	terminated.Status.Phase = events.PhaseFailed
	terminated.Status.Containers[0] = events.ContainerStatus{Name: "web", Image: "nginx:1.25", State: events.ContainerTerminated,
		Reason: "Error", ExitCode: ptrInt32(2), StartedAt: ptrTime(fixtureT0), FinishedAt: ptrTime(fixtureT0.Add(time.Minute))}
	waiting := fixturePod(fixtureT0)
	waiting.Status.Phase = events.PhasePending
	waiting.Status.PodIP = ""
	waiting.Status.Containers[0] = events.ContainerStatus{Name: "web", Image: "nginx:1.25", State: events.ContainerWaiting,
		Reason: "ErrImagePull", Message: "not found"}
	bare := fixturePendingPod(fixtureT0)
	bare.Owner = &events.OwnerRef{Kind: "pod", Name: "big-xyz", UID: "w"}
	bare.Unschedulable = ""

	container := `{"env":[{"name":"MODE","value":"prod"}],"image":"nginx:1.25","name":"web","ports":[{"containerPort":80}],
		"resources":{"limits":{"memory":"128Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}}`
	meta := `"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","labels":{"app":"hello","pod-template-hash":"abc12"},
		"name":"hello-abc12","namespace":"default","uid":"pod-uid-1",
		"ownerReferences":[{"apiVersion":"apps/v1","controller":true,"kind":"Deployment","name":"hello","uid":"dep-uid-1"}]}`
	spec := `"spec":{"containers":[` + container + `],"nodeName":"node-1","restartPolicy":"Always"}`
	tests := []struct {
		name   string
		pod    *projections.Pod
		hostIP string
		want   string
	}{
		{"running", fixturePod(fixtureT0), "10.0.0.1", `{"apiVersion":"v1","kind":"Pod",` + meta + `,` + spec + `,
			"status":{"phase":"Running","hostIP":"10.0.0.1","podIP":"10.42.0.7","podIPs":[{"ip":"10.42.0.7"}],
			"startTime":"2024-05-01T12:00:01Z",
			"conditions":[{"status":"True","type":"Initialized"},{"status":"True","type":"Ready"},
				{"status":"True","type":"ContainersReady"},
				{"lastTransitionTime":"2024-05-01T12:00:01Z","status":"True","type":"PodScheduled"}],
			"containerStatuses":[{"containerID":"containerd://c1","image":"nginx:1.25","name":"web","ready":true,
				"restartCount":2,"started":true,"state":{"running":{"startedAt":"2024-05-01T12:00:02Z"}}}]}}`},
		{"terminated", terminated, "", `{"apiVersion":"v1","kind":"Pod",` + meta + `,` + spec + `,
			"status":{"phase":"Failed","podIP":"10.42.0.7","podIPs":[{"ip":"10.42.0.7"}],"startTime":"2024-05-01T12:00:01Z",
			"conditions":[{"status":"True","type":"Initialized"},
				{"message":"containers with unready status: [web]","reason":"ContainersNotReady","status":"False","type":"Ready"},
				{"message":"containers with unready status: [web]","reason":"ContainersNotReady","status":"False","type":"ContainersReady"},
				{"lastTransitionTime":"2024-05-01T12:00:01Z","status":"True","type":"PodScheduled"}],
			"containerStatuses":[{"image":"nginx:1.25","name":"web","ready":false,"restartCount":0,"started":false,
				"state":{"terminated":{"exitCode":2,"finishedAt":"2024-05-01T12:01:00Z","reason":"Error","startedAt":"2024-05-01T12:00:00Z"}}}]}}`},
		{"waiting", waiting, "10.0.0.1", `{"apiVersion":"v1","kind":"Pod",` + meta + `,` + spec + `,
			"status":{"phase":"Pending","hostIP":"10.0.0.1","startTime":"2024-05-01T12:00:01Z",
			"conditions":[{"status":"True","type":"Initialized"},
				{"message":"containers with unready status: [web]","reason":"ContainersNotReady","status":"False","type":"Ready"},
				{"message":"containers with unready status: [web]","reason":"ContainersNotReady","status":"False","type":"ContainersReady"},
				{"lastTransitionTime":"2024-05-01T12:00:01Z","status":"True","type":"PodScheduled"}],
			"containerStatuses":[{"image":"nginx:1.25","name":"web","ready":false,"restartCount":0,"started":false,
				"state":{"waiting":{"message":"not found","reason":"ErrImagePull"}}}]}}`},
		{"unschedulable", fixturePendingPod(fixtureT0), "10.0.0.1", `{"apiVersion":"v1","kind":"Pod",
			"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","name":"big-xyz","namespace":"default","uid":"pod-uid-2",
				"ownerReferences":[{"apiVersion":"apps/v1","controller":true,"kind":"Deployment","name":"big","uid":"dep-uid-2"}]},
			"spec":{"containers":[{"image":"busybox","name":"big","resources":{}}],"restartPolicy":"Always"},
			"status":{"phase":"Pending","conditions":[{"message":"0/1 nodes are available: 1 insufficient memory.",
				"reason":"Unschedulable","status":"False","type":"PodScheduled"}]}}`},
		{"bare pod has no owner reference", bare, "", `{"apiVersion":"v1","kind":"Pod",
			"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","name":"big-xyz","namespace":"default","uid":"pod-uid-2"},
			"spec":{"containers":[{"image":"busybox","name":"big","resources":{}}],"restartPolicy":"Always"},
			"status":{"phase":"Pending"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameJSON(t, mustJSON(t, k8sPod(tt.pod, tt.hostIP)), tt.want)
		})
	}
}

func TestK8sDeploymentShape(t *testing.T) {
	w := fixtureWorkload(fixtureT0)
	// Conditions as Kubernetes shows them: lastUpdateTime (the transition's
	// when never confirmed since) and lastTransitionTime.
	w.Status.Conditions = []manifest.Condition{
		{Type: manifest.DeploymentAvailable, Status: "False", Reason: manifest.ReasonMinimumReplicasUnavail,
			Message: "Deployment does not have minimum availability.", LastTransitionTime: fixtureT0},
		{Type: manifest.DeploymentProgressing, Status: "True", Reason: manifest.ReasonReplicaSetUpdated,
			Message: `ReplicaSet "hello-abc" is progressing.`, LastTransitionTime: fixtureT0, LastUpdateTime: fixtureT0.Add(time.Minute)},
	}
	want := `{"apiVersion":"apps/v1","kind":"Deployment",
		"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","generation":2,"labels":{"team":"web"},"name":"hello",
			"namespace":"default","uid":"dep-uid-1"},
		"spec":{"progressDeadlineSeconds":600,"replicas":3,"revisionHistoryLimit":10,"selector":{"matchLabels":{"app":"hello"}},
			"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"},
			"template":{"metadata":{"labels":{"app":"hello"}},"spec":{"containers":[{"env":[{"name":"MODE","value":"prod"}],
				"image":"nginx:1.25","name":"web","ports":[{"containerPort":80,"protocol":"TCP"}],
				"resources":{"limits":{"memory":"128Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}}],"restartPolicy":"Always"}}},
		"status":{"availableReplicas":2,"observedGeneration":2,"readyReplicas":2,"replicas":3,"unavailableReplicas":1,"updatedReplicas":3,
			"conditions":[
				{"type":"Available","status":"False","lastUpdateTime":"2024-05-01T12:00:00Z","lastTransitionTime":"2024-05-01T12:00:00Z",
					"reason":"MinimumReplicasUnavailable","message":"Deployment does not have minimum availability."},
				{"type":"Progressing","status":"True","lastUpdateTime":"2024-05-01T12:01:00Z","lastTransitionTime":"2024-05-01T12:00:00Z",
					"reason":"ReplicaSetUpdated","message":"ReplicaSet \"hello-abc\" is progressing."}]}}`
	sameJSON(t, mustJSON(t, k8sWorkload(w)), want)

	w.Object.Deployment().Replicas = nil // defaulted to 1, as Kubernetes does
	w.Status = projections.WorkloadStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	got := mustJSON(t, k8sWorkload(w))
	if !strings.Contains(got, `"replicas": 1,`) || strings.Contains(got, "unavailableReplicas") {
		t.Errorf("defaulted replicas: got\n%s", got)
	}
}

func TestK8sNodeShape(t *testing.T) {
	now := fixtureT0.Add(time.Hour)
	since := now.Add(-30 * time.Second)
	tests := []struct {
		name      string
		heartbeat time.Time
		state     *projections.NodeState
		condition string
	}{
		// Never decided (no health service): the heartbeat clock.
		{"ready", now.Add(-5 * time.Second), nil, `{"lastHeartbeatTime":"2024-05-01T12:59:55Z","message":"node agent is posting heartbeats",
			"reason":"NodeAgentReady","status":"True","type":"Ready"}`},
		{"lost", now.Add(-time.Minute), nil, `{"lastHeartbeatTime":"2024-05-01T12:59:00Z",
			"message":"node agent stopped posting heartbeats (none for 40s)","reason":"NodeStatusUnknown","status":"Unknown","type":"Ready"}`},
		// Decided: the decision, whatever the clock says.
		{"decided ready", now.Add(-time.Hour), &projections.NodeState{Ready: true, Reason: "NodeAgentReady", Message: "node agent is posting heartbeats", Since: since},
			`{"lastHeartbeatTime":"2024-05-01T12:00:00Z","lastTransitionTime":"2024-05-01T12:59:30Z","message":"node agent is posting heartbeats",
			"reason":"NodeAgentReady","status":"True","type":"Ready"}`},
		{"decided unknown", now.Add(-5 * time.Second), &projections.NodeState{Reason: "NodeStatusUnknown", Message: "node agent stopped posting heartbeats (none for 40s)", Since: since},
			`{"lastHeartbeatTime":"2024-05-01T12:59:55Z","lastTransitionTime":"2024-05-01T12:59:30Z",
			"message":"node agent stopped posting heartbeats (none for 40s)","reason":"NodeStatusUnknown","status":"Unknown","type":"Ready"}`},
		{"decided not ready", now, &projections.NodeState{Reason: "NodeDraining", Message: "draining", Since: since},
			`{"lastHeartbeatTime":"2024-05-01T13:00:00Z","lastTransitionTime":"2024-05-01T12:59:30Z","message":"draining",
			"reason":"NodeDraining","status":"False","type":"Ready"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := `{"apiVersion":"v1","kind":"Node",
				"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","labels":{"zone":"a"},"name":"node-1"},
				"spec":{"podCIDR":"10.42.0.0/24","podCIDRs":["10.42.0.0/24"]},
				"status":{"addresses":[{"address":"10.0.0.1","type":"InternalIP"},{"address":"node-1","type":"Hostname"}],
					"allocatable":{"cpu":"7500m","memory":"15Gi","pods":"110"},
					"capacity":{"cpu":"8","memory":"16Gi","pods":"110"},
					"conditions":[` + tt.condition + `],
					"nodeInfo":{"containerRuntimeVersion":"containerd","kubeletVersion":"v0.1.0"}}}`
			n := fixtureNode(fixtureT0, tt.heartbeat)
			n.State = tt.state
			sameJSON(t, mustJSON(t, k8sNode(n, now)), want)
		})
	}
}

func TestK8sList(t *testing.T) {
	sameJSON(t, mustJSON(t, k8sListOf(nil)), `{"apiVersion":"v1","kind":"List","items":[]}`)
}

func TestQuantities(t *testing.T) {
	tests := []struct {
		name string
		v    int64
		want string
	}{
		{"cpu", 8000, "8"},
		{"cpu", 500, "500m"},
		{"cpu", 1500, "1500m"},
		{"cpu", 0, "0"},
		{"memory", 16 << 30, "16Gi"},
		{"memory", 16318892 << 10, "16318892Ki"},
		{"memory", 64 << 20, "64Mi"},
		{"memory", 1000, "1000"},
		{"memory", 0, "0"},
		{"memory", 2 << 40, "2Ti"},
		{"pods", 110, "110"},
		{"ephemeral-storage", 12345, "12345"},
	}
	for _, tt := range tests {
		if got := resourceQuantity(tt.name, tt.v); got != tt.want {
			t.Errorf("resourceQuantity(%s, %d) = %q, want %q", tt.name, tt.v, got, tt.want)
		}
	}
}

func TestRenderJSONIsKubectlShaped(t *testing.T) {
	got := mustJSON(t, k8sListOf([]any{map[string]any{"b": 1, "a": "<x>"}}))
	want := "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        {\n            \"a\": \"<x>\",\n            \"b\": 1\n" +
		"        }\n    ],\n    \"kind\": \"List\"\n}\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRenderYAML(t *testing.T) {
	b, err := renderYAML(k8sNode(fixtureNode(fixtureT0, fixtureT0), fixtureT0))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"apiVersion: v1\nkind: Node\nmetadata:\n  creationTimestamp: \"2024-05-01T12:00:00Z\"\n  labels:\n    zone: a\n  name: node-1\n",
		"  capacity:\n    cpu: \"8\"\n    memory: 16Gi\n    pods: \"110\"\n",
		"    - address: 10.0.0.1\n      type: InternalIP\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("yaml lacks\n%s\ngot\n%s", want, got)
		}
	}
	b, err = renderYAML(k8sWorkload(fixtureWorkload(fixtureT0)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "  replicas: 3\n") || !strings.Contains(string(b), "generation: 2\n") {
		t.Errorf("numbers must stay numbers:\n%s", b)
	}
}
