// Package projector folds the log into the KV read models that `gantry get`
// reads and watches. Every record carries the stream sequences it reflects,
// and the bucket gantry_projector holds the sequences applied so far, so a
// reader can wait until the model has caught up with a write it made.
package projector

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
}

// New returns a projector writing through js.
func New(js jetstream.JetStream) *Service {
	return &Service{c: projections.NewCluster(), js: js, progress: map[string]uint64{}}
}

// Name implements runner.Service.
func (s *Service) Name() string { return Name }

// Sources implements runner.Service.
func (s *Service) Sources() []runner.Source {
	return []runner.Source{
		{Stream: events.StreamDecisions},
		{Stream: events.StreamObservations},
		{Stream: events.StreamHeartbeats},
	}
}

// Apply implements runner.Service.
func (s *Service) Apply(r events.Record) { s.c.Apply(r) }

// Decide implements runner.Service; the projector decides nothing.
func (s *Service) Decide(time.Time) []runner.Decision { return nil }

// Progress is the record under gantry_projector/progress.
type Progress struct {
	Applied map[string]uint64 `json:"applied"`
}

// Flush writes every changed record, then the progress record.
func (s *Service) Flush(ctx context.Context) error {
	if len(s.c.Dirty) == 0 && sameSeqs(s.progress, s.c.Applied) {
		return nil
	}
	var futs []jetstream.PubAckFuture
	put := func(bucket, key string, v any) error {
		m := nats.NewMsg("$KV." + bucket + "." + key)
		if v == nil {
			m.Header.Set("KV-Operation", "DEL")
		} else {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode %s/%s: %w", bucket, key, err)
			}
			m.Data = b
		}
		f, err := s.js.PublishMsgAsync(m)
		if err != nil {
			return fmt.Errorf("write %s/%s: %w", bucket, key, err)
		}
		futs = append(futs, f)
		return nil
	}
	for d := range s.c.Dirty {
		kind, key, _ := strings.Cut(d, "/")
		var err error
		switch kind {
		case "pod":
			if p := s.c.Pods[key]; p != nil {
				err = put(bus.BucketPods, kvKey(key), p)
			} else {
				err = put(bus.BucketPods, kvKey(key), nil)
			}
		case "workload":
			if w := s.c.Workloads[key]; w != nil {
				w.Status = s.c.Status(w)
				err = put(bus.BucketWorkloads, kvKey(key), w)
			}
		case "node":
			if n := s.c.Nodes[key]; n != nil {
				err = put(bus.BucketNodes, kvKey(key), n)
			}
		}
		if err != nil {
			return err
		}
	}
	applied := make(map[string]uint64, len(s.c.Applied))
	for k, v := range s.c.Applied {
		applied[k] = v
	}
	if err := put(bus.BucketProjector, bus.KeyProgress, Progress{Applied: applied}); err != nil {
		return err
	}
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("write read model: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.c.ClearDirty()
	s.progress = applied
	return nil
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
