package client

import (
	"encoding/json"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
)

func TestSummarizeEveryEventType(t *testing.T) {
	obj := json.RawMessage(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"hello"}}`)
	planned := events.PodPlanned{Namespace: "default", Name: "hello-abc12", UID: "u1",
		Owner: &events.OwnerRef{Kind: "deployment", Name: "hello", UID: "d1"},
		Spec:  manifest.PodSpec{Containers: []manifest.Container{{Name: "web", Image: "nginx:1.25"}, {Name: "log", Image: "busybox"}}}}
	node := events.NodeInfo{Name: "node-1", Capacity: map[string]int64{"pods": 110, "memory": 16 << 30, "cpu": 8000},
		Runtime: "containerd", Address: "10.0.0.1", PodCIDR: "10.42.0.0/24"}
	cases := map[string][]struct {
		ev   events.Event
		want string
	}{
		events.TypeIntentApplied: {
			{&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: "hello", Object: obj}, "apply deployment default/hello"},
			{&events.IntentApplied{Kind: "job", Namespace: "default", Name: "pi", Object: obj, Create: true}, "create job default/pi"},
		},
		events.TypeIntentDeleted: {{&events.IntentDeleted{Kind: "pod", Namespace: "default", Name: "job"},
			"delete pod default/job"}},
		events.TypeIntentEvict: {{&events.IntentEvict{Namespace: "default", Name: "web-1"}, "evict pod default/web-1"}},
		events.TypeAdmissionAccepted: {
			{&events.AdmissionAccepted{Op: events.OpApply, Kind: "deployment", Namespace: "default", Name: "hello", UID: "d1", Generation: 2, Object: obj},
				"accepted apply of deployment default/hello: generation 2"},
			{&events.AdmissionAccepted{Op: events.OpApply, Kind: "deployment", Namespace: "default", Name: "hello", Generation: 2, Unchanged: true},
				"accepted apply of deployment default/hello: generation 2 (unchanged)"},
			{&events.AdmissionAccepted{Op: events.OpDelete, Kind: "deployment", Namespace: "default", Name: "hello"},
				"accepted delete of deployment default/hello"},
			{&events.AdmissionAccepted{Op: events.OpEvict, Kind: "pod", Namespace: "default", Name: "web-1", UID: "u1"},
				"accepted evict of pod default/web-1"},
		},
		events.TypeAdmissionRejected: {{&events.AdmissionRejected{Op: events.OpApply, Kind: "deployment", Namespace: "default", Name: "hello",
			Reasons: []string{"spec.replicas: must be >= 0", "spec.selector: required"}},
			"rejected apply of deployment default/hello: spec.replicas: must be >= 0; spec.selector: required"}},
		events.TypePodPlanned: {
			{&planned, "planned for deployment hello: web=nginx:1.25, log=busybox"},
			{&events.PodPlanned{Name: "job", Owner: &events.OwnerRef{Kind: "pod", Name: "job"}}, "planned: no containers"},
		},
		events.TypePodBound: {
			{&events.PodBound{Pod: planned, Node: "node-1", Epoch: 1, Filters: []string{"NodeReady", "PodCount", "ResourceFit"},
				Scores: []events.Score{{Name: "WorkloadSpread", Score: 100}, {Name: "LeastAllocated", Score: 97}}, Feasible: 1},
				"bound to node-1 (epoch 1): filters NodeReady, PodCount, ResourceFit; scores WorkloadSpread=100 LeastAllocated=97; 1 node feasible"},
			{&events.PodBound{Pod: planned, Node: "node-2", Epoch: 3, Feasible: 2}, "bound to node-2 (epoch 3): 2 nodes feasible"},
		},
		events.TypePodUnschedulable: {{&events.PodUnschedulable{Message: "0/3 nodes are available: 3 insufficient memory.",
			Reasons: map[string]int{"insufficient memory": 3}}, "0/3 nodes are available: 3 insufficient memory."}},
		events.TypePodDeleted: {
			{&events.PodDeleted{Reason: "scaled down", Node: "node-1", Epoch: 1}, "scaled down (stop on node-1, epoch 1)"},
			{&events.PodDeleted{Reason: "deployment deleted"}, "deployment deleted"},
		},
		events.TypePodStatusObserved: {
			{&events.PodStatusObserved{Node: "node-1", Epoch: 1, Phase: events.PhaseRunning, PodIP: "10.42.0.7",
				Containers: []events.ContainerStatus{
					{Name: "web", State: events.ContainerRunning, Ready: true, RestartCount: 1},
					{Name: "log", State: events.ContainerWaiting, Reason: "ErrImagePull", Message: "not found"},
				}},
				"Running on node-1, IP 10.42.0.7: web running, ready, 1 restart; log waiting (ErrImagePull: not found)"},
			{&events.PodStatusObserved{Node: "node-1", Phase: events.PhaseFailed,
				Containers: []events.ContainerStatus{{Name: "job", State: events.ContainerTerminated, Reason: "Error", ExitCode: ptrInt32(3), RestartCount: 2}}},
				"Failed on node-1: job terminated (Error: exit code 3), 2 restarts"},
			{&events.PodStatusObserved{Node: "node-1", Phase: events.PhasePending, Reason: "SandboxCreateError", Message: "no IPs left"},
				"Pending (SandboxCreateError) on node-1, no IPs left"},
		},
		events.TypePodReleased: {{&events.PodReleased{Reason: "owner replicaset web-7c9f deleted with propagation Orphan"},
			"released: owner replicaset web-7c9f deleted with propagation Orphan"}},
		events.TypePodAdopted: {{&events.PodAdopted{Owner: events.OwnerRef{Kind: "replicaset", Name: "web", UID: "u"}}, "adopted by replicaset web"}},
		events.TypePodRemoved: {{&events.PodRemoved{Node: "node-1", Epoch: 2}, "removed from node-1 (epoch 2)"}},
		events.TypeNodeRegistered: {{&events.NodeRegistered{Node: node},
			"registered: node-1 cpu 8, memory 16Gi, pods 110, runtime containerd, address 10.0.0.1, pod CIDR 10.42.0.0/24"}},
		events.TypeNodeHeartbeat: {
			{&events.NodeHeartbeat{Node: node, Pods: 3}, "alive: 3 pods"},
			{&events.NodeHeartbeat{Node: node, Pods: 1}, "alive: 1 pod"},
		},
		events.TypeIntentCordon: {
			{&events.IntentCordon{Node: "node-1", Unschedulable: true}, "cordon node node-1"},
			{&events.IntentCordon{Node: "node-1"}, "uncordon node node-1"},
		},
		events.TypeLogLossAccepted: {
			{&events.LogLossAccepted{Stream: "GANTRY_DECISIONS", Lost: []events.SeqRange{{From: 76, To: 150}, {From: 152, To: 152}}, LastSeq: 160,
				ResetReaders: []string{"consumer node-a"}},
				"loss accepted: GANTRY_DECISIONS 76–150,152 lost, ends at 160; reset consumer node-a"},
		},
		events.TypeWorkloadDecided: {{&events.WorkloadDecided{Kind: "replicaset", Namespace: "default", Name: "web-7c9f", Generation: 2,
			Owner: &events.OwnerRef{Kind: "deployment", Name: "web", UID: "u"}}, "replicaset default/web-7c9f generation 2 for deployment web"}},
		events.TypeWorkloadDeleted: {{&events.WorkloadDeleted{Kind: "job", Namespace: "default", Name: "pi", Reason: "finished 100s ago (ttlSecondsAfterFinished)"},
			"deleted job default/pi: finished 100s ago (ttlSecondsAfterFinished)"}},
		events.TypeWorkloadStatus: {
			{&events.WorkloadStatusDecided{Kind: "job", Namespace: "default", Name: "pi",
				Conditions: []manifest.Condition{{Type: "Failed", Status: "True", Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}},
				"job default/pi: Failed=True (BackoffLimitExceeded): Job has reached the specified backoff limit"},
			{&events.WorkloadStatusDecided{Kind: "job", Namespace: "default", Name: "pi"}, "job default/pi status"},
		},
		events.TypeNodeCordoned: {
			{&events.NodeCordoned{Node: "node-1", Unschedulable: true}, "cordoned: no new pods on node-1"},
			{&events.NodeCordoned{Node: "node-1"}, "uncordoned: node-1 takes new pods"},
		},
		events.TypeServiceAllocated: {
			{&events.ServiceAllocated{Namespace: "default", Name: "web", UID: "s1", ClusterIP: "10.43.0.10", NodePorts: []int32{30080, 0},
				Ingress: []string{"10.0.0.1", "10.0.0.2"}}, "service default/web: cluster IP 10.43.0.10, node ports 30080, ingress 10.0.0.1,10.0.0.2"},
			{&events.ServiceAllocated{Namespace: "default", Name: "db", UID: "s2"}, "service default/db allocated nothing (headless)"},
			{&events.ServiceAllocated{Namespace: "default", Name: "web", UID: "s1", Released: true}, "service default/web released its cluster IP and node ports"},
			{&events.ServiceAllocated{Namespace: "default", Name: "b", UID: "s3", Refused: "spec.clusterIP: 10.43.0.10 is in use by service default/a"},
				"service default/b refused: spec.clusterIP: 10.43.0.10 is in use by service default/a"},
		},
		events.TypeNodeCIDRRequested: {
			{&events.NodeCIDRRequested{Node: "node-1"}, "node node-1 asks for a pod CIDR"},
			{&events.NodeCIDRRequested{Node: "node-1", Requested: "10.42.7.0/24"}, "node node-1 asks for pod CIDR 10.42.7.0/24"},
		},
		events.TypeNodeCIDRAllocated: {
			{&events.NodeCIDRAllocated{Node: "node-1", PodCIDR: "10.42.0.0/24"}, "node node-1 pod CIDR 10.42.0.0/24"},
			{&events.NodeCIDRAllocated{Node: "node-2", Refused: "pod CIDR 10.42.0.0/24 overlaps node node-1's"},
				"node node-2 pod CIDR refused: pod CIDR 10.42.0.0/24 overlaps node node-1's"},
		},
		events.TypeConfigDelivered: {
			{&events.ConfigDelivered{Node: "node-1", Namespace: "default", Kind: "secret", Name: "db", Exists: true, Revision: 42,
				Sealed: &sealed.Box{KeyID: "k", Data: []byte("x")}}, "secret default/db revision 42 delivered to node node-1"},
			{&events.ConfigDelivered{Node: "node-1", Namespace: "default", Kind: "configmap", Name: "web", Revision: 7},
				"configmap default/web does not exist (told node node-1)"},
			{&events.ConfigDelivered{Node: "node-1", Namespace: "default", Kind: "configmap", Name: "web", Withdrawn: true},
				"configmap default/web withdrawn from node node-1"},
		},
		events.TypeNodeState: {
			{&events.NodeStateDecided{Node: "node-1", Ready: true, Reason: "NodeAgentReady"}, "node node-1 is Ready"},
			{&events.NodeStateDecided{Node: "node-1", Reason: "NodeStatusUnknown", Message: "node agent stopped posting heartbeats (none for 40s)"},
				"node node-1 is NotReady (NodeStatusUnknown): node agent stopped posting heartbeats (none for 40s)"},
		},
	}
	for _, typ := range events.Types() {
		cs, ok := cases[typ]
		if !ok {
			t.Errorf("no summary test for %s", typ)
			continue
		}
		for _, c := range cs {
			if c.ev.Type() != typ {
				t.Fatalf("case for %s holds a %s", typ, c.ev.Type())
			}
			// Through the log and back, as readers see it.
			env, err := events.Seal(c.ev, events.Meta{ID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := env.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(dec); got != c.want {
				t.Errorf("%s:\n got %q\nwant %q", typ, got, c.want)
			}
		}
	}
	if len(cases) != len(events.Types()) {
		t.Errorf("cases for %d types, registry has %d", len(cases), len(events.Types()))
	}
}

func TestShortType(t *testing.T) {
	tests := map[string]string{
		events.TypePodBound:          "PodBound",
		events.TypeAdmissionRejected: "AdmissionRejected",
		events.TypeNodeHeartbeat:     "NodeHeartbeat",
		"gantry.future.thing.v9":     "gantry.future.thing.v9",
	}
	for typ, want := range tests {
		if got := shortType(typ); got != want {
			t.Errorf("shortType(%s) = %q, want %q", typ, got, want)
		}
	}
}
