// Package e2e runs Gantry end to end on this machine: the real gantry binary,
// real containerd, runc and CNI, containers from the demo image. Nothing is
// mocked. The tests need root and a running containerd; without them they
// fail, never skip, so CI cannot pass without running them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/deploy/images"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/node/network"
)

const imageRef = "gantry.local/hello:v1"

// ctrNS keeps this run's containers apart from a cluster started by hand and
// from another run of these tests: every teardown kills what is in it.
var ctrNS = fmt.Sprintf("gantry-e2e-%d", os.Getpid())

// The run's pods get a bridge and a subnet of their own, apart from those of
// `go tool task up` (gantry0, 10.42.0.0/24) that may run beside the tests,
// and from node/containerd's and node/network's tests (10.42.100–249.0/24).
var (
	podBridge = fmt.Sprintf("gte%d", os.Getpid())
	podCIDR   = fmt.Sprintf("10.42.%d.0/24", 10+os.Getpid()%80)
)

var (
	gantryBin string
	repoRoot  string
	demoTar   string // the demo image as an OCI tarball, for importing into another containerd namespace
)

func TestMain(m *testing.M) {
	code, err := setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: end-to-end setup: %v\n", err)
		os.Exit(1)
	}
	if code == 0 {
		code = m.Run()
	}
	removeNamespace(ctrNS)
	removeBridge()
	os.Exit(code)
}

// removeBridge deletes the run's pod bridge, its masquerade rule and its
// service proxy's nftables table (the rules stay in the kernel when an
// agent stops, by design).
func removeBridge() {
	_ = exec.Command("ip", "link", "del", podBridge).Run()
	_ = exec.Command("nft", "delete", "table", "ip", "gantry-"+podBridge).Run()
	if err := network.RemoveMasqueradeRule(context.Background(), podCIDR, podBridge); err != nil {
		fmt.Fprintf(os.Stderr, "cleanup: %v\n", err)
	}
}

// removeNamespace deletes a containerd namespace of the run, its images
// (the demo image's tags) first (best effort: a namespace that still holds something
// stays, and says so). containerd's garbage collector may still be removing
// the image's snapshots of containers deleted just before: it retries for
// 10 s while the namespace is not yet empty.
func removeNamespace(ns string) {
	_ = exec.Command("ctr", "-n", ns, "images", "rm", "--sync", imageRef, imageRefV2).Run()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ctr", "namespaces", "rm", ns).CombinedOutput()
		if err == nil {
			return
		}
		if !bytes.Contains(out, []byte("must be empty")) || time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "cleanup: containerd namespace %s: %v: %s\n", ns, err, out)
			return
		}
		time.Sleep(200 * time.Millisecond) // polling interval
	}
}

func setup() (int, error) {
	if os.Geteuid() != 0 {
		return 1, fmt.Errorf("the end-to-end tests need root (containerd, network namespaces)")
	}
	if out, err := exec.Command("ctr", "version").CombinedOutput(); err != nil {
		return 1, fmt.Errorf("containerd is not answering (`ctr version`: %v: %s); start it with `go tool task setup` (or `bash deploy/setup/install.sh`)", err, bytes.TrimSpace(out))
	}
	wd, err := os.Getwd()
	if err != nil {
		return 1, err
	}
	repoRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "gantry-e2e-bin-")
	if err != nil {
		return 1, err
	}
	gantryBin = filepath.Join(dir, "gantry")
	build := exec.Command("go", "build", "-o", gantryBin, "./cli/gantry")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("build gantry: %v: %s", err, out)
	}
	tar := filepath.Join(dir, "hello.oci.tar")
	demoTar = tar
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := images.Build(ctx, images.BuildOptions{Dir: filepath.Join(repoRoot, "deploy/images/hello"), Ref: imageRef, Out: tar}); err != nil {
		return 1, fmt.Errorf("build demo image: %w", err)
	}
	imp := exec.Command(gantryBin, "image", "import", "--containerd-namespace", ctrNS, tar)
	if out, err := imp.CombinedOutput(); err != nil {
		return 1, fmt.Errorf("import demo image: %v: %s", err, out)
	}
	return 0, nil
}

