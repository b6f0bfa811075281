package logcheck

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// ManifestFile describes a backup; each stream has <STREAM>.json (the
// server's snapshot response: config and state) and <STREAM>.tar.s2 (the
// snapshot itself, as nats-server streams it).
const ManifestFile = "gantry-backup.json"

// Manifest is what a backup holds.
type Manifest struct {
	Taken   time.Time      `json:"taken"`
	Version string         `json:"version"` // gantry's
	Streams []StreamBackup `json:"streams"` // in the order they were taken
}

// StreamBackup is one stream's snapshot.
type StreamBackup struct {
	Name  string `json:"name"`
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	Msgs  uint64 `json:"msgs"`
	Bytes uint64 `json:"bytes"`
	File  string `json:"file"`
}

// BackupOrder is the order streams are snapshotted in: effects before their
// causes. A node observes what a decision asked, a decision answers an
// intent; taking observations, then decisions, then intents means every
// intent a stored verdict answers, and every decision a stored observation
// follows, is in the backup too. What the later snapshots add (intents not
// yet judged, decisions not yet acted on) is what any running log holds,
// and the control plane finishes it after a restore.
func BackupOrder() []string {
	return []string{events.StreamObservations, events.StreamDecisions, events.StreamIntents}
}

// snapshotRequest is $JS.API.STREAM.SNAPSHOT's request (nats-server's
// JSApiStreamSnapshotRequest; natscli's `nats stream backup` sends the same).
type snapshotRequest struct {
	DeliverSubject string `json:"deliver_subject"`
	NoConsumers    bool   `json:"no_consumers,omitempty"`
	ChunkSize      int    `json:"chunk_size,omitempty"`
	CheckMsgs      bool   `json:"jsck,omitempty"`
}

type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

// snapshotResponse holds the config and state as raw JSON, handed back
// unchanged to RESTORE.
type snapshotResponse struct {
	Error  *apiError       `json:"error,omitempty"`
	Config json.RawMessage `json:"config"`
	State  json.RawMessage `json:"state"`
}

// Backup snapshots every stream kept on disk into dir (which must be empty
// or missing), in BackupOrder, without consumers: a restored log has no
// consumer ahead of it, and each node agent makes its consumer again and
// reads the newest decision of each of its pods. The read models (KV) are
// not in a backup: the projector rebuilds them from the log; leases live 6
// seconds; heartbeats are in memory and come back within an interval.
func Backup(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, dir, version string) (Manifest, error) {
	man := Manifest{Taken: time.Now().UTC(), Version: version}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return man, fmt.Errorf("backup dir %s is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return man, err
	}
	for _, name := range BackupOrder() {
		sb, err := snapshot(ctx, nc, js, dir, name)
		if err != nil {
			return man, err
		}
		man.Streams = append(man.Streams, sb)
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return man, err
	}
	// The manifest last: a backup without it is incomplete.
	return man, os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

func snapshot(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, dir, name string) (StreamBackup, error) {
	sb := StreamBackup{Name: name, File: name + ".tar.s2"}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return sb, err
	}
	defer sub.Unsubscribe()
	req, _ := json.Marshal(snapshotRequest{DeliverSubject: inbox, NoConsumers: true, ChunkSize: 512 << 10})
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.SNAPSHOT."+name, req)
	if err != nil {
		return sb, fmt.Errorf("snapshot %s: %w", name, err)
	}
	var sr snapshotResponse
	if err := json.Unmarshal(resp.Data, &sr); err != nil {
		return sb, fmt.Errorf("snapshot %s: %w", name, err)
	}
	if sr.Error != nil {
		return sb, fmt.Errorf("snapshot %s: %s (%d)", name, sr.Error.Description, sr.Error.ErrCode)
	}
	var raw struct {
		Msgs     uint64 `json:"messages"`
		Bytes    uint64 `json:"bytes"`
		FirstSeq uint64 `json:"first_seq"`
		LastSeq  uint64 `json:"last_seq"`
	}
	if err := json.Unmarshal(sr.State, &raw); err != nil {
		return sb, fmt.Errorf("snapshot %s state: %w", name, err)
	}
	sb.First, sb.Last, sb.Msgs, sb.Bytes = raw.FirstSeq, raw.LastSeq, raw.Msgs, raw.Bytes
	meta, _ := json.MarshalIndent(sr, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, name+".json"), meta, 0o644); err != nil {
		return sb, err
	}
	f, err := os.Create(filepath.Join(dir, sb.File))
	if err != nil {
		return sb, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return sb, fmt.Errorf("snapshot %s: %w", name, err)
		}
		if len(m.Data) == 0 {
			// The end: status 204 when whole, another with the reason.
			if st := m.Header.Get("Status"); st != "" && st != "204" {
				return sb, fmt.Errorf("snapshot %s: server ended it with %s %s", name, st, m.Header.Get("Description"))
			}
			break
		}
		if _, err := w.Write(m.Data); err != nil {
			return sb, err
		}
		if m.Reply != "" {
			if err := m.Respond(nil); err != nil { // flow control: the next chunk
				return sb, fmt.Errorf("snapshot %s: %w", name, err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return sb, err
	}
	return sb, f.Sync()
}

// ReadManifest reads a backup's manifest.
func ReadManifest(dir string) (Manifest, error) {
	var man Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return man, fmt.Errorf("backup %s: %w (not a finished Gantry backup)", dir, err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return man, fmt.Errorf("backup %s: %w", dir, err)
	}
	return man, nil
}

// restoreChunk is the size of each restore message.
const restoreChunk = 128 << 10

// Restore creates each stream of a backup from its snapshot. None of them
// may exist: a restore goes into a fresh data dir (or a NATS that holds no
// Gantry log). It checks each restored stream against the manifest.
func Restore(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, dir string) (Manifest, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return man, err
	}
	for _, sb := range man.Streams {
		if _, err := js.Stream(ctx, sb.Name); err == nil {
			return man, fmt.Errorf("stream %s exists already: restore into a fresh data dir (or delete the stream, knowing what it holds)", sb.Name)
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return man, fmt.Errorf("stream %s: %w", sb.Name, err)
		}
	}
	for _, sb := range man.Streams {
		if err := restoreStream(ctx, nc, dir, sb); err != nil {
			return man, err
		}
		st, err := js.Stream(ctx, sb.Name)
		if err != nil {
			return man, fmt.Errorf("restored %s: %w", sb.Name, err)
		}
		s := st.CachedInfo().State
		if s.Msgs != sb.Msgs || s.LastSeq != sb.Last {
			return man, fmt.Errorf("restored %s holds %d messages up to %d, the backup %d up to %d", sb.Name, s.Msgs, s.LastSeq, sb.Msgs, sb.Last)
		}
	}
	return man, nil
}

