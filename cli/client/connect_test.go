package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// runGantry runs the CLI with args and returns its exit code and output.
func runGantry(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

const clusterHint = `: is a cluster running? start one with "gantry up", or point --nats / GANTRY_NATS at it`

func TestNoClusterHintRedactsPassword(t *testing.T) {
	url := strings.Replace(clitest.ClosedPort(t), "nats://", "nats://admin:s3cret@", 1)
	_, _, errOut := runGantry("get", "pods", "--nats", url)
	if strings.Contains(errOut, "s3cret") || !strings.Contains(errOut, "no Gantry cluster answers at nats://admin:xxxxx@") {
		t.Errorf("stderr %q", errOut)
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
	code, out, errOut = runGantry("version", "--nats", clitest.ClosedPort(t))
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
