package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// Outgoing is one event to append.
type Outgoing struct {
	Subject  string
	Envelope events.Envelope
	// MsgID is the deterministic Nats-Msg-Id derived from the cause.
	MsgID string
	// ExpectLastSeq, when set, is the last sequence the writer saw on
	// ExpectOn (a subject or a wildcard filter; empty means Subject).
	ExpectLastSeq *uint64
	ExpectOn      string
}

// Result is what the log said about one Outgoing.
type Result struct {
	Stream    string
	Seq       uint64
	Duplicate bool  // already stored under the same MsgID; Seq is the original
	Err       error // ErrConflict when an expectation failed
}

// ErrConflict means the writer's view was stale: someone else wrote to the
// object first. The writer re-reads and decides again.
var ErrConflict = errors.New("expected last sequence does not match")

// Expect returns a pointer for Outgoing.ExpectLastSeq.
func Expect(seq uint64) *uint64 { return &seq }

// Msg turns an Outgoing into a NATS message with Gantry's headers.
func (o Outgoing) Msg() (*nats.Msg, error) {
	data, err := o.Envelope.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode %s on %s: %w", o.Envelope.Type, o.Subject, err)
	}
	m := nats.NewMsg(o.Subject)
	m.Data = data
	if o.MsgID != "" {
		m.Header.Set(events.HeaderMsgID, o.MsgID)
	}
	if o.ExpectLastSeq != nil {
		m.Header.Set(events.HeaderExpectedLastSubjSeq, strconv.FormatUint(*o.ExpectLastSeq, 10))
		if o.ExpectOn != "" && o.ExpectOn != o.Subject {
			m.Header.Set(events.HeaderExpectedLastSubjSeqOn, o.ExpectOn)
		}
	}
	return m, nil
}

// Publish appends every Outgoing (asynchronously, in order) and waits until
// the log has answered for each. It returns one Result per Outgoing; err is
// set only when the answers could not be had at all.
func Publish(ctx context.Context, js jetstream.JetStream, out []Outgoing) ([]Result, error) {
	msgs := make([]*nats.Msg, len(out))
	errs := make([]error, len(out))
	for i, o := range out {
		msgs[i], errs[i] = o.Msg()
	}
	return publishMsgs(ctx, js, msgs, errs)
}

// publishMsgs publishes msgs pipelined (those with no error yet: errs is
// aligned and may be nil) and waits for every answer.
func publishMsgs(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg, errs []error) ([]Result, error) {
	res := make([]Result, len(msgs))
	futs := make([]jetstream.PubAckFuture, len(msgs))
	for i, m := range msgs {
		if errs != nil && errs[i] != nil {
			res[i].Err = errs[i]
			continue
		}
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			res[i].Err = fmt.Errorf("publish %s: %w", m.Subject, err)
			continue
		}
		futs[i] = f
	}
	for i, f := range futs {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			res[i] = Result{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}
		case err := <-f.Err():
			res[i].Err = classify(msgs[i].Subject, err)
		case <-ctx.Done():
			return res, fmt.Errorf("publish: %w", ctx.Err())
		}
	}
	return res, nil
}

// PublishEach stores ready-made messages as pipelined single publishes and
// returns one Result per message; err is set only when the answers could
// not all be had.
func PublishEach(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) ([]Result, error) {
	return publishMsgs(ctx, js, msgs, nil)
}

// PublishOne appends one event synchronously.
func PublishOne(ctx context.Context, js jetstream.JetStream, o Outgoing) (Result, error) {
	m, err := o.Msg()
	if err != nil {
		return Result{}, err
	}
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		return Result{}, classify(o.Subject, err)
	}
	return Result{Stream: ack.Stream, Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

func classify(subject string, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return fmt.Errorf("publish %s: %w (%s)", subject, ErrConflict, apiErr.Description)
	}
	if errors.As(err, &apiErr) && isNoRoom(apiErr) {
		return fmt.Errorf("publish %s: %w (%s)", subject, ErrNoRoom, apiErr.Description)
	}
	return fmt.Errorf("publish %s: %w", subject, err)
}

// PublishMsgs stores ready-made messages (KV writes, say) as pipelined
// single publishes and waits for every answer; the first failure is
// returned. For a few messages this is cheaper than an atomic batch (see
// MinAtomicBatch); nothing makes them all or none.
func PublishMsgs(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	res, err := publishMsgs(ctx, js, msgs, nil)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// JetStream's answers when it has no room: insufficient resources (its limit
// on the store is reached), storage resources exceeded, and a store that
// failed to write (10077, "no space left on device" in its description).
const (
	jsErrInsufficientResources = 10023
	jsErrStorageExceeded       = 10047
	jsErrStreamStoreFailed     = 10077
)

func isNoRoom(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case jsErrInsufficientResources, jsErrStorageExceeded:
		return true
	case jsErrStreamStoreFailed:
		return strings.Contains(e.Description, "no space left")
	}
	return false
}
