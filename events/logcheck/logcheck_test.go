package logcheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

func TestCheck(t *testing.T) {
	specs := events.Streams()
	wm := &Watermark{At: time.Unix(0, 0), Clean: true, Streams: map[string]Mark{
		events.StreamIntents:   {First: 1, Last: 10, Msgs: 10},
		events.StreamDecisions: {First: 1, Last: 161, Msgs: 161},
	}}
	whole := map[string]State{
		events.StreamIntents:      {Exists: true, First: 1, Last: 12, Msgs: 12},
		events.StreamDecisions:    {Exists: true, First: 1, Last: 170, Msgs: 170},
		events.StreamObservations: {Exists: true, First: 40, Last: 90, Msgs: 51}, // aged out: fine
	}
	with := func(name string, s State) map[string]State {
		m := map[string]State{}
		for k, v := range whole {
			m[k] = v
		}
		m[name] = s
		return m
	}
	for _, tc := range []struct {
		name   string
		states map[string]State
		wm     *Watermark
		floors []Floor
		want   []string // one substring per finding
	}{
		{name: "whole", states: whole, wm: wm},
		{name: "fresh log, no watermark", states: map[string]State{}},
		{name: "cut below the watermark", states: with(events.StreamDecisions, State{Exists: true, First: 1, Last: 63, Msgs: 63}), wm: wm,
			want: []string{"GANTRY_DECISIONS: sequences 64–161 (98 messages) (the stream ends at 63, but the watermark of"}},
		{name: "cut below a node consumer, no watermark", states: with(events.StreamDecisions, State{Exists: true, First: 1, Last: 63, Msgs: 63}),
			floors: []Floor{{Stream: events.StreamDecisions, Seq: 120, Who: "node consumer node-a (acknowledged)", Consumer: "node-a"}},
			want:   []string{"GANTRY_DECISIONS: sequences 64–120 (57 messages) (the stream ends at 63, but node consumer node-a (acknowledged) has seen 120"}},
		{name: "the projector is ahead of observations", states: with(events.StreamObservations, State{Exists: true, First: 40, Last: 80, Msgs: 41}),
			floors: []Floor{{Stream: events.StreamObservations, Seq: 90, Who: "the read models' progress"}},
			want:   []string{"GANTRY_OBSERVATIONS: sequences 81–90"}},
		{name: "a hole in a kept stream", states: with(events.StreamDecisions, State{Exists: true, First: 1, Last: 170, Msgs: 150, NumDeleted: 20,
			Deleted: seqs(151, 170)}), wm: wm,
			want: []string{"GANTRY_DECISIONS: sequences 151–170 (20 messages) (20 sequences inside the stream are missing"}},
		{name: "first moved in a kept stream", states: with(events.StreamIntents, State{Exists: true, First: 5, Last: 12, Msgs: 8}), wm: wm,
			want: []string{"GANTRY_INTENTS: sequences 1–4 (4 messages) (the stream now starts at 5"}},
		{name: "the server says it lost some", states: with(events.StreamObservations, State{Exists: true, First: 40, Last: 90, Msgs: 49, Lost: []uint64{50, 51}}),
			want: []string{"GANTRY_OBSERVATIONS: sequences 50–51 (2 messages) (the server reports them lost"}},
		{name: "a missing stream", states: with(events.StreamIntents, State{}), wm: wm,
			want: []string{"GANTRY_INTENTS: sequences 1–10 (10 messages) (the stream is missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(specs, tc.states, tc.wm, tc.floors)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("finding %q, want it to contain %q", got[i], w)
				}
			}
		})
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

