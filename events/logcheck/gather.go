package logcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// nodeConsumerPrefix is node.ConsumerName's prefix ("node-<name>"); this
// package may not import the node agent.
const nodeConsumerPrefix = "node-"

// Inputs are what Check reads: each stream's state and the readers' floors.
type Inputs struct {
	States map[string]State
	Floors []Floor
}

// Gather asks the server for each stream's state (with its deleted
// sequences), the projector's progress and every node consumer's delivered
// and acknowledged sequences.
func Gather(ctx context.Context, js jetstream.JetStream) (Inputs, error) {
	in := Inputs{States: map[string]State{}}
	for _, spec := range events.Streams() {
		if spec.Memory {
			continue
		}
		st, err := js.Stream(ctx, spec.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			in.States[spec.Name] = State{}
			continue
		}
		if err != nil {
			return in, fmt.Errorf("stream %s: %w", spec.Name, err)
		}
		info, err := st.Info(ctx, jetstream.WithDeletedDetails(true))
		if err != nil {
			return in, fmt.Errorf("stream %s info: %w", spec.Name, err)
		}
		s := info.State
		state := State{Exists: true, First: s.FirstSeq, Last: s.LastSeq, Msgs: s.Msgs, NumDeleted: uint64(s.NumDeleted), Deleted: s.Deleted}
		if s.Lost != nil {
			state.Lost = s.Lost.Msgs
		}
		in.States[spec.Name] = state
		if spec.Name == events.StreamDecisions {
			floors, err := consumerFloors(ctx, st, spec.Name)
			if err != nil {
				return in, err
			}
			in.Floors = append(in.Floors, floors...)
		}
	}
	p, err := progress(ctx, js)
	if err != nil {
		return in, err
	}
	for stream, seq := range p {
		in.Floors = append(in.Floors, Floor{Stream: stream, Seq: seq, Who: "the read models' progress (" + bus.BucketProjector + "/" + bus.KeyProgress + ")"})
	}
	return in, nil
}

func consumerFloors(ctx context.Context, st jetstream.Stream, stream string) ([]Floor, error) {
	var out []Floor
	l := st.ListConsumers(ctx)
	for ci := range l.Info() {
		if !strings.HasPrefix(ci.Name, nodeConsumerPrefix) {
			continue
		}
		out = append(out,
			Floor{Stream: stream, Seq: ci.Delivered.Stream, Who: "node consumer " + ci.Name + " (delivered)", Consumer: ci.Name},
			Floor{Stream: stream, Seq: ci.AckFloor.Stream, Who: "node consumer " + ci.Name + " (acknowledged)", Consumer: ci.Name})
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("consumers of %s: %w", stream, err)
	}
	return out, nil
}

// progress reads gantry_projector/progress; none (a fresh log) is empty.
func progress(ctx context.Context, js jetstream.JetStream) (map[string]uint64, error) {
	kv, err := js.KeyValue(ctx, bus.BucketProjector)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read models' progress: %w", err)
	}
	e, err := kv.Get(ctx, bus.KeyProgress)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read models' progress: %w", err)
	}
	var p api.Progress
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, fmt.Errorf("read models' progress: %w", err)
	}
	return p.Applied, nil
}

// Marks is the watermark of the streams as they stand now.
func Marks(in Inputs) map[string]Mark {
	out := map[string]Mark{}
	for name, s := range in.States {
		if s.Exists {
			out[name] = Mark{First: s.First, Last: s.Last, Msgs: s.Msgs, NumDeleted: s.NumDeleted}
		}
	}
	return out
}
