package main

import (
	"regexp"
	"testing"
)

// gantry up says how long its replay took, with a unit, and says when it
// stops, on which signal, and when it has stopped.
func TestUpLogsItsStartAndStop(t *testing.T) {
	up := startUp(t, "up-test", "")
	// The command's signal handler is installed before it says it is up,
	// so the signal stops it rather than the test.
	if c := up.interrupt(t); c != 0 {
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
