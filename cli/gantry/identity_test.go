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

// Off loopback the server speaks TLS only: a plain-text connection, even
// with good credentials, is refused; the context written by up carries the
// CA, so a client command needs no flag. (The test reaches the server on
// loopback, though it listens on every address.)
func TestUpOffLoopbackRefusesPlainText(t *testing.T) {
	up := startUp(t, "tls-test", "", "--listen", "0.0.0.0:-1")
	if !strings.HasPrefix(up.url, "tls://127.0.0.1:") {
		t.Fatalf("url %s: want tls://127.0.0.1:PORT", up.url)
	}
	plain := "nats://" + strings.TrimPrefix(up.url, "tls://")
	if _, err := bus.Connect(plain, "plain", controlPlaneCreds(up.dataDir)); err == nil {
		t.Fatal("a plain-text connection was accepted")
	}
	ca := nats.RootCAs(filepath.Join(up.dataDir, "identity", "ca.crt"))
	conn, err := bus.Connect(up.url, "tls", controlPlaneCreds(up.dataDir), ca)
	if err != nil {
		t.Fatalf("TLS with the cluster's CA: %v", err)
	}
	conn.Close()
	if code, out, errOut := runGantry("get", "nodes"); code != 0 || !strings.Contains(out, "tls-test") {
		t.Fatalf("get nodes through the context: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runGantry("up", "--listen", "0.0.0.0:-1", "--insecure-no-auth", "--data-dir", t.TempDir()); code == 0 || !strings.Contains(errOut, "loopback only") {
		t.Fatalf("--insecure-no-auth off loopback: exit %d, %s", code, errOut)
	}
}
