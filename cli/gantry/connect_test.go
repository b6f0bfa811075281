package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// closedPort is a loopback URL nothing listens on: a port taken and let go.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "nats://" + addr
}

// runGantry runs the CLI with args and returns its exit code and output.
func runGantry(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

const clusterHint = `: is a cluster running? start one with "gantry up", or point --nats / GANTRY_NATS at it`

// clientVerbs is every command that dials the cluster, with arguments that
// get it as far as dialing; offlineVerbs the ones that do not (or run a
// daemon with its own connection). Every command of the CLI is in one of
// them, so a verb added later is tested here too.
func clientVerbs(t *testing.T) map[string][]string {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: hello:v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return map[string][]string{
		"apply":         {"apply", "-f", manifest},
		"get":           {"get", "pods"},
		"describe":      {"describe", "pod", "p"},
		"delete":        {"delete", "pod", "p"},
		"logs":          {"logs", "p"},
		"logs -l":       {"logs", "-l", "app=hello"},
		"events":        {"events"},
		"node cordon":   {"node", "cordon", "n1"},
		"node uncordon": {"node", "uncordon", "n1"},
		"version":       {"version"},
		"status":        {"status"},
		"sim":           {"sim", "--nodes", "1"},
		"log verify":    {"log", "verify"},
		"backup":        {"backup", filepath.Join(dir, "backup")},
	}
}

var offlineVerbs = map[string]string{
	"api-resources": "the kinds this client knows, from its own table",
	"up":            "starts its own NATS",
	"serve":         "the control plane: its own hint (TestServeWithoutNATS)",
	"node":          "the node agent daemon: a NATS server's hint (TestNodeWithoutNATS)",
	"image":         "a group",
	"image import":  "talks to containerd only",
	"log":           "a group",
	"restore":       "reads its backup first; into a NATS without Gantry's log, so a NATS server's hint",
	"completion":    "cobra's shell completion",
	"help":          "cobra's help",
}

func TestEveryVerbSaysWhatToDoWithoutCluster(t *testing.T) {
	url := closedPort(t)
	verbs := clientVerbs(t)
	for _, name := range commandPaths(newRoot(&globals{in: strings.NewReader(""), out: io.Discard, errOut: io.Discard})) {
		_, client := verbs[name]
		if _, offline := offlineVerbs[name]; !client && !offline {
			t.Errorf("command %q is in neither clientVerbs nor offlineVerbs: say whether it dials the cluster", name)
		}
	}
	for name, args := range verbs {
		// --nats after the verb's arguments: a persistent flag goes anywhere.
		start := time.Now()
		code, _, errOut := runGantry(append(args, "--nats", url)...)
		took := time.Since(start)
		want := "error: no Gantry cluster answers at " + url + clusterHint + "\n"
		if code != 1 || !strings.HasSuffix(errOut, want) {
			t.Errorf("%s: exit %d, stderr %q; want it to end with %q", name, code, errOut, want)
		}
		// Refused at once, not after a dial timeout.
		if took > 3*time.Second {
			t.Errorf("%s took %s to fail", name, took)
		}
	}
}

// commandPaths lists every runnable command below root by its path
// without "gantry ", plus cobra's completion and help.
func commandPaths(root *cobra.Command) []string {
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			out = append(out, strings.TrimPrefix(sub.CommandPath(), root.Name()+" "))
			if sub.Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(root)
	sort.Strings(out)
	return out
}

func TestNoClusterHintRedactsPassword(t *testing.T) {
	url := strings.Replace(closedPort(t), "nats://", "nats://admin:s3cret@", 1)
	_, _, errOut := runGantry("get", "pods", "--nats", url)
	if strings.Contains(errOut, "s3cret") || !strings.Contains(errOut, "no Gantry cluster answers at nats://admin:xxxxx@") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestServeWithoutNATS(t *testing.T) {
	url := closedPort(t)
	code, _, errOut := runGantry("serve", "--nats", url)
	want := "error: no NATS server answers at " + url + ": start one with JetStream enabled, or point --nats / GANTRY_NATS at it\n"
	if code != 1 || errOut != want {
		t.Errorf("serve: exit %d, stderr %q; want %q", code, errOut, want)
	}
}

// A NATS server that answers but is not a Gantry cluster is named as such.
func TestServerWithoutGantryLog(t *testing.T) {
	plain, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go plain.Start()
	t.Cleanup(plain.Shutdown)
	if !plain.ReadyForConnections(10 * time.Second) {
		t.Fatal("plain nats-server not ready")
	}
	code, _, errOut := runGantry("get", "pods", "--nats", plain.ClientURL())
	want := "error: the NATS server at " + plain.ClientURL() + " has JetStream off, so it holds no Gantry log: point --nats / GANTRY_NATS at a Gantry cluster (\"gantry up\" starts one)\n"
	if code != 1 || errOut != want {
		t.Errorf("plain server: exit %d, stderr %q; want %q", code, errOut, want)
	}

	bare, err := bus.StartServer(bus.ServerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bare.Shutdown)
	code, _, errOut = runGantry("logs", "p", "--nats", bare.ClientURL())
	want = "error: the NATS server at " + bare.ClientURL() + " holds no Gantry log (no stream \"" + events.StreamIntents + "\"): run the control plane against it (\"gantry serve --nats " + bare.ClientURL() + "\"), or point --nats / GANTRY_NATS at a Gantry cluster\n"
	if code != 1 || errOut != want {
		t.Errorf("unprovisioned server: exit %d, stderr %q; want %q", code, errOut, want)
	}
}

func TestVersion(t *testing.T) {
	code, out, errOut := runGantry("version", "--client")
	if code != 0 || out != "Client Version: "+version+"\n" || errOut != "" {
		t.Errorf("version --client: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, url := bustest.Start(t)
	code, out, errOut = runGantry("version", "--nats", url)
	want := "Client Version: " + version + "\nNATS Server Version: " + server.VERSION + "\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("version: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	// Without a cluster the client's version is still printed, then the hint.
	code, out, errOut = runGantry("version", "--nats", closedPort(t))
	if code != 1 || out != "Client Version: "+version+"\n" || !strings.HasSuffix(errOut, clusterHint+"\n") {
		t.Errorf("version without cluster: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// --version stays.
	if code, out, _ := runGantry("--version"); code != 0 || out != "gantry version "+version+"\n" {
		t.Errorf("--version: exit %d, stdout %q", code, out)
	}
}

// Every way a dial finds nothing gets the hint; what the dial said is kept
// when it says more than "nothing listens".
func TestNoServer(t *testing.T) {
	cases := []struct {
		err  error
		why  string
		hint bool
	}{
		{fmt.Errorf("connect: %w", nats.ErrNoServers), "", true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "", true},
		{fmt.Errorf("connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}), " (connect: no route to host)", true},
		{&net.DNSError{Err: "no such host", Name: "nats.invalid", IsNotFound: true}, " (lookup nats.invalid: no such host)", true},
		{errors.New("nats: authorization violation"), "", false},
	}
	for _, tc := range cases {
		why, ok := noServer(tc.err)
		if why != tc.why || ok != tc.hint {
			t.Errorf("noServer(%v) = %q, %v; want %q, %v", tc.err, why, ok, tc.why, tc.hint)
		}
	}
}

func TestNodeWithoutNATS(t *testing.T) {
	url := closedPort(t)
	code, _, errOut := runGantry("node", "--runtime", "simulated", "--node-name", "n1", "--data-dir", t.TempDir(), "--nats", url)
	want := "error: no NATS server answers at " + url + ": start one with JetStream enabled, or point --nats / GANTRY_NATS at it\n"
	if code != 1 || !strings.HasSuffix(errOut, want) {
		t.Errorf("node: exit %d, stderr %q; want it to end with %q", code, errOut, want)
	}
}
