package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/events/bus"
)

// gantry up writes its context into the client config: a client command
// then finds the cluster and its credentials with no flag, and one with
// another cluster's credentials is refused, saying so.
func TestUpWritesItsContextAndClientsNeedNoFlags(t *testing.T) {
	up := startUp(t, "ctx-test", "")
	code, out, errOut := runGantry("config", "get-contexts")
	if code != 0 || !strings.Contains(out, "*         "+upContext) || !strings.Contains(out, up.url) {
		t.Fatalf("get-contexts: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runGantry("get", "nodes"); code != 0 || !strings.Contains(out, "ctx-test") {
		t.Fatalf("get nodes with no flag: exit %d\n%s%s", code, out, errOut)
	}
	// gantry up's server refuses an anonymous connection on loopback.
	if _, err := bus.Connect(up.url, "anonymous"); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous connection: got %v, want an authorization violation", err)
	}
	// Another cluster's admin (identities made in another data dir).
	other := t.TempDir()
	if code, _, errOut := runGantry("node", "credentials", "x", "--data-dir", other); code != 0 {
		t.Fatal(errOut)
	}
	creds := filepath.Join(other, "identity", "creds", "node-x.creds")
	if _, err := os.Stat(creds); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runGantry("get", "nodes", "--creds", creds)
	if code == 0 || !strings.Contains(errOut, "refused these credentials") {
		t.Fatalf("another cluster's credentials: exit %d, %s", code, errOut)
	}
	// use-context names a missing context, and switches to a present one.
	if code, _, errOut := runGantry("config", "use-context", "nope"); code == 0 || !strings.Contains(errOut, `"nope"`) {
		t.Fatalf("use-context nope: exit %d, %s", code, errOut)
	}
	if code, out, _ := runGantry("config", "use-context", upContext); code != 0 || !strings.Contains(out, "Switched") {
		t.Fatalf("use-context: exit %d, %s", code, out)
	}
}
