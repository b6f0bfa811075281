// Package projector folds the log into the KV read models that `gantry get`
// reads and watches. Every record carries the stream sequences it reflects,
// and the bucket gantry_projector holds the sequences applied so far, so a
// reader can wait until the model has caught up with a write it made.
package projector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// Name of the service.
const Name = "projector"

// Service writes read models.
type Service struct {
	c        *projections.Cluster
	js       jetstream.JetStream
	progress map[string]uint64 // what the KV progress record says
	loaded   bool              // progress was read from KV (once, at the first flush)
	nodes    map[string]nodeMark
}

// HeartbeatStaleness is how far behind a node record in the read model may
// let its last heartbeat fall: a heartbeat that changes nothing else is
// written at most this often. Rewriting the record on every heartbeat cost
// the server 3.2 s of CPU in one B1 run (5,000 nodes), against 4.4 s for
// storing the heartbeats themselves; with this, 1.9 s. A node's state (the
// health service's decision) is written at once when it changes; a node
// never decided is NotReady after projections.NodeLostAfter (40 s) without a
// heartbeat, so readers still judge it right: heartbeats come every 5–12 s.
const HeartbeatStaleness = 15 * time.Second

// nodeMark is what the read model holds of a node.
type nodeMark struct {
	info          events.NodeInfo
	unschedulable bool
	registered    time.Time
	heartbeat     time.Time
	state         *projections.NodeState
}

// fresh reports whether the read model's record of n is current enough
// that n's change need not be written.
func (m nodeMark) fresh(n *projections.Node) bool {
	return m.unschedulable == n.Unschedulable && m.registered.Equal(n.RegisteredAt) && m.state == n.State &&
		n.LastHeartbeat.Sub(m.heartbeat) < HeartbeatStaleness && reflect.DeepEqual(m.info, n.Info)
}

// New returns a projector writing through js.
func New(js jetstream.JetStream) *Service {
	return &Service{c: projections.NewCluster(), js: js, progress: map[string]uint64{}, nodes: map[string]nodeMark{}}
}

// HeartbeatEvery is how often the projector takes a node's heartbeat; the
// others are skipped unread (runner.Source.Every).
const HeartbeatEvery = 5 * time.Second

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions, Filters: []string{events.SubjectDecisionAll}}, // not the copies for nodes
		{Stream: events.StreamObservations},
		// At most one heartbeat per node per HeartbeatEvery: the node's
		// record is rewritten every HeartbeatStaleness anyway.
		{Stream: events.StreamHeartbeats, Every: HeartbeatEvery},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service; the projector decides nothing.
func (s *Service) Decide(time.Time) []runner.Decision { return nil }

// Flush writes every changed record, then the progress record.
func (s *Service) Flush(ctx context.Context) error {
	if !s.loaded {
		if err := s.loadProgress(ctx); err != nil {
			return err
		}
	}
	if s.c.Dirty.Len() == 0 && sameSeqs(s.progress, s.c.Applied) {
		return nil
	}
	byBucket := map[string][]*nats.Msg{}
	put := func(bucket, key string, v any) error {
		m := nats.NewMsg("$KV." + bucket + "." + key)
		if v == nil {
			m.Header.Set("KV-Operation", "DEL")
		} else {
			b, err := events.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
			}
			m.Data = b
		}
		byBucket[bucket] = append(byBucket[bucket], m)
		return nil
	}
	marks := map[string]nodeMark{}
	for key, seqs := range s.c.Dirty.Pods {
		if s.written(seqs) {
			continue // replayed after a restart: the read model has it already
		}
		var err error
		if p := s.c.Pods[key]; p != nil {
			err = put(bus.BucketPods, kvKey(key), p)
		} else {
			err = put(bus.BucketPods, kvKey(key), nil)
		}
		if err != nil {
			return err
		}
	}
	for key, seqs := range s.c.Dirty.Workloads {
		if s.written(seqs) {
			continue
		}
		w := s.c.Workloads[key]
		if w == nil {
			// Deleted, owning nothing, and forgotten by the fold.
			if err := put(bus.BucketWorkloads, kvKey(key), nil); err != nil {
				return err
			}
			continue
		}
		w.Status = s.c.Status(w)
		if err := put(bus.BucketWorkloads, kvKey(key), w); err != nil {
			return err
		}
	}
	for key, seqs := range s.c.Dirty.Nodes {
		n := s.c.Nodes[key]
		if n == nil || s.written(seqs) {
			continue
		}
		if m, ok := s.nodes[key]; ok && m.fresh(n) {
			continue // a heartbeat, and the record's is recent enough
		}
		if err := put(bus.BucketNodes, kvKey(key), n); err != nil {
			return err
		}
		marks[key] = nodeMark{info: n.Info, unschedulable: n.Unschedulable, registered: n.RegisteredAt, heartbeat: n.LastHeartbeat,
			state: n.State}
	}
	applied := make(map[string]uint64, len(s.c.Applied))
	for k, v := range s.c.Applied {
		applied[k] = v
	}
	if err := put(bus.BucketProjector, bus.KeyProgress, api.Progress{Applied: applied}); err != nil {
		return err
	}
	// Records first, the progress record last: a reader that sees the
	// progress sees every record it covers.
	for _, b := range []string{bus.BucketPods, bus.BucketWorkloads, bus.BucketNodes, bus.BucketProjector} {
		msgs := byBucket[b]
		if len(msgs) < bus.MinAtomicBatch {
			// A few records (heartbeats, the progress record): pipelined
			// publishes cost less than an atomic batch, and each record is
			// whole on its own.
			if err := bus.PublishMsgs(ctx, s.js, msgs); err != nil {
				return fmt.Errorf("write read model %s: %w", b, err)
			}
			continue
		}
		for len(msgs) > 0 {
			chunk := msgs[:min(len(msgs), bus.MaxBatch)]
			msgs = msgs[len(chunk):]
			if _, _, err := bus.PublishAtomicMsgs(ctx, s.js, chunk); err != nil {
				return fmt.Errorf("write read model %s: %w", b, err)
			}
		}
	}
	s.c.ClearDirty()
	s.progress = applied
	maps.Copy(s.nodes, marks)
	return nil
}

// loadProgress reads how far the read models were written before a restart.
func (s *Service) loadProgress(ctx context.Context) error {
	kv, err := s.js.KeyValue(ctx, bus.BucketProjector)
	if err != nil {
		return fmt.Errorf("projector progress: %w", err)
	}
	e, err := kv.Get(ctx, bus.KeyProgress)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("projector progress: %w", err)
	default:
		var p api.Progress
		if err := json.Unmarshal(e.Value(), &p); err != nil {
			return fmt.Errorf("projector progress: %w", err)
		}
		s.progress = p.Applied
	}
	s.loaded = true
	return nil
}

// written reports a record whose every change was already written before a
// restart (the progress record is written after the records it covers), so
// replaying the log does not rewrite the whole read model.
func (s *Service) written(seqs projections.Seqs) bool {
	for stream, seq := range seqs {
		if seq > s.progress[stream] {
			return false
		}
	}
	return len(seqs) > 0
}

// kvKey turns a fold key ("ns/name", "kind/ns/name") into a KV key.
func kvKey(k string) string { return strings.ReplaceAll(k, "/", ".") }

func sameSeqs(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
