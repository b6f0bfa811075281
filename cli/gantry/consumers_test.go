package main

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/cli/clitest"
)

// Every CLI verb that reads the log deletes its consumers before it
// returns: none is left for the server to expire minutes later.
func TestCLILeavesNoConsumer(t *testing.T) {
	conn, gantry := admissionCluster(t)
	base := clitest.ConsumerCount(t, conn.JS) // the admission service's own
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
		if n := clitest.ConsumerCount(t, conn.JS); n != base {
			t.Errorf("after gantry %s: %d consumers on the log, want %d (the services' own)", strings.Join(args, " "), n, base)
		}
	}
}