// logDir makes a real data dir: an embedded server with Gantry's streams,
// n intents and decisions (half of them copies for node a), a node consumer
// that acknowledged every one, then a clean stop with its watermark.
func logDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	srv, conn := serve(t, dir)
	ctx := context.Background()
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		publish(t, conn.JS, events.IntentSubject("default", "pod", fmt.Sprintf("p%d", i)), &events.IntentCordon{Node: "a"})
		subj := fmt.Sprintf("gantry.decision.node.n%d", i)
		if i%2 == 1 {
			subj = fmt.Sprintf("gantry.node.a.pod.default.p%d", i)
		}
		publish(t, conn.JS, subj, &events.NodeCordoned{Node: "a", IntentSeq: uint64(i + 1), IntentID: strings.Repeat("x", 200)})
	}
	cons, err := conn.JS.CreateOrUpdateConsumer(ctx, events.StreamDecisions, jetstream.ConsumerConfig{Durable: "node-a",
		FilterSubject: "gantry.node.a.>", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for got := 0; got < n/2; {
		b, err := cons.Fetch(n/2-got, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			got++
		}
	}
	keep := Keep(ctx, conn.JS, NewFileStore(dir), nil, time.Hour, zerolog.Nop())
	keep()
	conn.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	return dir
}

func serve(t *testing.T, dir string) (*server.Server, *bus.Conn) {
	t.Helper()
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: filepath.Join(dir, "nats"), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := bus.Connect(srv.ClientURL(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Shutdown() })
	return srv, conn
}

func publish(t *testing.T, js jetstream.JetStream, subject string, e events.Event) {
	t.Helper()
	env, err := events.Seal(e, events.Meta{ID: events.NewID(), Source: "test", Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := env.Marshal()
	if _, err := js.Publish(context.Background(), subject, b); err != nil {
		t.Fatal(err)
	}
}

// damage overwrites 64 bytes in the middle of a stream's first block;
// without its index the server rebuilds the block and cuts it there.
func damage(t *testing.T, dir, stream string, dropIndex bool) {
	t.Helper()
	msgs := filepath.Join(dir, "nats", "jetstream", "$G", "streams", stream, "msgs")
	blk := filepath.Join(msgs, "1.blk")
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)/2:], bytes.Repeat([]byte{0xAA}, 64))
	if err := os.WriteFile(blk, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if dropIndex {
		if err := os.Remove(filepath.Join(msgs, "index.db")); err != nil {
			t.Fatal(err)
		}
	}
}

func check(t *testing.T, dir string) ([]Finding, *bus.Conn) {
	t.Helper()
	_, conn := serve(t, dir)
	ctx := context.Background()
	wm, err := NewFileStore(dir).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in, err := Gather(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	return Check(events.Streams(), in.States, wm, in.Floors), conn
}

func TestDamagedBlockIsFound(t *testing.T) {
	dir := logDir(t, 200)
	if f, _ := check(t, dir); len(f) != 0 {
		t.Fatalf("a whole log: %v", f)
	}
	// nats-server pulls the node consumer's floors back to the cut stream's
	// end when it recovers, so only the watermark knows how far it went.
	t.Run("index removed: the stream is cut below the watermark", func(t *testing.T) {
		d := copyDir(t, dir)
		damage(t, d, events.StreamDecisions, true)
		f, _ := check(t, d)
		if len(f) != 1 || f[0].Stream != events.StreamDecisions || f[0].Lost[0].To != 200 {
			t.Fatalf("findings %+v; want decisions lost up to 200", f)
		}
	})
	t.Run("index kept: Scan finds the record that cannot be read", func(t *testing.T) {
		d := copyDir(t, dir)
		damage(t, d, events.StreamDecisions, false)
		f, conn := check(t, d)
		if len(f) != 0 {
			t.Logf("found at start: %v", f)
		}
		res, err := Scan(context.Background(), conn.JS, events.StreamDecisions)
		if err != nil {
			t.Fatal(err)
		}
		if res.OK() || len(res.Unreadable) == 0 {
			t.Fatalf("scan %+v; want unreadable sequences", res)
		}
	})
	t.Run("truncated block: a hole", func(t *testing.T) {
		d := copyDir(t, dir)
		blk := filepath.Join(d, "nats", "jetstream", "$G", "streams", events.StreamIntents, "msgs", "1.blk")
		b, err := os.ReadFile(blk)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(blk, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		f, _ := check(t, d)
		if len(f) != 1 || f[0].Stream != events.StreamIntents || f[0].Lost[len(f[0].Lost)-1].To != 200 {
			t.Fatalf("findings %+v; want intents lost up to 200", f)
		}
	})
}

func TestScanAWholeLog(t *testing.T) {
	dir := logDir(t, 50)
	_, conn := serve(t, dir)
	for _, s := range []string{events.StreamIntents, events.StreamDecisions} {
		res, err := Scan(context.Background(), conn.JS, s)
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || res.Read != 50 {
			t.Errorf("%s: %+v", s, res)
		}
		if res.Took <= 0 {
			t.Errorf("%s: the scan's time is not measured (%s)", s, res.Took)
		}
	}
	// A message that is not a Gantry envelope is named.
	if _, err := conn.JS.Publish(context.Background(), "gantry.decision.pod.default.x", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	res, err := Scan(context.Background(), conn.JS, events.StreamDecisions)
	if err != nil {
		t.Fatal(err)
	}
	if res.BadCount != 1 || res.Bad[0].Seq != 51 {
		t.Errorf("scan %+v; want seq 51 bad", res)
	}
}

func TestBackupRestore(t *testing.T) {
	dir := logDir(t, 120)
	_, src := serve(t, dir)
	ctx := context.Background()
	backup := filepath.Join(t.TempDir(), "b")
	man, err := Backup(ctx, src.NC, src.JS, backup, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Streams) != 3 || man.Streams[0].Name != events.StreamObservations || man.Streams[2].Name != events.StreamIntents {
		t.Fatalf("manifest %+v", man)
	}
	_, dst := serve(t, t.TempDir())
	if _, err := Restore(ctx, dst.NC, dst.JS, backup); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations} {
		a, b := contents(t, src.JS, s), contents(t, dst.JS, s)
		if a != b {
			t.Errorf("%s differs after restore:\n%.300s\n---\n%.300s", s, a, b)
		}
	}
	// Node consumers are not in a backup: none is ahead of the restored log.
	if _, err := dst.JS.Consumer(ctx, events.StreamDecisions, "node-a"); err == nil {
		t.Error("node-a restored; want node consumers left out")
	}
	// A second restore into the same server is refused: the streams exist.
	if _, err := Restore(ctx, dst.NC, dst.JS, backup); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("restore over a log: %v", err)
	}
}

// contents is a stream's count, last sequence and every message.
func contents(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "msgs=%d last=%d\n", info.State.Msgs, info.State.LastSeq)
	for q := info.State.FirstSeq; q <= info.State.LastSeq && info.State.Msgs > 0; q++ {
		m, err := st.GetMsg(ctx, q)
		if err != nil {
			t.Fatalf("%s seq %d: %v", stream, q, err)
		}
		fmt.Fprintf(&b, "%d %s %s\n", q, m.Subject, m.Data)
	}
	return b.String()
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}
