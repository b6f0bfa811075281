package main

import (
	"regexp"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
)

// gantry status shows the log's disk, as the embedded server's guard sees
// it, and each stream's extent.
func TestStatusShowsTheLogsDiskAndStreams(t *testing.T) {
	up := startUp(t, "status-test", "")
	// The node's first report (its pod CIDR request, then its registration)
	// follows gantry up's start: poll for it.
	var out string
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, o, errOut := runGantry("status", "--nats", up.url)
		if code != 0 {
			t.Fatalf("status: exit %d, stderr %q", code, errOut)
		}
		out = o
		if regexp.MustCompile(`(?m)^`+events.StreamObservations+`\s+[1-9]`).MatchString(out) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling interval
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
