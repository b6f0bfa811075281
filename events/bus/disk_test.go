package bus_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// smallDisk mounts a tmpfs of size (e.g. "32m") on a fresh directory and
// unmounts it when the test ends, whatever happened.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file until the filesystem has no room left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			return // ENOSPC: full
		}
	}
}

func appendOne(ctx context.Context, conn *bus.Conn, payload string) error {
	env, err := events.Seal(&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: "x", Object: []byte(`{"p":"` + payload + `"}`)},
		events.Meta{ID: events.NewID(), Source: "test", Time: time.Now()})
	if err != nil {
		return err
	}
	_, err = bus.PublishOne(ctx, conn.JS, bus.Outgoing{Subject: events.IntentSubject("default", "deployment", "x"), Envelope: env})
	return err
}

// A log on a full disk: the append fails, the error says the disk is full
// with the data dir and the free bytes, the server's own complaint is in
// Gantry's log (component=nats), and once room is made the log takes
// appends again without a restart of the process; what was acknowledged
// before is still there.
func TestFullDiskIsSaidAndSurvived(t *testing.T) {
	mnt := smallDisk(t, "32m")
	store := filepath.Join(mnt, "nats")
	var logBuf syncBuffer
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: store, Listen: "127.0.0.1:-1",
		Log: zerolog.New(&logBuf), Disk: &bus.DiskConfig{Every: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	conn, err := bus.Connect(srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	ctx := context.Background()
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(ctx, conn, "before"); err != nil {
		t.Fatal(err)
	}
	st, err := bus.LogStatus(ctx, conn.NC)
	if err != nil || st.Full || st.FreeBytes == 0 || st.DataDir != store {
		t.Fatalf("log status before filling = %+v, %v", st, err)
	}

	ballast := filepath.Join(mnt, "ballast")
	fill(t, ballast)
	big := strings.Repeat("x", 256<<10)
	var appendErr error
	for i := 0; i < 20 && appendErr == nil; i++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		appendErr = appendOne(actx, conn, big)
		cancel()
	}
	if appendErr == nil {
		t.Fatal("appends on a full disk all succeeded")
	}
	explained := bus.Explain(ctx, conn.NC, appendErr)
	if want := "the log's disk is full (data dir " + store + ", "; !strings.Contains(explained.Error(), want) ||
		!strings.Contains(explained.Error(), " bytes free)") {
		t.Fatalf("append error = %v; want it to contain %q … bytes free)", explained, want)
	}
	for _, want := range []string{`"component":"nats"`, `"component":"disk"`, `the log's disk is full (data dir ` + store} {
		if !strings.Contains(logBuf.String(), want) {
			t.Errorf("log has no %s:\n%s", want, logBuf.String())
		}
	}

	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		err := appendOne(actx, conn, "after")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log takes no append 30 s after room was made: %v\n%s", err, logBuf.String())
		}
	}
	st, err = bus.LogStatus(ctx, conn.NC)
	if err != nil || st.Full || st.Restarts != 1 {
		t.Errorf("log status after room was made = %+v, %v", st, err)
	}
	// The restarted JetStream still fsyncs every write (sync_interval: always).
	if jc := srv.JetStreamConfig(); jc == nil || !jc.SyncAlways {
		t.Errorf("JetStream after the restart: %+v, want SyncAlways", jc)
	}
	stream, err := conn.JS.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	if n := stream.CachedInfo().State.Msgs; n < 2 {
		t.Errorf("intents stream holds %d messages, want the one before and the one after", n)
	}
	if errors.Is(appendErr, bus.ErrConflict) {
		t.Errorf("a full disk is not a conflict: %v", appendErr)
	}
}
