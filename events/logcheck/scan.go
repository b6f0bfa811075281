package logcheck

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// ScanResult is what reading one stream from first to last found.
type ScanResult struct {
	Stream     string
	Last       uint64 // the stream's last sequence when the scan began; read up to it
	Read       uint64
	Unreadable []events.SeqRange // counted by the stream, never delivered
	Bad        []BadMsg          // read, but not a Gantry envelope of a known type
	BadCount   uint64
	Took       time.Duration
}

// BadMsg is one message that does not decode.
type BadMsg struct {
	Seq uint64
	Err string
}

// maxBad bounds the undecodable messages a result lists (all are counted).
const maxBad = 20

// scanIdle is how long the scan waits for a message the stream counts:
// a live server answers in milliseconds.
const scanIdle = 2 * time.Second

// Scan reads every message of a stream up to its last sequence at the start,
// through a bus.Reader (bounded in bytes in flight, whatever the log's size;
// its consumer gone when the scan ends), and checks
// that each sequence the stream counts is delivered (a record damaged under
// an intact index is counted but never delivered) and decodes as a Gantry
// envelope of a registered type.
func Scan(ctx context.Context, js jetstream.JetStream, stream string) (res ScanResult, err error) {
	res.Stream = stream
	start := time.Now()
	defer func() { res.Took = time.Since(start) }()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return res, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return res, fmt.Errorf("stream %s info: %w", stream, err)
	}
	res.Last = info.State.LastSeq
	if info.State.Msgs == 0 {
		return res, nil
	}
	deleted := map[uint64]bool{}
	for _, q := range info.State.Deleted {
		deleted[q] = true
	}
	var missing []uint64
	gap := func(from, to uint64) { // sequences from..to were not delivered
		for q := from; q <= to; q++ {
			if !deleted[q] {
				missing = append(missing, q)
			}
		}
	}
	r, err := bus.Read(ctx, js, stream, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return res, err
	}
	defer r.Close()
	next := info.State.FirstSeq
	for next <= res.Last {
		wait, cancel := context.WithTimeout(ctx, scanIdle)
		m, err := r.Next(wait)
		cancel()
		if err != nil {
			if ctx.Err() == nil && wait.Err() != nil {
				break // nothing more is delivered: the rest is unreadable
			}
			return res, fmt.Errorf("read %s: %w", stream, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return res, fmt.Errorf("read %s: %w", stream, err)
		}
		seq := md.Sequence.Stream
		if seq > res.Last {
			break
		}
		if seq > next {
			gap(next, seq-1)
		}
		next = seq + 1
		res.Read++
		if err := decodes(m.Data()); err != nil {
			res.BadCount++
			if len(res.Bad) < maxBad {
				res.Bad = append(res.Bad, BadMsg{Seq: seq, Err: err.Error()})
			}
		}
	}
	if next <= res.Last {
		gap(next, res.Last)
	}
	res.Unreadable = ToRanges(missing)
	return res, ctx.Err()
}

func decodes(b []byte) error {
	env, err := events.Parse(b)
	if err != nil {
		return err
	}
	_, err = env.Decode()
	return err
}

// OK reports a stream read whole with every message decoded.
func (r ScanResult) OK() bool { return len(r.Unreadable) == 0 && r.BadCount == 0 }