func restoreStream(ctx context.Context, nc *nats.Conn, dir string, sb StreamBackup) error {
	meta, err := os.ReadFile(filepath.Join(dir, sb.Name+".json"))
	if err != nil {
		return err
	}
	var sr snapshotResponse
	if err := json.Unmarshal(meta, &sr); err != nil {
		return fmt.Errorf("backup of %s: %w", sb.Name, err)
	}
	req, _ := json.Marshal(struct {
		Config json.RawMessage `json:"config"`
		State  json.RawMessage `json:"state"`
	}{sr.Config, sr.State})
	resp, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.RESTORE."+sb.Name, req)
	if err != nil {
		return fmt.Errorf("restore %s: %w", sb.Name, err)
	}
	var rr struct {
		Error          *apiError `json:"error,omitempty"`
		DeliverSubject string    `json:"deliver_subject"`
	}
	if err := json.Unmarshal(resp.Data, &rr); err != nil {
		return fmt.Errorf("restore %s: %w", sb.Name, err)
	}
	if rr.Error != nil {
		return fmt.Errorf("restore %s: %s (%d)", sb.Name, rr.Error.Description, rr.Error.ErrCode)
	}
	f, err := os.Open(filepath.Join(dir, sb.File))
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, restoreChunk)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			// Each chunk waits for the server's answer: flow control.
			r, rerr := nc.RequestWithContext(ctx, rr.DeliverSubject, buf[:n])
			if rerr != nil {
				return fmt.Errorf("restore %s: %w", sb.Name, rerr)
			}
			if len(r.Data) > 0 {
				return fmt.Errorf("restore %s: %s", sb.Name, r.Data)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	// An empty message ends the upload; the answer is the stream's info or
	// the error that stopped the restore.
	r, err := nc.RequestWithContext(ctx, rr.DeliverSubject, nil)
	if err != nil {
		return fmt.Errorf("restore %s: %w", sb.Name, err)
	}
	var done struct {
		Error *apiError `json:"error,omitempty"`
	}
	if err := json.Unmarshal(r.Data, &done); err != nil {
		return fmt.Errorf("restore %s: %w", sb.Name, err)
	}
	if done.Error != nil {
		return fmt.Errorf("restore %s: %s (%d)", sb.Name, done.Error.Description, done.Error.ErrCode)
	}
	return nil
}
