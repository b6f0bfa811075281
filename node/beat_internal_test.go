package node

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// A heartbeat with its info encoded once reads back as the NodeHeartbeat it
// stands for, byte for byte as events.Marshal writes one.
func TestABeatIsANodeHeartbeat(t *testing.T) {
	at := time.Unix(1_000_000, 0).UTC()
	info := events.NodeInfo{Name: "n1", Labels: map[string]string{"zone": "a", "kubernetes.io/hostname": "n1"},
		Capacity: map[string]int64{"cpu": 4000, "pods": 110}, Allocatable: map[string]int64{"cpu": 4000, "pods": 110},
		Runtime: "simulated", Taints: []manifest.Taint{{Key: "k", Effect: manifest.TaintNoSchedule}}, CreatedAt: &at, FenceAfterMillis: 5000}
	raw, err := events.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Marshal(beatEvent{info: raw, pods: 7})
	if err != nil {
		t.Fatal(err)
	}
	want, err := events.Marshal(&events.NodeHeartbeat{Node: info, Pods: 7})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("beat %s\nwant %s", got, want)
	}
	env, err := events.Seal(beatEvent{info: raw, pods: 7}, events.Meta{ID: "x", Time: at})
	if err != nil || env.Type != events.TypeNodeHeartbeat {
		t.Fatalf("sealed %+v, %v", env, err)
	}
}
