package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// consumerCount is how many consumers the log's streams have.
func consumerCount(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n := 0
	for _, s := range []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations} {
		st, err := js.Stream(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		names := st.ConsumerNames(ctx)
		for range names.Name() {
			n++
		}
		if err := names.Err(); err != nil {
			t.Fatalf("consumers of %s: %v", s, err)
		}
	}
	return n
}

// Every CLI verb that reads the log deletes its consumers before it
// returns: none is left for the server to expire minutes later.
func TestCLILeavesNoConsumer(t *testing.T) {
	conn, gantry := admissionCluster(t)
	base := consumerCount(t, conn.JS) // the admission service's own
	m := writeManifest(t, "d.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`)
	for _, args := range [][]string{
		{"apply", "-f", m},
		{"apply", "-f", m},
		{"events"},
		{"events", "--stream", "decisions"},
		{"delete", "deployment", "web"},
	} {
		if code, _, errOut := gantry(args...); code != 0 {
			t.Fatalf("gantry %s exited %d: %s", strings.Join(args, " "), code, errOut)
		}
		if n := consumerCount(t, conn.JS); n != base {
			t.Errorf("after gantry %s: %d consumers on the log, want %d (the services' own)", strings.Join(args, " "), n, base)
		}
	}
}
