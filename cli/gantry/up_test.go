package main

import (
	"os"
	"os/signal"
	"regexp"
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
	up := startUp(t, "up-test")
	// The command's signal handler is installed before it says it is up,
	// so the signal stops it rather than the test.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	c, done := up.exit(30 * time.Second)
	if !done {
		t.Fatalf("gantry up did not stop on SIGINT:\n%s", up.errOut.String())
	}
	if c != 0 {
		t.Errorf("gantry up exited %d", c)
	}
	log := up.errOut.String()
	for _, re := range []string{
		`control plane ready replay=\d+(\.\d+)?(µs|ms|s)\b`,
		`(?s)stopping signal=interrupt.*\bstopped\n$`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log does not match %s:\n%s", re, log)
		}
	}
}
