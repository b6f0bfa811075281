package containerd

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/network"
)

// The tests run real containers with containerd, runc and the CNI plugins.
// Each test run has its own containerd namespace, bridge and pod subnet, so
// it never meets the pods of a running agent or of another test run.

const testImage = "gantry.test/app:v1"

var (
	testNamespace = fmt.Sprintf("gantry-test-%d", os.Getpid())
	testBridge    = fmt.Sprintf("gtc%d", os.Getpid())
	testCIDR      = fmt.Sprintf("10.42.%d.0/24", 100+os.Getpid()%100)
)

var (
	imageOnce sync.Once
	imageTar  []byte // OCI layout tarball of the test image
	imageApp  []byte // the static binary in it
	imageErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	cleanupTestRun()
	os.Exit(code)
}

// cleanupTestRun deletes the run's images, namespace and bridge.
func cleanupTestRun() {
	c, err := client.New(DefaultAddress)
	if err == nil {
		ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), testNamespace), 30*time.Second)
		defer cancel()
		if imgs, err := c.ImageService().List(ctx); err == nil {
			for i, img := range imgs {
				var opts []images.DeleteOpt
				if i == len(imgs)-1 {
					opts = append(opts, images.SynchronousDelete())
				}
				c.ImageService().Delete(ctx, img.Name, opts...)
			}
		}
		if err := c.NamespaceService().Delete(ctx, testNamespace); err != nil {
			fmt.Fprintf(os.Stderr, "cleanup: namespace %s: %v\n", testNamespace, err)
		}
		c.Close()
	}
	exec.Command("ip", "link", "del", testBridge).Run()
	if err := network.RemoveMasqueradeRule(context.Background(), testCIDR, testBridge); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
	}
	// containerd leaves the namespace's empty cgroups behind.
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", testNamespace))
	for _, d := range dirs {
		os.Remove(d)
	}
}

// buildImage compiles testdata/app statically and packs it as an OCI layout
// tarball naming testImage.
func buildImage(t *testing.T) []byte {
	t.Helper()
	imageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gantry-app-")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "app")
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/app")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if out, err := cmd.CombinedOutput(); err != nil {
			imageErr = fmt.Errorf("build test app: %v\n%s", err, out)
			return
		}
		imageApp, err = os.ReadFile(bin)
		if err != nil {
			imageErr = err
			return
		}
		img, err := appImage(imageApp)
		if err != nil {
			imageErr = err
			return
		}
		imageTar, imageErr = ociTarball(img, testImage, filepath.Join(dir, "layout"))
	})
	if imageErr != nil {
		t.Fatalf("test image: %v", imageErr)
	}
	return imageTar
}