// syncBuffer collects a process's output safely.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a long-running gantry process (up, node).
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func (p *proc) kill9(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	<-p.done
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// cluster is one Gantry installation under a test's temp dir.
type cluster struct {
	t       testing.TB
	dataDir string
	listen  string
	url     string
	procs   []*proc
	uids    map[string]bool // every pod uid this cluster has shown
}

func newCluster(t testing.TB) *cluster {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &cluster{t: t, dataDir: t.TempDir(), listen: addr, url: "nats://" + addr, uids: map[string]bool{}}
	t.Cleanup(c.teardown)
	return c
}

// publishAll appends every Outgoing, pipelined, and fails the test unless
// the log stored each one.
func publishAll(ctx context.Context, t testing.TB, conn *bus.Conn, out []bus.Outgoing) {
	t.Helper()
	signIntents(t, out)
	res, err := bus.Publish(ctx, conn.JS, out)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
}

// signerCreds are the admin's credentials of the last `gantry up` started:
// the intents tests write directly are signed with them, as the CLI signs
// its own (docs/security-signing.md). The e2e tests run one at a time.
var signerCreds string

// signIntents signs the intents among out as the admin.
func signIntents(t testing.TB, out []bus.Outgoing) {
	t.Helper()
	if signerCreds == "" || !exists(signerCreds) {
		return // no gantry up, or one with --insecure-no-auth: nothing verifies
	}
	b, err := os.ReadFile(signerCreds)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if strings.HasPrefix(out[i].Subject, "gantry.intent.") {
			out[i].Envelope.Actor = identity.Admin
			if err := events.Sign(&out[i].Envelope, kp); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// start runs a gantry process that keeps running (up, node, sim); a node
// agent gets its node's credentials, the simulator its shared identity's.
func (c *cluster) start(args ...string) *proc {
	c.t.Helper()
	switch args[0] {
	case "node":
		for i, a := range args[:len(args)-1] {
			if a == "--node-name" {
				args = append(args, c.nodeCreds(args[i+1])...)
			}
		}
	case "sim":
		if creds := c.credsPath(identity.Simulator); exists(creds) { // none with --insecure-no-auth (benchmarks)
			args = append(args, "--creds", creds)
		}
	case "up":
		signerCreds = c.credsPath(identity.Admin)
	}
	return c.startCmd(exec.Command(gantryBin, args...), args[0])
}

// config is the client config of this cluster: `gantry up` writes its
// context there, and every client command of the test reads it.
func (c *cluster) config() string { return filepath.Join(c.dataDir, "client-config") }

// credsPath is where `gantry up` keeps the credentials of the named identity.
func (c *cluster) credsPath(name string) string {
	return filepath.Join(c.dataDir, "identity", "creds", identity.FileName(name)+".creds")
}

// controlPlane connects a test as the control plane, to write what no user may.
func (c *cluster) controlPlane() nats.Option {
	creds := c.credsPath(identity.ControlPlane)
	if !exists(creds) {
		return func(*nats.Options) error { return nil } // --insecure-no-auth (benchmarks)
	}
	return nats.UserCredentials(creds)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// nodeCreds issues the node's credentials (gantry node credentials) and
// returns the flag that gives them to `gantry node`.
func (c *cluster) nodeCreds(name string) []string {
	c.t.Helper()
	out, err := exec.Command(gantryBin, "node", "credentials", name, "--data-dir", c.dataDir).CombinedOutput()
	if err != nil {
		c.t.Fatalf("gantry node credentials %s: %v: %s", name, err, out)
	}
	return []string{"--creds", strings.TrimSpace(string(out))}
}

// startCmd runs cmd, a gantry process that keeps running (perhaps through
// a wrapper such as nsenter), named name in the log files.
func (c *cluster) startCmd(cmd *exec.Cmd, name string) *proc {
	c.t.Helper()
	cmd.Env = append(os.Environ(), "GANTRY_NATS="+c.url, "GANTRY_CONFIG="+c.config())
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// GANTRY_E2E_LOGDIR keeps each process's whole output in a file there
	// (gantry-<command>-<n>.log), for looking into a slow or stuck run.
	if dir := os.Getenv("GANTRY_E2E_LOGDIR"); dir != "" {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("gantry-%s-%d.log", name, len(c.procs))))
		if err != nil {
			c.t.Fatal(err)
		}
		c.t.Cleanup(func() { _ = f.Close() })
		cmd.Stdout, cmd.Stderr = io.MultiWriter(out, f), io.MultiWriter(out, f)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p
}

// up starts `gantry up` with the test's data dir; extra args are appended.
func (c *cluster) up(extra ...string) *proc {
	args := append([]string{"up", "--data-dir", c.dataDir, "--listen", c.listen,
		"--node-name", "e2e-node", "--containerd-namespace", ctrNS, "--pod-bridge", podBridge, "--pod-cidr", podCIDR}, extra...)
	p := c.start(args...)
	c.waitFor("gantry up to serve", 60*time.Second, func() bool { return strings.Contains(p.out.String(), "gantry is up") })
	for _, a := range extra {
		if a == "--node=false" {
			return p
		}
	}
	c.waitNodeReady()
	return p
}

func (c *cluster) waitNodeReady() {
	c.t.Helper()
	c.waitFor("the node to be Ready", 60*time.Second, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Contains(out, " Ready ")
	})
}

// gantry runs one client command.
func (c *cluster) gantry(args ...string) (stdout, stderr string, code int) {
	return c.gantryIn("", args...)
}

func (c *cluster) gantryIn(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command(gantryBin, append(args, "--nats", c.url)...)
	cmd.Env = append(os.Environ(), "GANTRY_CONFIG="+c.config())
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("gantry %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func (c *cluster) mustGantry(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.gantry(args...)
	if code != 0 {
		c.t.Fatalf("gantry %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
	}
	return out
}

func (c *cluster) waitFor(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, c.logs())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

func (c *cluster) logs() string {
	var b strings.Builder
	for i, p := range c.procs {
		out := p.out.String()
		if len(out) > 8000 {
			out = "…" + out[len(out)-8000:]
		}
		fmt.Fprintf(&b, "--- process %d (%v) output:\n%s\n", i, p.cmd.Args[1:3], out)
	}
	return b.String()
}

// teardown stops the processes and removes whatever the tests left in
// containerd and the network, so one test cannot disturb the next.
func (c *cluster) teardown() {
	for _, p := range c.procs {
		p.stop()
	}
	removeContainers(ctrNS)
	for _, ns := range append(c.netnsList(), sandboxNetns(c.dataDir)...) {
		_ = exec.Command("ip", "netns", "delete", filepath.Base(ns)).Run()
	}
}

// sandboxNetns lists the network namespaces the node agents under dataDir
// recorded for their sandboxes (node/containerd's sandbox.json), also of
// pods the test never listed.
func sandboxNetns(dataDir string) []string {
	var out []string
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "sandbox.json" {
			return nil
		}
		var rec struct {
			NetNS string `json:"netns"`
		}
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &rec) == nil && rec.NetNS != "" {
			out = append(out, rec.NetNS)
		}
		return nil
	})
	return out
}

// removeContainers kills and deletes the containers in a containerd
// namespace of the run.
func removeContainers(ns string) {
	for _, id := range ctrListIn(ns, "tasks") {
		_ = exec.Command("ctr", "-n", ns, "tasks", "kill", "-s", "SIGKILL", id).Run()
	}
	for _, id := range ctrListIn(ns, "containers") {
		_ = exec.Command("ctr", "-n", ns, "tasks", "delete", "-f", id).Run()
		_ = exec.Command("ctr", "-n", ns, "containers", "delete", id).Run()
	}
}

// ctrList lists ids of containerd objects in the tests' namespace.
func ctrList(what string) []string { return ctrListIn(ctrNS, what) }

// ctrListIn lists ids of containerd objects in namespace ns.
func ctrListIn(ns, what string) []string {
	out, err := exec.Command("ctr", "-n", ns, what, "ls", "-q").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// netnsList lists the network namespaces of this cluster's pods (other
// tests running at the same time have their own).
func (c *cluster) netnsList() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var ns []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && c.uids[strings.TrimPrefix(f[0], "gantry-")] {
			ns = append(ns, f[0])
		}
	}
	return ns
}

