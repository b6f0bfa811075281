package logcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Store keeps the watermark. Load returns nil, nil when none was written.
type Store interface {
	Load(ctx context.Context) (*Watermark, error)
	Save(ctx context.Context, wm Watermark) error
	Where() string
}

// WatermarkFile is the watermark's file in a data dir, beside (not in) the
// JetStream store.
const WatermarkFile = "log-watermark.json"

// FileStore keeps the watermark in a file of the data dir: `gantry up`'s.
// It is outside JetStream's store on purpose: a KV bucket is a stream on the
// same disk, recovered by the same code that cuts a damaged block without a
// word, so a damaged bucket would roll back with the log it vouches for.
type FileStore struct{ Path string }

// NewFileStore keeps the watermark in dataDir.
func NewFileStore(dataDir string) FileStore {
	return FileStore{Path: filepath.Join(dataDir, WatermarkFile)}
}

func (f FileStore) Where() string { return f.Path }

func (f FileStore) Load(context.Context) (*Watermark, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log watermark: %w", err)
	}
	var wm Watermark
	if err := json.Unmarshal(b, &wm); err != nil {
		return nil, fmt.Errorf("log watermark %s is unreadable (%w): move it aside to start without it", f.Path, err)
	}
	return &wm, nil
}

// Save writes a temporary file, syncs it and renames it over the old one,
// so a crash leaves the old watermark or the new, never half of one.
func (f FileStore) Save(_ context.Context, wm Watermark) error {
	b, err := json.MarshalIndent(wm, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), WatermarkFile+".*")
	if err != nil {
		return fmt.Errorf("log watermark: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("log watermark: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("log watermark: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("log watermark: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("log watermark: %w", err)
	}
	return nil
}

// BucketWatermark holds the watermark of a control plane that runs against
// an external NATS (`gantry serve`), which has no data dir of its own.
const BucketWatermark = "gantry_watermark"

const keyWatermark = "streams"

// KVStore keeps the watermark in KV: `gantry serve`'s. In a NATS cluster the
// bucket is replicated like the streams (3 replicas), so one damaged disk
// does not roll it back; on a single server it shares the log's disk and
// vouches for less (see docs/operations.md).
type KVStore struct {
	JS       jetstream.JetStream
	Replicas int
}

func (k KVStore) Where() string { return "KV " + BucketWatermark + "/" + keyWatermark }

func (k KVStore) Load(ctx context.Context) (*Watermark, error) {
	kv, err := k.JS.KeyValue(ctx, BucketWatermark)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log watermark: %w", err)
	}
	e, err := kv.Get(ctx, keyWatermark)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("log watermark: %w", err)
	}
	var wm Watermark
	if err := json.Unmarshal(e.Value(), &wm); err != nil {
		return nil, fmt.Errorf("log watermark %s is unreadable: %w", k.Where(), err)
	}
	return &wm, nil
}

func (k KVStore) Save(ctx context.Context, wm Watermark) error {
	kv, err := k.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketWatermark, History: 1,
		Storage: jetstream.FileStorage, Replicas: max(k.Replicas, 1)})
	if err != nil {
		return fmt.Errorf("log watermark: %w", err)
	}
	b, err := json.Marshal(wm)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, keyWatermark, b); err != nil {
		return fmt.Errorf("log watermark: %w", err)
	}
	return nil
}

// KeepInterval is how often a running control plane writes the watermark
// (when a stream moved). A loss that happens within it, after a crash, is
// found by the other floors (the read models' progress, node consumers)
// or by `gantry log verify`, not by the watermark.
const KeepInterval = 5 * time.Second

// Keep writes the watermark every interval while the control plane runs,
// and once more when stop is called (a clean stop). Start it only after
// Check passed (or the loss was accepted): a watermark written from a
// damaged log would vouch for the damage. stop returns once the last write
// is done; call it before the connection closes.
//
// The watermark only moves forward: a stream that ends earlier than it did
// (deleted or cut under a running control plane) keeps its old mark, so the
// next start finds the loss.
func Keep(ctx context.Context, js jetstream.JetStream, store Store, from *Watermark, interval time.Duration, log zerolog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var last map[string]Mark
	if from != nil {
		last = from.Streams
	}
	write := func(ctx context.Context, clean bool) {
		in, err := Gather(ctx, js)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("log watermark")
			}
			return
		}
		marks := Marks(in)
		for name, old := range last {
			if m, ok := marks[name]; !ok || m.Last < old.Last {
				log.Error().Str("stream", name).Uint64("was", old.Last).Uint64("now", m.Last).
					Msg("stream ends before its watermark: the log lost messages while running; the next start will refuse")
				marks[name] = old
			}
		}
		if !clean && maps.Equal(marks, last) {
			return
		}
		if err := store.Save(ctx, Watermark{At: time.Now().UTC(), Clean: clean, Streams: marks}); err != nil {
			log.Warn().Err(err).Str("where", store.Where()).Msg("log watermark")
			return
		}
		last = marks
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				write(ctx, false)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		fin, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		write(fin, true)
	}
}
