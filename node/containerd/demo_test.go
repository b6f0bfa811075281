package containerd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/deploy/images"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
)

// demoImage is the demo image (deploy/images/hello), built as `go tool task
// image` builds it, under a name of the tests' own.
const demoImage = "gantry.test/hello:v1"

var (
	demoOnce sync.Once
	demoTar  []byte
	demoErr  error
)

// importDemoImage builds the demo image once per test binary and imports it
// into r's namespace.
func importDemoImage(t *testing.T, r *Runtime) {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gantry-demo-")
		if err != nil {
			demoErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "hello.oci.tar")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if demoErr = images.Build(ctx, images.BuildOptions{Dir: "../../deploy/images/hello", Ref: demoImage, Out: out}); demoErr != nil {
			return
		}
		demoTar, demoErr = os.ReadFile(out)
	})
	if demoErr != nil {
		t.Fatalf("demo image: %v", demoErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if names, err := r.ImportImage(ctx, bytes.NewReader(demoTar)); err != nil || len(names) != 1 || names[0] != demoImage {
		t.Fatalf("import the demo image: %v %v", names, err)
	}
}

// The demo image with HELLO_RUN_FOR, HELLO_EXIT_CODE and HELLO_FAIL_TIMES:
// its first run fails with HELLO_FAIL_CODE, the restarted instance sees
// GANTRY_RESTART_COUNT=1 and exits with HELLO_EXIT_CODE after its time; each
// instance's log says which run it was.
func TestDemoImageRunsForThenExitsAndFailsFirstRuns(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	job := manifest.Container{Name: "job", Image: demoImage, Env: []manifest.EnvVar{
		{Name: "HELLO_RUN_FOR", Value: "700ms"}, {Name: "HELLO_EXIT_CODE", Value: "3"},
		{Name: "HELLO_FAIL_TIMES", Value: "1"}, {Name: "HELLO_FAIL_CODE", Value: "7"},
		{Name: "HELLO_TICK", Value: "300ms"},
	}}
	pod := testPod(t, job)
	runPod(t, r, pod)

	waitExit := func(restarts, code int32) node.ContainerState {
		t.Helper()
		var c node.ContainerState
		eventually(t, "the demo container to exit", 20*time.Second, func() bool {
			c = containerState(t, r, pod.UID, "job")
			return c.Exited && c.Restarts == restarts
		})
		if c.ExitCode != code {
			t.Fatalf("run %d: %+v, want exit code %d", restarts+1, c, code)
		}
		if ran := c.FinishedAt.Sub(c.StartedAt); ran < 600*time.Millisecond {
			t.Errorf("run %d lasted %s, want about 700ms", restarts+1, ran)
		}
		return c
	}
	logs := func(previous bool) string {
		t.Helper()
		var b bytes.Buffer
		if err := r.Logs(context.Background(), pod.Namespace, pod.Name, "job", node.LogOptions{Previous: previous}, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	waitExit(0, 7)
	if err := r.StartContainer(context.Background(), pod, job); err != nil {
		t.Fatal(err)
	}
	waitExit(1, 3)
	for _, tc := range []struct {
		previous bool
		want     []string
	}{
		{true, []string{"hello: run 1: failing run 1 of 1 (HELLO_FAIL_TIMES=1), exits with 7 after 700ms",
			"hello: tick 1", "hello: tick 2", "hello: exiting with code 7 after 700ms"}},
		{false, []string{"hello: run 2: exits with 3 after 700ms",
			"hello: tick 1", "hello: tick 2", "hello: exiting with code 3 after 700ms"}},
	} {
		got := logs(tc.previous)
		rest := got
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Fatalf("log (previous %v) lacks %q in order:\n%s", tc.previous, w, got)
			}
			rest = rest[i+len(w):]
		}
		if strings.Contains(got, "tick 3") {
			t.Errorf("log (previous %v) ticks at or after the exit:\n%s", tc.previous, got)
		}
	}
}

// The demo image holding more memory (HELLO_ALLOCATE) than its container's
// limit is killed by the kernel's OOM killer: the runtime reads it from the
// task's memory cgroup, and after a restart keeps how the killed instance
// ended as the container's last state. A run that exits 1 by itself is not
// OOMKilled.
func TestDemoImageOverItsMemoryLimitIsOOMKilled(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	importDemoImage(t, r)
	limit, err := manifest.ParseQuantity("32Mi")
	if err != nil {
		t.Fatal(err)
	}
	hog := manifest.Container{Name: "hog", Image: demoImage,
		Env:       []manifest.EnvVar{{Name: "HELLO_ALLOCATE", Value: "128Mi"}},
		Resources: manifest.ResourceRequirements{Limits: map[string]manifest.Quantity{"memory": limit}}}
	crash := manifest.Container{Name: "crash", Image: demoImage, Env: []manifest.EnvVar{{Name: "HELLO_EXIT_CODE", Value: "1"}}}
	pod := testPod(t, hog, crash)
	runPod(t, r, pod)

	exited := func(name string, restarts int32) node.ContainerState {
		t.Helper()
		var c node.ContainerState
		eventually(t, name+" to exit", 20*time.Second, func() bool {
			c = containerState(t, r, pod.UID, name)
			return c.Exited && c.Restarts == restarts
		})
		return c
	}
	if c := exited("hog", 0); c.ExitCode != 137 || !c.OOMKilled {
		t.Fatalf("hog: %+v, want exit code 137, OOMKilled", c)
	}
	if c := exited("crash", 0); c.ExitCode != 1 || c.OOMKilled {
		t.Fatalf("crash: %+v, want exit code 1, not OOMKilled", c)
	}

	// Restarted: the instance before is the last state, kept in a label.
	for _, c := range []manifest.Container{hog, crash} {
		if err := r.StartContainer(context.Background(), pod, c); err != nil {
			t.Fatal(err)
		}
	}
	hogAgain, crashAgain := exited("hog", 1), exited("crash", 1)
	if l := hogAgain.Last; l == nil || l.ExitCode != 137 || !l.OOMKilled || l.StartedAt.IsZero() || l.FinishedAt.Before(l.StartedAt) {
		t.Errorf("hog's last state: %+v, want the OOM kill", l)
	}
	if l := crashAgain.Last; l == nil || l.ExitCode != 1 || l.OOMKilled || l.StartedAt.IsZero() || l.FinishedAt.IsZero() {
		t.Errorf("crash's last state: %+v, want exit code 1", l)
	}
	if !hogAgain.OOMKilled {
		t.Errorf("hog's second run: %+v, want OOMKilled again", hogAgain)
	}
}
