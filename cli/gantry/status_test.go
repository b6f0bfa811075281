package main

import (
	"regexp"
	"testing"

	"github.com/gantry-sh/gantry/events"
)

// gantry status shows the log's disk, as the embedded server's guard sees
// it, and each stream's extent.
func TestStatusShowsTheLogsDiskAndStreams(t *testing.T) {
	up := startUp(t, "status-test", "")
	code, out, errOut := runGantry("status", "--nats", up.url)
	if code != 0 {
		t.Fatalf("status: exit %d, stderr %q", code, errOut)
	}
	for _, re := range []string{
		`(?m)^Log disk: \S+/nats, \d+\.\d[KMGTPE]i free of \d+\.\d[KMGTPE]i \(\d+%\), (ok|LOW)$`,
		`(?m)^STREAM\s+MESSAGES\s+BYTES\s+FIRST\s+LAST$`,
		`(?m)^` + events.StreamIntents + `\s+\d+`,
		`(?m)^` + events.StreamDecisions + `\s+\d+`,
		`(?m)^` + events.StreamObservations + `\s+[1-9]\d*\s`, // the node's registration at least
		`(?m)^` + events.StreamHeartbeats + `\s+\d+`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("status does not match %s:\n%s", re, out)
		}
	}
}
