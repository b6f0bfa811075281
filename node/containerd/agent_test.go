package containerd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// The node agent on containerd, as the log sees it: a container that exits 1
// is restarted at once, then waits out its back-off in CrashLoopBackOff with
// its last state (exit code 1, Error); a container over its memory limit is
// reported OOMKilled.
func TestAgentReportsCrashLoopAndOOMKilled(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	conn, url := bustest.Start(t)
	nc, err := bus.Connect(url, "node-test-node")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	limit, err := manifest.ParseQuantity("32Mi")
	if err != nil {
		t.Fatal(err)
	}
	crash := testPod(t, manifest.Container{Name: "crash", Image: demoImage, Env: []manifest.EnvVar{{Name: "HELLO_EXIT_CODE", Value: "1"}}})
	oom := testPod(t, manifest.Container{Name: "hog", Image: demoImage,
		Env:       []manifest.EnvVar{{Name: "HELLO_ALLOCATE", Value: "128Mi"}},
		Resources: manifest.ResourceRequirements{Limits: map[string]manifest.Quantity{"memory": limit}}})
	oom.Spec.RestartPolicy = "Never"
	for _, p := range []node.Pod{crash, oom} {
		removeAtEnd(t, func() *Runtime { return r }, p)
		bindPod(t, conn.JS, "test-node", p)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	a := node.New(node.Config{Name: "test-node", PodCIDR: testCIDR, ResyncEvery: 200 * time.Millisecond, HeartbeatEvery: time.Second},
		r, nc, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	})

	status := func(p node.Pod) events.ContainerStatus {
		t.Helper()
		st, err := conn.JS.Stream(context.Background(), events.StreamObservations)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(context.Background(), events.ObsPodSubject("test-node", p.Namespace, p.Name))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return events.ContainerStatus{}
		}
		if err != nil {
			t.Fatal(err)
		}
		env, err := events.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := ev.(*events.PodStatusObserved); ok && len(s.Containers) == 1 {
			return s.Containers[0]
		}
		return events.ContainerStatus{}
	}

	var c events.ContainerStatus
	eventually(t, "the crashing container in CrashLoopBackOff", 30*time.Second, func() bool {
		c = status(crash)
		return c.State == events.ContainerWaiting && c.Reason == "CrashLoopBackOff"
	})
	if l := c.LastState; c.RestartCount != 1 || l == nil || l.ExitCode != 1 || l.Reason != "Error" || l.FinishedAt.IsZero() {
		t.Errorf("crash loop: %+v, last state %+v; want 1 restart (the first at once), last state exit code 1, Error", c, l)
	}
	eventually(t, "the hog OOMKilled", 30*time.Second, func() bool {
		c = status(oom)
		return c.State == events.ContainerTerminated
	})
	if c.Reason != "OOMKilled" || c.ExitCode == nil || *c.ExitCode != 137 {
		t.Errorf("hog: %+v, want terminated, OOMKilled, exit code 137", c)
	}
}

// bindPod appends the binding of pod to nodeName, as the scheduler does.
func bindPod(t *testing.T, js jetstream.JetStream, nodeName string, p node.Pod) {
	t.Helper()
	ev := &events.PodBound{Node: nodeName, Epoch: 1, Pod: events.PodPlanned{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Spec: p.Spec}}
	id := events.DeriveID("bind/" + p.UID)
	env, err := events.Seal(ev, events.Meta{ID: id, Source: "scheduler", Subject: p.Namespace + "/" + p.Name, Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	o := bus.Outgoing{Subject: events.NodePodSubject(nodeName, p.Namespace, p.Name), Envelope: env, MsgID: id}
	if _, err := bus.PublishOne(context.Background(), js, o); err != nil {
		t.Fatal(fmt.Errorf("bind %s: %w", p.Name, err))
	}
}