// vethsOnBridge lists the interfaces attached to the run's pod bridge.
func vethsOnBridge() []string {
	out, _ := exec.Command("ip", "-o", "link", "show", "master", podBridge).Output()
	var vs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			vs = append(vs, strings.TrimSuffix(f[1], ":"))
		}
	}
	return vs
}

// podJSON is the part of `gantry get pods -o json` the tests read.
type podJSON struct {
	Metadata struct {
		Name            string `json:"name"`
		UID             string `json:"uid"`
		OwnerReferences []struct {
			Name string `json:"name"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		PodIP             string `json:"podIP"`
		ContainerStatuses []struct {
			Name         string `json:"name"`
			ContainerID  string `json:"containerID"`
			RestartCount int    `json:"restartCount"`
			Ready        bool   `json:"ready"`
			State        map[string]struct {
				Reason string `json:"reason"`
			} `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (c *cluster) pods() []podJSON {
	c.t.Helper()
	out := c.mustGantry("get", "pods", "-o", "json")
	var list struct {
		Items []podJSON `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		c.t.Fatalf("get pods -o json: %v\n%s", err, out)
	}
	for _, p := range list.Items {
		c.uids[p.Metadata.UID] = true
	}
	return list.Items
}

// runningPods returns the pods that run with an IP and every container ready.
func (c *cluster) runningPods() []podJSON {
	var out []podJSON
	for _, p := range c.pods() {
		ready := len(p.Status.ContainerStatuses) > 0
		for _, cs := range p.Status.ContainerStatuses {
			ready = ready && cs.Ready
		}
		if p.Status.Phase == "Running" && p.Status.PodIP != "" && ready {
			out = append(out, p)
		}
	}
	return out
}

func httpGet(url string) (string, error) {
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
