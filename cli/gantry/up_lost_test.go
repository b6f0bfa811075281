package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// A stream deleted under gantry up is a failure: it exits non-zero and its
// log names the stream, so a supervisor restarts it.
func TestUpExitsWhenAStreamIsDeleted(t *testing.T) {
	up := startUp(t, "lost-test", "")
	conn, err := bus.Connect(up.url, "test", controlPlaneCreds(up.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.JS.DeleteStream(context.Background(), events.StreamDecisions); err != nil {
		t.Fatal(err)
	}
	c, done := up.exit(30 * time.Second)
	if !done {
		t.Fatalf("gantry up still running 30 s after a stream was deleted:\n%s", up.errOut.String())
	}
	if c == 0 {
		t.Errorf("gantry up exited 0 after a stream was deleted under it")
	}
	if log := up.errOut.String(); !strings.Contains(log, events.StreamDecisions+" was deleted") {
		t.Errorf("log does not name the deleted stream:\n%s", log)
	}
}

// upProc is a `gantry up` running in this test process.
type upProc struct {
	url     string
	dataDir string
	errOut  *clitest.Buffer
	code    chan int
	exited  bool
	status  int
}

// exit waits up to timeout for gantry up to exit and says with what code.
func (p *upProc) exit(timeout time.Duration) (code int, ok bool) {
	if p.exited {
		return p.status, true
	}
	select {
	case p.status = <-p.code:
		p.exited = true
		return p.status, true
	case <-time.After(timeout):
		return 0, false
	}
}

// interrupt stops gantry up with SIGINT, as Ctrl-C does, and returns its
// exit code. Its own handler takes the signal; a guard keeps the signal from
// ending the test binary should gantry up have stopped listening already.
func (p *upProc) interrupt(t *testing.T) int {
	t.Helper()
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGINT)
	defer signal.Stop(guard)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	c, done := p.exit(30 * time.Second)
	if !done {
		t.Fatalf("gantry up did not stop on SIGINT:\n%s", p.errOut.String())
	}
	return c
}

// startUp runs `gantry up` in this process on the simulated runtime, on
// dataDir (a new one when empty) with extra flags, and returns once it is
// up. A test that leaves it running has it interrupted.
func startUp(t *testing.T, nodeName, dataDir string, extra ...string) *upProc {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	// The context this up writes is the test's own, and so are the
	// credentials the test's client commands find there.
	t.Setenv("GANTRY_CONFIG", filepath.Join(dataDir, "client-config"))
	var out clitest.Buffer
	p := &upProc{errOut: &clitest.Buffer{}, code: make(chan int, 1), dataDir: dataDir}
	args := append([]string{"up", "--listen", "127.0.0.1:-1", "--data-dir", dataDir, "--runtime", "simulated",
		"--node-name", nodeName}, extra...)
	go func() { p.code <- run(args, strings.NewReader(""), &out, p.errOut) }()
	t.Cleanup(func() {
		if _, done := p.exit(0); !done {
			p.interrupt(t)
		}
	})
	up := regexp.MustCompile(`NATS at ((?:nats|tls)://\S+) `)
	deadline := time.Now().Add(30 * time.Second)
	for !up.MatchString(out.String()) {
		if c, done := p.exit(0); done {
			t.Fatalf("gantry up exited %d before it was up:\n%s", c, p.errOut.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("gantry up not up after 30 s:\n%s", p.errOut.String())
		}
		time.Sleep(10 * time.Millisecond) // polling the output
	}
	p.url = up.FindStringSubmatch(out.String())[1]
	return p
}