func appImage(app []byte) (v1.Image, error) {
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(app)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(app); err != nil {
		return nil, err
	}
	for _, d := range []string{"etc/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := layer.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = []string{"/app"}
	cf.Config.Env = []string{"PATH=/", "FROM_IMAGE=yes"}
	return mutate.ConfigFile(img, cf)
}

// ociTarball writes img as an OCI layout under dir, annotated with name, and
// returns the layout as a tarball.
func ociTarball(img v1.Image, name, dir string) ([]byte, error) {
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": name})); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func testConfig(stateDir string) Config {
	return Config{
		Namespace:   testNamespace,
		StateDir:    stateDir,
		PodCIDR:     testCIDR,
		BridgeName:  testBridge,
		NodeName:    "test-node",
		StopTimeout: 2 * time.Second,
		PullTimeout: 3 * time.Second,
		DNSServers:  []string{"192.0.2.53"},
	}
}

// newRuntime makes a runtime over stateDir with the test image imported. The
// tests fail, never skip, when the machine cannot run them.
func newRuntime(t *testing.T, stateDir string) *Runtime {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the containerd runtime tests need root (network namespaces, CNI, containerd's socket)")
	}
	tarball := buildImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := New(ctx, testConfig(stateDir), zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatalf("containerd runtime: %v (is containerd running? start it with `nohup containerd >/var/log/containerd.log 2>&1 &`)", err)
	}
	t.Cleanup(func() { r.Close() })
	names, err := r.ImportImage(ctx, bytes.NewReader(tarball))
	if err != nil {
		t.Fatalf("import test image: %v", err)
	}
	if len(names) != 1 || names[0] != testImage {
		t.Fatalf("imported %v, want [%s]", names, testImage)
	}
	return r
}

var podSeq struct {
	sync.Mutex
	n int
}

// testPod is a pod with a unique name and uid.
func testPod(t *testing.T, containers ...manifest.Container) node.Pod {
	podSeq.Lock()
	podSeq.n++
	n := podSeq.n
	podSeq.Unlock()
	name := fmt.Sprintf("p%d-%d", os.Getpid(), n)
	return node.Pod{
		Namespace: "test",
		Name:      name,
		UID:       fmt.Sprintf("uid-%d-%d-%d", os.Getpid(), n, time.Now().UnixNano()%1_000_000),
		Epoch:     1,
		Spec:      manifest.PodSpec{Containers: containers},
	}
}

func webContainer() manifest.Container {
	return manifest.Container{Name: "web", Image: testImage}
}

// runPod creates the pod's sandbox and starts its containers, and removes the
// pod when the test ends.
func runPod(t *testing.T, r *Runtime, pod node.Pod) string {
	t.Helper()
	removeAtEnd(t, func() *Runtime { return r }, pod)
	return startPod(t, r, pod)
}

// removeAtEnd removes pod with the runtime rt returns when the test ends,
// and shows the pod's logs if the test failed.
func removeAtEnd(t *testing.T, rt func() *Runtime, pod node.Pod) {
	t.Cleanup(func() { removePod(t, rt(), pod) })
}

func removePod(t *testing.T, r *Runtime, pod node.Pod) {
	if t.Failed() {
		for _, c := range pod.Spec.Containers {
			var b bytes.Buffer
			r.Logs(context.Background(), pod.Namespace, pod.Name, c.Name, node.LogOptions{}, &b)
			t.Logf("log of %s/%s:\n%s", pod.Name, c.Name, b.String())
		}
	}
	if err := r.RemovePod(context.Background(), pod.Namespace, pod.Name, pod.UID); err != nil {
		t.Errorf("cleanup: %v", err)
	}
}

// startPod creates the pod's sandbox and starts its containers.
func startPod(t *testing.T, r *Runtime, pod node.Pod) string {
	t.Helper()
	ctx := context.Background()
	ip, err := r.CreateSandbox(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pod.Spec.Containers {
		if err := r.StartContainer(ctx, pod, c); err != nil {
			t.Fatal(err)
		}
	}
	return ip
}

// httpGet polls url until it answers 200 or the deadline passes.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		resp, err := hc.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
			err = fmt.Errorf("status %d, read error %v", resp.StatusCode, rerr)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: no answer within 15 s: %v", url, last)
	return ""
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func podState(t *testing.T, r *Runtime, uid string) (node.PodState, bool) {
	t.Helper()
	pods, err := r.Pods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.UID == uid {
			return p, true
		}
	}
	return node.PodState{}, false
}

func containerState(t *testing.T, r *Runtime, uid, name string) node.ContainerState {
	t.Helper()
	p, ok := podState(t, r, uid)
	if !ok {
		t.Fatalf("pod %s not listed", uid)
	}
	for _, c := range p.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("container %s of pod %s not listed: %+v", name, uid, p)
	return node.ContainerState{}
}

func TestPodServesHTTPOnItsIP(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	web := webContainer()
	web.Env = []manifest.EnvVar{{Name: "GREETING", Value: "hi"}}
	web.Resources = manifest.ResourceRequirements{
		Limits:   manifest.ResourceList{"memory": manifest.MustQuantity("64Mi"), "cpu": manifest.MustQuantity("500m")},
		Requests: manifest.ResourceList{"cpu": manifest.MustQuantity("250m")},
	}
	a := testPod(t, web)
	b := testPod(t, webContainer())
	ipA := runPod(t, r, a)
	ipB := runPod(t, r, b)

	_, subnet, _ := net.ParseCIDR(testCIDR)
	for _, ip := range []string{ipA, ipB} {
		if !subnet.Contains(net.ParseIP(ip)) {
			t.Fatalf("pod IP %s is not in %s", ip, testCIDR)
		}
	}
	if ipA == ipB {
		t.Fatalf("two pods got the same IP %s", ipA)
	}
	if got := httpGet(t, "http://"+ipA+":8080/"); got != "hello "+a.Name+"\n" {
		t.Fatalf("pod A answered %q", got)
	}
	if got := httpGet(t, "http://"+ipB+":8080/"); got != "hello "+b.Name+"\n" {
		t.Fatalf("pod B answered %q", got)
	}

	// The sandbox is idempotent.
	again, err := r.CreateSandbox(context.Background(), a)
	if err != nil || again != ipA {
		t.Fatalf("CreateSandbox again = %q, %v; want %s", again, err, ipA)
	}

	// The container sees its pod: hostname, env, its own name in /etc/hosts.
	var info struct {
		Hostname string   `json:"hostname"`
		Env      []string `json:"env"`
		Lookup   []string `json:"lookup"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+ipA+":8080/info")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Hostname != a.Name {
		t.Errorf("hostname %q, want %q", info.Hostname, a.Name)
	}
	for _, want := range []string{"FROM_IMAGE=yes", "GREETING=hi", "POD_NAME=" + a.Name, "POD_NAMESPACE=test", "POD_IP=" + ipA} {
		if !contains(info.Env, want) {
			t.Errorf("env %v lacks %s", info.Env, want)
		}
	}
	if len(info.Lookup) != 1 || info.Lookup[0] != ipA {
		t.Errorf("the pod resolves its own name to %v, want [%s]", info.Lookup, ipA)
	}

	// Resources land in the cgroup (v1 here).
	id := containerID(a.UID, "web")
	cg := func(ctrl, file string) string {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", ctrl, testNamespace, id, file))
		if err != nil {
			t.Fatalf("cgroup: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := cg("memory", "memory.limit_in_bytes"); got != fmt.Sprint(64<<20) {
		t.Errorf("memory limit %s, want %d", got, 64<<20)
	}
	if got := cg("cpu", "cpu.cfs_quota_us"); got != "50000" {
		t.Errorf("cpu quota %s, want 50000", got)
	}
	if got := cg("cpu", "cpu.shares"); got != "256" {
		t.Errorf("cpu shares %s, want 256", got)
	}

	// Pods lists both, running, with their IPs.
	for _, p := range []struct {
		pod node.Pod
		ip  string
	}{{a, ipA}, {b, ipB}} {
		st, ok := podState(t, r, p.pod.UID)
		if !ok {
			t.Fatalf("pod %s not listed", p.pod.Name)
		}
		if st.IP != p.ip || st.Name != p.pod.Name || st.Namespace != "test" || st.Epoch != 1 || len(st.Containers) != 1 {
			t.Fatalf("pod state %+v", st)
		}
		c := st.Containers[0]
		if !c.Running || c.Exited || c.Restarts != 0 || c.Image != testImage || c.StartedAt.IsZero() || c.ID != containerID(p.pod.UID, "web") {
			t.Fatalf("container state %+v", c)
		}
	}

	// Logs has what the server printed.
	var logs bytes.Buffer
	eventually(t, "the log line", 10*time.Second, func() bool {
		logs.Reset()
		if err := r.Logs(context.Background(), "test", a.Name, "web", node.LogOptions{}, &logs); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(logs.String(), "listening on :8080 as "+a.Name)
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRestartedRuntimeAdoptsPods(t *testing.T) {
	state := t.TempDir()
	r1 := newRuntime(t, state)
	pod := testPod(t, webContainer())
	sandboxOnly := testPod(t)
	// Removed by whichever runtime is open when the test ends; deferred,
	// so it runs before the runtimes close.
	var r2 *Runtime
	defer func() {
		r := r1
		if r2 != nil {
			r = r2
		}
		removePod(t, r, pod)
		removePod(t, r, sandboxOnly)
	}()
	ip := startPod(t, r1, pod)
	startPod(t, r1, sandboxOnly)
	httpGet(t, "http://"+ip+":8080/")
	before := containerState(t, r1, pod.UID, "web")
	if err := r1.Close(); err != nil {
		t.Fatal(err)
	}

	r2 = newRuntime(t, state)
	st, ok := podState(t, r2, pod.UID)
	if !ok || st.IP != ip || len(st.Containers) != 1 {
		t.Fatalf("restarted runtime sees %+v (listed %v), want the pod on %s", st, ok, ip)
	}
	after := st.Containers[0]
	if after.ID != before.ID || !after.Running || after.Restarts != 0 || !after.StartedAt.Equal(before.StartedAt) {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	if so, ok := podState(t, r2, sandboxOnly.UID); !ok || so.IP == "" || len(so.Containers) != 0 {
		t.Fatalf("sandbox-only pod: %+v listed %v", so, ok)
	}

	// Starting again what runs changes nothing.
	if err := r2.StartContainer(context.Background(), pod, webContainer()); err != nil {
		t.Fatal(err)
	}
	if ip2, err := r2.CreateSandbox(context.Background(), pod); err != nil || ip2 != ip {
		t.Fatalf("CreateSandbox after restart = %q, %v", ip2, err)
	}
	if c := containerState(t, r2, pod.UID, "web"); !c.StartedAt.Equal(before.StartedAt) || c.Restarts != 0 {
		t.Fatalf("StartContainer restarted a running container: %+v", c)
	}
	if got := httpGet(t, "http://"+ip+":8080/"); got != "hello "+pod.Name+"\n" {
		t.Fatalf("answered %q", got)
	}

	// The adopted task's exit is watched: kill it behind the runtime's back.
	drain(r2.Changes())
	ctx := namespaces.WithNamespace(context.Background(), testNamespace)
	c, err := r2.Client().LoadContainer(ctx, before.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r2.Changes():
	case <-time.After(10 * time.Second):
		t.Fatal("no change signalled for the exit of an adopted container")
	}
	if c := containerState(t, r2, pod.UID, "web"); c.Running || !c.Exited || c.ExitCode != 137 {
		t.Fatalf("after SIGKILL: %+v", c)
	}
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func TestExitedContainerIsRestarted(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	quitter := manifest.Container{Name: "quitter", Image: testImage, Args: []string{"exit", "3"}}
	pod := testPod(t, quitter)
	drain(r.Changes())
	runPod(t, r, pod)

	waitExit := func(wantRestarts int32) node.ContainerState {
		t.Helper()
		var c node.ContainerState
		eventually(t, "the container to exit", 15*time.Second, func() bool {
			c = containerState(t, r, pod.UID, "quitter")
			return c.Exited
		})
		if c.Running || c.ExitCode != 3 || c.Restarts != wantRestarts || c.FinishedAt.IsZero() {
			t.Fatalf("exited container: %+v, want code 3 and %d restarts", c, wantRestarts)
		}
		return c
	}
	select {
	case <-r.Changes():
	case <-time.After(15 * time.Second):
		t.Fatal("no change signalled for the exit")
	}
	first := waitExit(0)
	if err := r.Logs(context.Background(), "test", pod.Name, "quitter", node.LogOptions{Previous: true}, io.Discard); !errors.Is(err, node.ErrNoPreviousLog) {
		t.Fatalf("previous log before any restart: %v, want node.ErrNoPreviousLog", err)
	}
	firstLog := byeLine(t, r, pod, node.LogOptions{})

	if err := r.StartContainer(context.Background(), pod, quitter); err != nil {
		t.Fatal(err)
	}
	second := waitExit(1)
	if second.ID != first.ID || !second.StartedAt.After(first.StartedAt) {
		t.Fatalf("restart: first %+v, second %+v", first, second)
	}
	// Each instance has a log of its own; the one before is kept.
	secondLog := byeLine(t, r, pod, node.LogOptions{})
	if secondLog == firstLog {
		t.Fatalf("the current log after a restart is the first run's: %q", secondLog)
	}
	if prev := byeLine(t, r, pod, node.LogOptions{Previous: true}); prev != firstLog {
		t.Fatalf("previous log %q, want the first run's %q", prev, firstLog)
	}

	// One previous log is kept, as the kubelet does: the second run's.
	if err := r.StartContainer(context.Background(), pod, quitter); err != nil {
		t.Fatal(err)
	}
	waitExit(2)
	if prev := byeLine(t, r, pod, node.LogOptions{Previous: true}); prev != secondLog {
		t.Fatalf("previous log after two restarts %q, want the second run's %q", prev, secondLog)
	}
}

// byeLine is the one exit line of the quitter's log (current or previous).
func byeLine(t *testing.T, r *Runtime, pod node.Pod, opts node.LogOptions) string {
	t.Helper()
	var logs bytes.Buffer
	if err := r.Logs(context.Background(), pod.Namespace, pod.Name, "quitter", opts, &logs); err != nil {
		t.Fatal(err)
	}
	var byes []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.HasPrefix(l, "bye from "+pod.Name+" with 3 at ") {
			byes = append(byes, l)
		}
	}
	if len(byes) != 1 {
		t.Fatalf("log (%+v) has %d exits, want 1 (one instance):\n%s", opts, len(byes), logs.String())
	}
	return byes[0]
}

func TestMissingImageIsErrImageNotFound(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	missing := manifest.Container{Name: "ghost", Image: "gantry.invalid/missing:v1"}
	pod := testPod(t, missing)
	t.Cleanup(func() { r.RemovePod(context.Background(), pod.Namespace, pod.Name, pod.UID) })
	if _, err := r.CreateSandbox(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	err := r.StartContainer(context.Background(), pod, missing)
	if !errors.Is(err, node.ErrImageNotFound) {
		t.Fatalf("err = %v, want node.ErrImageNotFound", err)
	}
	if !strings.Contains(err.Error(), "gantry.invalid/missing:v1") {
		t.Fatalf("error %q does not name the image", err)
	}
	if c, ok := podState(t, r, pod.UID); !ok || len(c.Containers) != 0 {
		t.Fatalf("pod after failed start: %+v listed %v", c, ok)
	}
}

func TestRemovePodLeavesNothing(t *testing.T) {
	state := t.TempDir()
	r := newRuntime(t, state)
	stubborn := manifest.Container{Name: "stubborn", Image: testImage, Args: []string{"sleep"}}
	pod := testPod(t, webContainer(), stubborn)
	ip := runPod(t, r, pod)
	httpGet(t, "http://"+ip+":8080/")

	sb, err := r.loadSandbox(sandboxID(pod.UID))
	if err != nil || sb == nil {
		t.Fatalf("sandbox record: %v %v", sb, err)
	}
	veths := bridgePorts(t)
	if len(veths) == 0 {
		t.Fatal("no veth on the bridge")
	}
	lease := filepath.Join(state, "ipam", "gantry", ip)
	if _, err := os.Stat(lease); err != nil {
		t.Fatalf("IP lease: %v", err)
	}
	logDir := r.logDir(pod.Namespace, pod.Name, pod.UID)
	eventually(t, "the stubborn container to start", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(logDir, "stubborn.log"))
		return strings.Contains(string(b), "ignoring SIGTERM")
	})

	start := time.Now()
	if err := r.RemovePod(context.Background(), pod.Namespace, pod.Name, pod.UID); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 8*time.Second {
		t.Errorf("removal took %v; want SIGKILL after the 2 s stop timeout", d)
	}

	ctx := namespaces.WithNamespace(context.Background(), testNamespace)
	for _, name := range []string{"web", "stubborn"} {
		id := containerID(pod.UID, name)
		if _, err := r.Client().LoadContainer(ctx, id); !errdefs.IsNotFound(err) {
			t.Errorf("container %s: %v, want not found", id, err)
		}
		if _, err := r.Client().SnapshotService(r.cfg.Snapshotter).Stat(ctx, id); !errdefs.IsNotFound(err) {
			t.Errorf("snapshot %s: %v, want not found", id, err)
		}
	}
	if _, err := os.Stat(sb.NetNS); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns %s: %v, want gone", sb.NetNS, err)
	}
	if !strings.HasPrefix(sb.NetNS, "/var/run/netns/") {
		t.Errorf("netns %s is not under /var/run/netns", sb.NetNS)
	}
	for _, v := range veths {
		if err := exec.Command("ip", "link", "show", v).Run(); err == nil {
			t.Errorf("veth %s still exists", v)
		}
	}
	if _, err := os.Stat(lease); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("IP lease %s: %v, want gone", lease, err)
	}
	for _, p := range []string{logDir, r.sandboxDir(sb.ID)} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %v, want gone", p, err)
		}
	}
	if out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S").Output(); strings.Contains(string(out), sb.ID) {
		t.Errorf("masquerade rules of %s left:\n%s", sb.ID, out)
	}
	if _, ok := podState(t, r, pod.UID); ok {
		t.Error("removed pod still listed")
	}
	if err := r.RemovePod(context.Background(), pod.Namespace, pod.Name, pod.UID); err != nil {
		t.Fatalf("second RemovePod: %v", err)
	}
	if err := r.Logs(context.Background(), pod.Namespace, pod.Name, "web", node.LogOptions{}, io.Discard); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("logs of a removed pod: %v", err)
	}
}

// bridgePorts lists the interfaces enslaved to the test bridge.
func bridgePorts(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "link", "show", "master", testBridge).Output()
	if err != nil {
		t.Fatalf("ip link: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			names = append(names, strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
	return names
}

func TestLogsFollow(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	quitter := manifest.Container{Name: "once", Image: testImage, Args: []string{"exit", "0"}}
	pod := testPod(t, quitter)
	runPod(t, r, pod)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- r.Logs(ctx, pod.Namespace, pod.Name, "once", node.LogOptions{Follow: true}, pw)
		pw.Close()
	}()
	lines := make(chan string, 10)
	go func() {
		buf := make([]byte, 4096)
		var acc string
		for {
			n, err := pr.Read(buf)
			acc += string(buf[:n])
			if strings.Count(acc, "bye from") > 0 {
				lines <- acc
				acc = ""
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	select {
	case <-lines:
	case <-time.After(15 * time.Second):
		t.Fatal("followed log did not show the first run")
	}
	// A restart starts a new log; the follower moves on to it.
	eventually(t, "the first run to exit", 10*time.Second, func() bool {
		return containerState(t, r, pod.UID, "once").Exited
	})
	if err := r.StartContainer(context.Background(), pod, quitter); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lines:
	case <-time.After(15 * time.Second):
		t.Fatal("followed log did not show the second run")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Logs: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Logs did not return after its context ended")
	}
}

func TestLostSandboxIsMadeAgain(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	pod := testPod(t, webContainer())
	ip := runPod(t, r, pod)
	httpGet(t, "http://"+ip+":8080/")
	first := containerState(t, r, pod.UID, "web")

	// What a reboot does: the task dies, the namespace and its veth vanish.
	ctx := namespaces.WithNamespace(context.Background(), testNamespace)
	c, err := r.Client().LoadContainer(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	exitc, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exitc
	sb, err := r.loadSandbox(sandboxID(pod.UID))
	if err != nil || sb == nil {
		t.Fatalf("sandbox record: %v %v", sb, err)
	}
	if err := network.RemoveNetNS(sb.NetNS); err != nil {
		t.Fatal(err)
	}

	if err := r.StartContainer(context.Background(), pod, webContainer()); err == nil || !strings.Contains(err.Error(), "create the sandbox again") {
		t.Fatalf("StartContainer without a namespace: %v", err)
	}
	ip2, err := r.CreateSandbox(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(context.Background(), pod, webContainer()); err != nil {
		t.Fatal(err)
	}
	var info struct {
		Env []string `json:"env"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+ip2+":8080/info")), &info); err != nil {
		t.Fatal(err)
	}
	if !contains(info.Env, "POD_IP="+ip2) {
		t.Fatalf("env %v lacks POD_IP=%s", info.Env, ip2)
	}
	second := containerState(t, r, pod.UID, "web")
	if !second.Running || second.Restarts != 1 || second.ID != first.ID {
		t.Fatalf("after the lost sandbox: %+v", second)
	}
	if st, _ := podState(t, r, pod.UID); st.IP != ip2 {
		t.Fatalf("pod IP %s, want %s", st.IP, ip2)
	}
}

func TestImportDockerTarball(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	img, err := appImage(imageApp)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tag, err := name.NewTag("gantry.test/docker:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.Write(tag, img, &buf); err != nil {
		t.Fatal(err)
	}
	names, err := ImportImageTo(context.Background(), "", testNamespace, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "gantry.test/docker:v1" {
		t.Fatalf("names %v", names)
	}
	if _, err := r.ImportImage(context.Background(), strings.NewReader("not a tarball")); err == nil {
		t.Fatal("importing garbage succeeded")
	}
}

func TestUnreachableContainerdIsAClearError(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.Address = filepath.Join(t.TempDir(), "no-containerd.sock")
	start := time.Now()
	_, err := New(context.Background(), cfg, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "not reachable") {
		t.Fatalf("New with no containerd: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("New took %v to give up", d)
	}
}

func TestCapacity(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	capa, err := r.Capacity(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if capa["cpu"] < 1000 || capa["cpu"]%1000 != 0 || capa["memory"] < 64<<20 || capa["pods"] != 110 {
		t.Fatalf("capacity %v", capa)
	}
	if r.Name() != "containerd" {
		t.Fatalf("name %q", r.Name())
	}
}
