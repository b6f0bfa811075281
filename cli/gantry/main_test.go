package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/events/identity"
)

// TestMain keeps the client config `gantry up` writes in a directory of
// the test run's own, never the user's.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gantry-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("GANTRY_CONFIG", filepath.Join(dir, "config"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// controlPlaneCreds connects a test as the control plane of the `gantry up`
// on dataDir (tests write events no user may).
func controlPlaneCreds(dataDir string) nats.Option {
	return nats.UserCredentials(filepath.Join(dataDir, "identity", "creds", identity.FileName(identity.ControlPlane)+".creds"))
}
