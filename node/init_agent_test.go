package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
)

// The agent on the simulated runtime runs a pod's init containers one after
// another to completion, then its container; a restarted agent does not run
// them again. With restartPolicy Never a failing init container fails the
// pod.
func TestInitContainersOnTheSimulatedRuntime(t *testing.T) {
	conn, url := bustest.Start(t)
	initC := func(name string, env ...manifest.EnvVar) manifest.Container {
		return manifest.Container{Name: name, Image: "img", Env: env}
	}
	bindSpec := func(name, uid string, spec manifest.PodSpec) {
		appendDecision(t, conn.JS, "n1", name, "scheduler", events.DeriveID("bind/"+name),
			&events.PodBound{Node: "n1", Epoch: 1, Pod: events.PodPlanned{Namespace: "default", Name: name, UID: uid, Spec: spec}})
	}
	bindSpec("web", "uid-00000001", manifest.PodSpec{
		InitContainers: []manifest.Container{initC("fetch"), initC("migrate")},
		Containers:     []manifest.Container{{Name: "app", Image: "img"}}})
	bindSpec("bad", "uid-00000002", manifest.PodSpec{RestartPolicy: manifest.RestartNever,
		InitContainers: []manifest.Container{initC("fetch", manifest.EnvVar{Name: "HELLO_EXIT_CODE", Value: "3"})},
		Containers:     []manifest.Container{{Name: "app", Image: "img"}}})

	simRT, err := sim.New(sim.Config{MilliCPU: 4000, Memory: 8 << 30, PodCIDR: "10.42.0.0/24", InitRunFor: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rt := &counting{Runtime: simRT}
	start := func() (stop func()) { return startAgent(t, url, rt) } // probe_agent_test.go
	// newest is the newest status reported of pod name.
	newest := func(name string) *events.PodStatusObserved {
		var last *events.PodStatusObserved
		for _, s := range read(t, conn.JS, events.StreamObservations, events.ObsPodSubject("n1", "default", name)) {
			if st, ok := s.ev.(*events.PodStatusObserved); ok {
				last = st
			}
		}
		return last
	}
	// started is what the runtime holds of pod uid's containers, by name.
	started := func(uid string) map[string]node.ContainerState {
		p, _, err := rt.Pod(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		return p.ByName()
	}

	stop := start()
	eventually(t, "web Running after its init containers", func() bool {
		st := newest("web")
		return st != nil && st.Phase == events.PhaseRunning && len(st.InitContainers) == 2
	})
	eventually(t, "bad Failed", func() bool {
		st := newest("bad")
		return st != nil && st.Phase == events.PhaseFailed
	})
	stop()

	st := newest("web")
	for _, c := range st.InitContainers {
		if c.State != events.ContainerTerminated || c.Reason != "Completed" || !c.Ready {
			t.Errorf("web init container %s: %+v, want terminated Completed and ready", c.Name, c)
		}
	}
	cs := started("uid-00000001")
	if !cs["fetch"].FinishedAt.After(cs["fetch"].StartedAt) || cs["migrate"].StartedAt.Before(cs["fetch"].FinishedAt) ||
		cs["app"].StartedAt.Before(cs["migrate"].FinishedAt) {
		t.Errorf("not one after another: fetch %v–%v, migrate %v–%v, app %v", cs["fetch"].StartedAt, cs["fetch"].FinishedAt,
			cs["migrate"].StartedAt, cs["migrate"].FinishedAt, cs["app"].StartedAt)
	}
	bad := newest("bad")
	if len(bad.InitContainers) != 1 || bad.InitContainers[0].Reason != "Error" || bad.Containers[0].Reason != "PodInitializing" {
		t.Errorf("bad: %+v", bad)
	}
	if got := started("uid-00000002"); got["fetch"].Restarts != 0 || len(got) != 1 {
		t.Errorf("bad's init container ran again or its app started: %+v", got)
	}

	// A restarted agent finds the init containers exited 0 and leaves them.
	from := rt.lists.Load()
	stop = start()
	eventually(t, "the restarted agent to reconcile 3 times", func() bool { return rt.lists.Load() >= from+3 })
	stop()
	again := started("uid-00000001")
	for _, n := range []string{"fetch", "migrate"} {
		if again[n].Restarts != 0 || !again[n].StartedAt.Equal(cs[n].StartedAt) {
			t.Errorf("init container %s ran again after the agent restarted: %+v, was %+v", n, again[n], cs[n])
		}
	}
}
