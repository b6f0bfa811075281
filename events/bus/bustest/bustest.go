// Package bustest starts an in-process NATS server with Gantry's log for
// integration tests: one server per test, its store in the test's temp dir.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/bus"
)

// Start runs an embedded server on a free loopback port, provisions the
// streams and read-model buckets, and returns a connection to it and its URL.
// Both are closed when the test ends.
func Start(t testing.TB) (*bus.Conn, string) {
	t.Helper()
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := bus.Connect(srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatal(err)
	}
	if err := bus.ProvisionKV(ctx, conn.JS, 1); err != nil {
		t.Fatal(err)
	}
	return conn, srv.ClientURL()
}
