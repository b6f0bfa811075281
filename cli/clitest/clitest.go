// Package clitest holds what the tests of the gantry command and of its
// client verbs share: a loopback URL nothing answers on, a buffer safe for a
// command's output written from its goroutines, polling with a deadline, and
// a count of the log's consumers.
package clitest

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// ClosedPort is a loopback NATS URL nothing listens on: a port taken and let go.
func ClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "nats://" + addr
}

// Buffer collects a command's output safely while it runs.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Eventually polls cond until it holds, failing the test after 10 s.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}

// ConsumerCount is how many consumers the log's streams have.
func ConsumerCount(t *testing.T, js jetstream.JetStream) int {
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
