package main

import (
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gantry up says how long its replay took, with a unit, and says when it
// stops, on which signal, and when it has stopped.
func TestUpLogsItsStartAndStop(t *testing.T) {
	// Should gantry up have stopped listening already (it failed on its
	// own), the signal must not end the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGINT)
	defer signal.Stop(guard)
	var out, errOut lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"up", "--listen", "127.0.0.1:-1", "--data-dir", t.TempDir(), "--runtime", "simulated",
			"--node-name", "up-test"}, strings.NewReader(""), &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "gantry is up") {
		select {
		case c := <-code:
			t.Fatalf("gantry up exited %d before it was up:\n%s", c, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gantry up not up after 30 s:\n%s", errOut.String())
		}
		time.Sleep(10 * time.Millisecond) // polling the output
	}
	// The command's signal handler is installed before it says it is up,
	// so the signal stops it rather than the test.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("gantry up exited %d", c)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gantry up did not stop on SIGINT:\n%s", errOut.String())
	}
	log := errOut.String()
	for _, re := range []string{
		`control plane ready replay=\d+(\.\d+)?(µs|ms|s)\b`,
		`(?s)stopping signal=interrupt.*\bstopped\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log does not match %s:\n%s", re, log)
		}
	}
}
