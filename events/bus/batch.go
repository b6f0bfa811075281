package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// MaxBatch is the most messages one atomic batch may hold (the server's
// default limit).
const MaxBatch = 1000

// MinAtomicBatch is the fewest messages worth an atomic batch when
// atomicity is not needed. nats-server stages each atomic batch of a file
// stream in a store of its own: a batch of 3 costs ~4 ms where 3
// pipelined publishes cost ~1 ms (each fsync'd), so below this size plain
// publishes are cheaper; above it one batch beats one fsync per message.
const MinAtomicBatch = 16

// ErrDuplicate means an atomic batch was refused because one of its message
// ids is already stored: a decision made again after a crash or a timeout.
var ErrDuplicate = errors.New("batch holds a message already stored")

// errCodeBatchDuplicate is nats-server's JSAtomicPublishContainsDuplicateMessageErr.
const errCodeBatchDuplicate jetstream.ErrorCode = 10201

// ErrBusy means an atomic batch was refused, nothing of it stored, because
// the server holds as many open atomic batches as it allows (50 per stream
// by default). Publishing the messages one by one (Publish) is the way on.
var ErrBusy = errors.New("too many atomic batches in flight")

// PublishAtomic stores every Outgoing in one atomic batch: all or none, in
// order, with one fsync. Every message must go to the same stream, and that
// stream must allow atomic publish. An expectation that fails, or a message
// id already stored, refuses the whole batch; the caller decides what to do
// (re-decide, or publish one by one to let deduplication sort it out).
// It returns the stream and the sequence of the batch's last message.
func PublishAtomic(ctx context.Context, js jetstream.JetStream, out []Outgoing) (string, uint64, error) {
	if len(out) == 0 {
		return "", 0, nil
	}
	if len(out) > MaxBatch {
		return "", 0, fmt.Errorf("atomic batch of %d messages: at most %d", len(out), MaxBatch)
	}
	msgs := make([]*nats.Msg, len(out))
	for i, o := range out {
		m, err := o.Msg()
		if err != nil {
			return "", 0, err
		}
		msgs[i] = m
	}
	return PublishAtomicMsgs(ctx, js, msgs)
}

// PublishAtomicMsgs stores ready-made messages (KV writes, say) in one
// atomic batch; see PublishAtomic.
func PublishAtomicMsgs(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) (string, uint64, error) {
	out := msgs
	if len(out) == 0 {
		return "", 0, nil
	}
	if len(out) > MaxBatch {
		return "", 0, fmt.Errorf("atomic batch of %d messages: at most %d", len(out), MaxBatch)
	}
	ack, err := jetstreamext.PublishMsgBatch(ctx, js, msgs)
	if err != nil {
		abandon(js.Conn(), msgs)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode {
			case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
				return "", 0, fmt.Errorf("atomic batch of %d: %w (%s)", len(out), ErrConflict, apiErr.Description)
			case errCodeBatchDuplicate:
				return "", 0, fmt.Errorf("atomic batch of %d: %w (%s)", len(out), ErrDuplicate, apiErr.Description)
			case jetstreamext.JSErrCodeAtomicPublishTooManyInflight:
				return "", 0, fmt.Errorf("atomic batch of %d: %w (%s)", len(out), ErrBusy, apiErr.Description)
			}
		}
		return "", 0, fmt.Errorf("atomic batch of %d: %w", len(out), err)
	}
	return ack.Stream, ack.Sequence, nil
}

// abandon tells the server to drop what it holds of a batch that failed on
// this side: its commit not sent (the context ended first), or the first
// message's acknowledgement not received. Otherwise the server keeps the
// open batch for its batch timeout (10 s), and a stream takes at most 50
// open batches: a killed runner leaves up to eight, a node agent whose
// report timed out one, and in the services' kill test the restarted
// runners' batches were refused as "too many in flight" for those 10 s.
// A message with the batch's id and an unknown commit value makes the
// server clean the batch up at once; if the commit did reach the server,
// the batch is already stored and gone when this arrives (one connection
// keeps the order), and it is ignored. Best effort: on failure the
// server's timeout still applies.
func abandon(nc *nats.Conn, msgs []*nats.Msg) {
	id := msgs[0].Header.Get(jetstreamext.BatchIDHeader)
	if id == "" {
		return
	}
	m := nats.NewMsg(msgs[0].Subject)
	m.Header.Set(jetstreamext.BatchIDHeader, id)
	m.Header.Set(jetstreamext.BatchSeqHeader, strconv.Itoa(len(msgs)+1))
	m.Header.Set(jetstreamext.BatchCommitHeader, "abandon")
	_ = nc.PublishMsg(m)
}
