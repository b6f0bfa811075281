package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// A stream deleted under gantry up is a failure: it exits non-zero and its
// log names the stream, so a supervisor restarts it.
func TestUpExitsWhenAStreamIsDeleted(t *testing.T) {
	var out, errOut lockedBuffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"up", "--listen", "127.0.0.1:-1", "--data-dir", t.TempDir(), "--runtime", "simulated",
			"--node-name", "lost-test"}, strings.NewReader(""), &out, &errOut)
	}()
	up := regexp.MustCompile(`NATS at (nats://\S+) `)
	deadline := time.Now().Add(30 * time.Second)
	for !up.MatchString(out.String()) {
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
	conn, err := bus.Connect(up.FindStringSubmatch(out.String())[1], "test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.JS.DeleteStream(context.Background(), events.StreamDecisions); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c == 0 {
			t.Errorf("gantry up exited 0 after a stream was deleted under it")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gantry up still running 30 s after a stream was deleted:\n%s", errOut.String())
	}
	if log := errOut.String(); !strings.Contains(log, events.StreamDecisions+" was deleted") {
		t.Errorf("log does not name the deleted stream:\n%s", log)
	}
}
