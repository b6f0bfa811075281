package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// SubjectLogStatus is where the embedded server's disk guard answers
// requests for the log's disk (a DiskStatus in JSON). It is core NATS, not
// stored: it answers while JetStream cannot.
const SubjectLogStatus = "gantry.status.log"

// DiskConfig tunes the embedded server's disk guard. Zero values take the
// defaults below.
type DiskConfig struct {
	// Every is how often the free space is looked at (default 1 s).
	Every time.Duration
	// LowBelow: under this many free bytes the log's disk is low, logged
	// once as a warning (default a tenth of the filesystem, at most 1 GiB).
	LowBelow uint64
	// RoomAt: after the store ran out of room, JetStream is restarted once
	// this many more bytes are free than when it did (default an eighth of
	// the filesystem, at most 64 MiB).
	RoomAt uint64
}

// DiskStatus is what the disk guard knows about the log's disk.
type DiskStatus struct {
	DataDir    string    `json:"dataDir"`
	FreeBytes  uint64    `json:"freeBytes"`
	TotalBytes uint64    `json:"totalBytes"`
	Low        bool      `json:"low,omitempty"`
	Full       bool      `json:"full,omitempty"`
	Reason     string    `json:"reason,omitempty"` // what the server said when it ran out of room
	Restarts   int       `json:"restarts,omitempty"`
	Checked    time.Time `json:"checked"`
}

// Problem says what is wrong with the log's disk, "" when nothing is.
func (s DiskStatus) Problem() string {
	if !s.Full {
		return ""
	}
	return fmt.Sprintf("the log's disk is full (data dir %s, %d bytes free)", s.DataDir, s.FreeBytes)
}

// diskGuard watches the filesystem the embedded server stores the log on.
// A write that finds the disk full leaves nats-server's stream with a
// sticky write error (it answers no publish on it again: clients see only
// their own timeout), and JetStream's own limit, worked out from the free
// space when JetStream started, never grows when the operator frees space.
// Either way nothing recovers until JetStream is started again. The guard
// notices the server's complaint (through the server's logger) or a disk
// with nothing left, says so in Gantry's log and to SubjectLogStatus, and
// once room has come back restarts JetStream in the same process
// (ShutdownJetStream keeps the store; EnableJetStream recovers every
// stream from its files, as at a start, and works out the limit afresh).
// Clients keep their connections: ordered consumers make themselves again,
// durable ones are recovered from disk.
type diskGuard struct {
	dir  string
	cfg  DiskConfig
	log  zerolog.Logger
	opts []nats.Option // the connection's credentials, when the server has auth
	hit  chan string   // the server's complaints, 1-buffered

	mu       sync.Mutex
	status   DiskStatus
	fullFree uint64 // free bytes when the store ran out of room
	lowSaid  bool
}

func newDiskGuard(dir string, cfg DiskConfig, log zerolog.Logger) *diskGuard {
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	return &diskGuard{dir: dir, cfg: cfg, log: log.With().Str("component", "disk").Logger(),
		hit: make(chan string, 1), status: DiskStatus{DataDir: dir}}
}

// storeError is the server logger's hook: the store ran out of room.
func (g *diskGuard) storeError(msg string) {
	select {
	case g.hit <- msg:
	default:
	}
}

// run watches until the server shuts down. It owns the connection that
// answers SubjectLogStatus.
func (g *diskGuard) run(srv *server.Server) {
	quit := make(chan struct{})
	go func() { srv.WaitForShutdown(); close(quit) }()
	opts := append([]nats.Option{nats.InProcessServer(srv), nats.Name("gantry-disk-guard"), nats.MaxReconnects(-1)}, g.opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		g.log.Error().Err(err).Msg("disk guard cannot answer " + SubjectLogStatus)
	} else {
		defer nc.Close()
		if _, err := nc.Subscribe(SubjectLogStatus, g.answer); err != nil {
			g.log.Error().Err(err).Msg("disk guard cannot answer " + SubjectLogStatus)
		}
	}
	tick := time.NewTicker(g.cfg.Every)
	defer tick.Stop()
	g.check(srv, "")
	for {
		select {
		case <-quit:
			return
		case msg := <-g.hit:
			g.check(srv, msg)
		case <-tick.C:
			g.check(srv, "")
		}
	}
}

func (g *diskGuard) answer(m *nats.Msg) {
	b, err := json.Marshal(g.current())
	if err != nil {
		return
	}
	_ = m.Respond(b)
}

