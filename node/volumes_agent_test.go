package node_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
)

// switchVolumes is a node.Volumes whose answer the test sets.
type switchVolumes struct {
	mu      sync.Mutex
	err     error
	removed []string
}

func (v *switchVolumes) set(err error) { v.mu.Lock(); v.err = err; v.mu.Unlock() }

func (v *switchVolumes) Prepare(_ context.Context, pod node.Pod, _ string, _ node.Sources) (node.Pod, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return pod, v.err
}

func (v *switchVolumes) Sync(context.Context, []node.Pod, node.Sources) {}

func (v *switchVolumes) Collect(context.Context, func(string) bool) error { return nil }

func (v *switchVolumes) Remove(_ context.Context, uid string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.removed = append(v.removed, uid)
	return nil
}

// A container whose volumes wait stays ContainerCreating; one whose
// ConfigMap does not exist is CreateContainerConfigError with Kubernetes'
// message; once it exists the container starts; a removed pod's volumes go.
func TestAgentHoldsContainersOnTheirVolumes(t *testing.T) {
	conn, url := bustest.Start(t)
	vols := &switchVolumes{err: fmt.Errorf("%w: waiting for configmap default/app", node.ErrVolumesPending)}
	runSimAgent(t, url, node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", ResyncEvery: 20 * time.Millisecond,
		HeartbeatEvery: 50 * time.Millisecond, BackoffBase: 50 * time.Millisecond, Volumes: vols}, zerolog.Nop())
	bind(t, conn.JS, "n1", 1)
	last := func() *events.PodStatusObserved {
		var st *events.PodStatusObserved
		for _, s := range read(t, conn.JS, events.StreamObservations, events.ObsPodSubject("n1", "*", "*")) {
			if o, ok := s.ev.(*events.PodStatusObserved); ok {
				st = o
			}
		}
		return st
	}
	waiting := func(reason, message string) func() bool {
		return func() bool {
			st := last()
			return st != nil && len(st.Containers) == 1 && st.Containers[0].State == events.ContainerWaiting &&
				st.Containers[0].Reason == reason && st.Containers[0].Message == message
		}
	}
	eventually(t, "web-01 ContainerCreating", waiting("ContainerCreating", ""))
	vols.set(node.ConfigErrorf("configmap %q not found", "app"))
	eventually(t, "web-01 CreateContainerConfigError", waiting("CreateContainerConfigError", `configmap "app" not found`))
	vols.set(nil)
	eventually(t, "web-01 running", func() bool {
		st := last()
		return st != nil && len(st.Containers) == 1 && st.Containers[0].State == events.ContainerRunning
	})
	appendDecision(t, conn.JS, "n1", "web-01", "test", events.DeriveID("delete/web-01"),
		&events.PodDeleted{Namespace: "default", Name: "web-01", UID: "uid-00000001", Node: "n1", Epoch: 1, Reason: "test"})
	eventually(t, "web-01's volumes removed", func() bool {
		vols.mu.Lock()
		defer vols.mu.Unlock()
		return len(vols.removed) == 1 && vols.removed[0] == "uid-00000001"
	})
}
