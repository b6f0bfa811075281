package sim

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// An init container runs for InitRunFor and exits 0; one whose environment
// asks for an exit code exits with it; a container of the same image runs on.
func TestInitContainerCompletes(t *testing.T) {
	clock := newFakeClock()
	rt, err := New(Config{PodCIDR: "10.9.8.0/24", InitRunFor: 2 * time.Second, Clock: clock.Now, AfterFunc: clock.AfterFunc})
	if err != nil {
		t.Fatal(err)
	}
	fetch := manifest.Container{Name: "fetch", Image: "gantry.local/hello:v1"}
	fail := manifest.Container{Name: "fail", Image: "gantry.local/hello:v1", Env: []manifest.EnvVar{{Name: "HELLO_EXIT_CODE", Value: "3"}}}
	app := manifest.Container{Name: "app", Image: "gantry.local/hello:v1"}
	pod := node.Pod{Namespace: "default", Name: "p", UID: "uid-00000001",
		Spec: manifest.PodSpec{InitContainers: []manifest.Container{fetch, fail}, Containers: []manifest.Container{app}}}
	ctx := context.Background()
	if _, err := rt.CreateSandbox(ctx, pod); err != nil {
		t.Fatal(err)
	}
	for _, c := range []manifest.Container{fetch, fail, app} {
		if err := rt.StartContainer(ctx, pod, c); err != nil {
			t.Fatal(err)
		}
	}
	state := func() map[string]node.ContainerState {
		p, _, err := rt.Pod(ctx, pod.UID)
		if err != nil {
			t.Fatal(err)
		}
		return p.ByName()
	}
	if s := state(); !s["fetch"].Running || !s["fail"].Exited || s["fail"].ExitCode != 3 {
		t.Fatalf("at once: %+v", s)
	}
	clock.Advance(1999 * time.Millisecond)
	if s := state(); !s["fetch"].Running {
		t.Fatalf("after 1.999 s: fetch %+v, want running", s["fetch"])
	}
	clock.Advance(time.Millisecond)
	s := state()
	if c := s["fetch"]; !c.Exited || c.ExitCode != 0 || c.FinishedAt.Sub(c.StartedAt) != 2*time.Second {
		t.Errorf("after 2 s: fetch %+v, want exited 0 after 2 s", c)
	}
	if !s["app"].Running {
		t.Errorf("app %+v, want running on", s["app"])
	}
}