func (g *diskGuard) current() DiskStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}

// check looks at the free space; complaint is what the server said, if it
// just ran out of room.
func (g *diskGuard) check(srv *server.Server, complaint string) {
	var st unix.Statfs_t
	if err := unix.Statfs(g.dir, &st); err != nil {
		g.log.Warn().Err(err).Str("data", g.dir).Msg("cannot read the log's free space")
		return
	}
	free, total := st.Bavail*uint64(st.Bsize), st.Blocks*uint64(st.Bsize)
	low := g.cfg.LowBelow
	if low == 0 {
		low = min(1<<30, total/10)
	}
	room := g.cfg.RoomAt
	if room == 0 {
		room = min(64<<20, total/8)
	}
	g.mu.Lock()
	s := &g.status
	s.FreeBytes, s.TotalBytes, s.Checked, s.Low = free, total, time.Now(), free < low
	// A disk with less than a block's worth left is full whatever the
	// server has said so far: its next write fails.
	if !s.Full && (complaint != "" || free < 64<<10) {
		s.Full, s.Reason, g.fullFree = true, complaint, free
		if s.Reason == "" {
			s.Reason = "no space left on the log's disk"
		}
		g.log.Error().Str("data", g.dir).Uint64("free", free).Str("reason", s.Reason).
			Msgf("%s: appends fail until room is made; JetStream restarts by itself once %d bytes more are free", s.Problem(), room)
	}
	switch {
	case s.Low && !g.lowSaid:
		g.lowSaid = true
		g.log.Warn().Str("data", g.dir).Uint64("free", free).Uint64("total", total).Msg("the log's disk is nearly full")
	case !s.Low && g.lowSaid:
		g.lowSaid = false
		g.log.Info().Str("data", g.dir).Uint64("free", free).Msg("the log's disk has room again")
	}
	restart := s.Full && free >= g.fullFree+room
	g.mu.Unlock()
	if !restart {
		return
	}
	g.log.Warn().Str("data", g.dir).Uint64("free", free).Msg("room on the log's disk again: restarting JetStream")
	err := restartJetStream(srv, g.dir)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		// Tried again once more room has come.
		g.fullFree = free
		g.log.Error().Err(err).Str("data", g.dir).Msg("restart JetStream")
		return
	}
	s.Full, s.Reason = false, ""
	s.Restarts++
	// A complaint from before the restart is about the old store.
	select {
	case <-g.hit:
	default:
	}
	g.log.Info().Str("data", g.dir).Uint64("free", free).Msg("JetStream restarted: the log takes appends again")
}

// restartJetStream stops JetStream, keeping its store, and starts it again
// on the same directory, as the server does at start. With no limits given,
// the server works its configuration out again from its options, SyncAlways
// included (the disk test checks it).
func restartJetStream(srv *server.Server, storeDir string) error {
	if srv.JetStreamEnabled() {
		if err := srv.ShutdownJetStream(); err != nil {
			return fmt.Errorf("stop jetstream: %w", err)
		}
	}
	if err := srv.EnableJetStream(&server.JetStreamConfig{StoreDir: storeDir}); err != nil {
		return fmt.Errorf("start jetstream: %w", err)
	}
	return nil
}

// LogStatus asks the embedded server's disk guard about the log's disk. It
// fails with nats.ErrNoResponders when there is none (an external NATS).
func LogStatus(ctx context.Context, nc *nats.Conn) (DiskStatus, error) {
	m, err := nc.RequestWithContext(ctx, SubjectLogStatus, nil)
	if err != nil {
		return DiskStatus{}, fmt.Errorf("log status: %w", err)
	}
	var s DiskStatus
	if err := json.Unmarshal(m.Data, &s); err != nil {
		return DiskStatus{}, fmt.Errorf("log status: %w", err)
	}
	return s, nil
}

// ErrNoRoom means the log's server refused an append for want of room
// (JetStream's insufficient resources, or a store that failed to write).
var ErrNoRoom = errors.New("the log's server has no room left")

// Explain turns a failed append into what an operator can act on: when the
// embedded server's guard says the log's disk is full, that (with the data
// dir and the free bytes) is the error, whatever the client saw (a refusal,
// or only its own timeout: a stream that failed to write answers nothing).
func Explain(ctx context.Context, nc *nats.Conn, err error) error {
	if err == nil || nc == nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if s, serr := LogStatus(ctx, nc); serr == nil && s.Full {
		return fmt.Errorf("%s: %w", s.Problem(), err)
	}
	return err
}
