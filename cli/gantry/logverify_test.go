package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/logcheck"
)

// upUntilStopped runs gantry up on dataDir, calls during with its NATS URL
// once it is up, then stops it with SIGINT and returns its log.
func upUntilStopped(t *testing.T, dataDir string, during func(url string), extra ...string) string {
	t.Helper()
	up := startUp(t, "lv", dataDir, extra...)
	during(up.url)
	if c := up.interrupt(t); c != 0 {
		t.Fatalf("gantry up exited %d:\n%s", c, up.errOut.String())
	}
	return up.errOut.String()
}

// A block of GANTRY_DECISIONS overwritten while the cluster was stopped
// (its index gone, so the server cuts the stream): up refuses, naming the
// stream and the sequences; log verify fails; with --accept-log-loss up
// starts and the loss is in the log with its actor.
func TestUpRefusesADamagedLog(t *testing.T) {
	dataDir := t.TempDir()
	upUntilStopped(t, dataDir, func(url string) {
		conn, err := bus.Connect(url, "test", controlPlaneCreds(dataDir))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range 150 {
			env, err := events.Seal(&events.LogLossAccepted{Stream: "TEST", Reasons: []string{strings.Repeat("x", 200)}},
				events.Meta{ID: events.NewID(), Source: "test", Time: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := env.Marshal()
			if _, err := conn.JS.Publish(context.Background(), fmt.Sprintf("gantry.decision.log.test%d", i), b); err != nil {
				t.Fatal(err)
			}
		}
	})
	wmData, err := os.ReadFile(filepath.Join(dataDir, "log-watermark.json"))
	if err != nil {
		t.Fatalf("no watermark after a clean stop: %v", err)
	}
	// The cluster writes on its own too (default Namespaces, the health
	// service's decision on the node), so the lost range ends where the
	// watermark says the stream ended, at 150 or a little past.
	var wm logcheck.Watermark
	if err := json.Unmarshal(wmData, &wm); err != nil {
		t.Fatal(err)
	}
	last := wm.Streams[events.StreamDecisions].Last
	if last < 150 {
		t.Fatalf("the watermark has the decisions stream end at %d", last)
	}
	if code, out, errOut := runGantry("log", "verify", "--data-dir", dataDir); code != 0 {
		t.Fatalf("verify of a whole log: exit %d\n%s%s", code, out, errOut)
	}

	// The log is kept under the cluster's account (operator mode).
	dirs, _ := filepath.Glob(filepath.Join(dataDir, "nats", "jetstream", "*", "streams", events.StreamDecisions, "msgs"))
	if len(dirs) != 1 {
		t.Fatalf("the decisions' store: found %v", dirs)
	}
	msgs := dirs[0]
	blk := filepath.Join(msgs, "1.blk")
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)/2:], bytes.Repeat([]byte{0xAA}, 64))
	if err := os.WriteFile(blk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(msgs, "index.db")); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := runGantry("up", "--listen", "127.0.0.1:-1", "--data-dir", dataDir, "--runtime", "simulated", "--node-name", "lv")
	if code == 0 {
		t.Fatal("gantry up started on a damaged log")
	}
	for _, want := range []string{"the log has lost messages", "GANTRY_DECISIONS: sequences ", fmt.Sprintf("–%d (", last), "restore", "--accept-log-loss"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("refusal does not say %q:\n%s", want, errOut)
		}
	}
	code, out, _ := runGantry("log", "verify", "--data-dir", dataDir)
	if code != 1 || !strings.Contains(out, "LOST  GANTRY_DECISIONS") {
		t.Errorf("verify of a damaged log: exit %d\n%s", code, out)
	}

	upUntilStopped(t, dataDir, func(url string) {
		conn, err := bus.Connect(url, "test", controlPlaneCreds(dataDir))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		st, err := conn.JS.Stream(context.Background(), events.StreamDecisions)
		if err != nil {
			t.Fatal(err)
		}
		m, err := st.GetLastMsgForSubject(context.Background(), events.LogSubject(events.StreamDecisions))
		if err != nil {
			t.Fatalf("no loss recorded: %v", err)
		}
		env, err := events.Parse(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := env.Decode()
		if err != nil {
			t.Fatal(err)
		}
		loss := ev.(*events.LogLossAccepted)
		if env.Actor != client.Actor() || len(loss.Lost) != 1 || loss.Lost[0].To != last || loss.Lost[0].From != loss.LastSeq+1 {
			t.Errorf("recorded %+v by %q", loss, env.Actor)
		}
	}, "--accept-log-loss")
	if code, out, errOut := runGantry("log", "verify", "--data-dir", dataDir); code != 0 {
		t.Errorf("verify after the loss was accepted: exit %d\n%s%s", code, out, errOut)
	}
}

// A backup taken from a running cluster restores into a fresh data dir with
// the same streams, and that data dir passes verify.
func TestBackupRestoreCommands(t *testing.T) {
	dataDir, backup, restored := t.TempDir(), filepath.Join(t.TempDir(), "b"), t.TempDir()
	var before string
	upUntilStopped(t, dataDir, func(url string) {
		conn, err := bus.Connect(url, "test", controlPlaneCreds(dataDir))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The cluster writes on its own (the node registers, admission
		// makes the default Namespaces): back up until the streams did not
		// move while the backup was taken, so it holds what they hold.
		deadline := time.Now().Add(30 * time.Second)
		for {
			at := streamSummary(t, conn.JS)
			_ = os.RemoveAll(backup)
			if code, out, errOut := runGantry("backup", backup, "--nats", url); code != 0 {
				t.Fatalf("backup: exit %d\n%s%s", code, out, errOut)
			}
			if streamSummary(t, conn.JS) == at {
				before = at
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the streams never stood still for a backup")
			}
		}
	})
	if code, out, errOut := runGantry("restore", backup, "--data-dir", restored); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runGantry("log", "verify", "--data-dir", restored); code != 0 {
		t.Errorf("verify of a restored log: exit %d\n%s%s", code, out, errOut)
	}
	conn, _, closeLog, err := openLog(&client.Globals{}, restored)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	if after := streamSummary(t, conn.JS); after != before {
		t.Errorf("restored streams differ:\n%s\nwant\n%s", after, before)
	}
	if code, _, errOut := runGantry("restore", backup, "--data-dir", restored); code == 0 || !strings.Contains(errOut, "holds a log already") {
		t.Errorf("restore over a log: exit %d %s", code, errOut)
	}
}

func streamSummary(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	var b strings.Builder
	for _, s := range []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations} {
		st, err := js.Stream(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s msgs=%d last=%d\n", s, info.State.Msgs, info.State.LastSeq)
	}
	return b.String()
}
