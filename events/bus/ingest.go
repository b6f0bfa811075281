package bus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/events"
)

// The ingest protocol: a writer with many small writes (a node agent's pod
// reports) hands them to the control plane's ingest over request/reply
// (events.IngestSubject), and the ingest stores what many writers handed it
// in one atomic batch: one fsync for a thousand reports instead of one each
// (BenchmarkStoreReports: 20 µs a report instead of 300–400). It answers
// each writer once its messages are stored. This is etcd's group commit,
// and what Nomad's servers do with allocation updates.
//
// A request carries messages with a subject and a Nats-Msg-Id, never an
// expectation: the id makes a writer's retry harmless, however the first
// attempt ended.

// IngestVersion starts every request; a request of another version is refused.
const IngestVersion = 1

// ErrNoIngest means no ingest answered the request: the writer stores its
// messages itself.
var ErrNoIngest = errors.New("no ingest is running")

// IngestMsg is one message of an ingest request.
type IngestMsg struct {
	Subject string
	ID      string // Nats-Msg-Id
	Data    []byte
}

// Msg makes the NATS message that stores m.
func (m IngestMsg) Msg() *nats.Msg {
	n := nats.NewMsg(m.Subject)
	n.Header.Set(events.HeaderMsgID, m.ID)
	n.Data = m.Data
	return n
}

// IngestReply answers a request: Error when none of it was taken, else one
// result per message, in order.
type IngestReply struct {
	Error   string         `json:"error,omitempty"`
	Results []IngestResult `json:"results,omitempty"`
}

// IngestResult is what the log said about one message: stored at Seq
// (Duplicate: stored before, under the same id), or not stored (Error).
type IngestResult struct {
	Seq       uint64 `json:"seq,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

// EncodeIngest makes the request that stores out: the version, the count,
// then each message's subject, id and data, each prefixed by its length.
func EncodeIngest(out []Outgoing) ([]byte, error) {
	if len(out) == 0 || len(out) > MaxBatch {
		return nil, fmt.Errorf("ingest request of %d messages: want 1 to %d", len(out), MaxBatch)
	}
	b := append(make([]byte, 0, 64+len(out)*700), IngestVersion)
	b = binary.AppendUvarint(b, uint64(len(out)))
	for _, o := range out {
		if o.MsgID == "" {
			return nil, fmt.Errorf("ingest %s: no message id (a retry must be harmless)", o.Subject)
		}
		if o.ExpectLastSeq != nil {
			return nil, fmt.Errorf("ingest %s: an expectation cannot be group-committed", o.Subject)
		}
		data, err := o.Envelope.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encode %s on %s: %w", o.Envelope.Type, o.Subject, err)
		}
		for _, f := range [][]byte{[]byte(o.Subject), []byte(o.MsgID), data} {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	return b, nil
}

// DecodeIngest reads a request. The messages' Data alias b.
func DecodeIngest(b []byte) ([]IngestMsg, error) {
	if len(b) == 0 || b[0] != IngestVersion {
		return nil, fmt.Errorf("ingest request: not version %d", IngestVersion)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > MaxBatch {
		return nil, fmt.Errorf("ingest request: count: want 1 to %d", MaxBatch)
	}
	b = b[k:]
	msgs := make([]IngestMsg, n)
	for i := range msgs {
		var f [3][]byte
		for j := range f {
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return nil, fmt.Errorf("ingest request: message %d is cut short", i+1)
			}
			f[j], b = b[k:k+int(l)], b[k+int(l):]
		}
		msgs[i] = IngestMsg{Subject: string(f[0]), ID: string(f[1]), Data: f[2]}
		if msgs[i].Subject == "" || msgs[i].ID == "" || len(msgs[i].Data) == 0 {
			return nil, fmt.Errorf("ingest request: message %d: subject, id and data must not be empty", i+1)
		}
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("ingest request: %d bytes after the last message", len(b))
	}
	return msgs, nil
}

// Ingest hands out to the ingest on subject and waits (within ctx) until it
// is stored. It returns one Result per Outgoing, or ErrNoIngest when no
// ingest runs; any other error means nothing is known to be stored, and a
// retry with the same ids is harmless.
func Ingest(ctx context.Context, nc *nats.Conn, subject string, out []Outgoing) ([]Result, error) {
	req, err := EncodeIngest(out)
	if err != nil {
		return nil, err
	}
	m, err := nc.RequestWithContext(ctx, subject, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, ErrNoIngest
	}
	if err != nil {
		return nil, fmt.Errorf("ingest %d messages: %w", len(out), err)
	}
	var rep IngestReply
	if err := events.Unmarshal(m.Data, &rep); err != nil {
		return nil, fmt.Errorf("ingest %d messages: reply: %w", len(out), err)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("ingest %d messages: %s", len(out), rep.Error)
	}
	if len(rep.Results) != len(out) {
		return nil, fmt.Errorf("ingest %d messages: %d results", len(out), len(rep.Results))
	}
	res := make([]Result, len(out))
	for i, r := range rep.Results {
		res[i] = Result{Seq: r.Seq, Duplicate: r.Duplicate}
		if r.Error != "" {
			res[i].Err = fmt.Errorf("ingest %s: %s", out[i].Subject, r.Error)
		}
	}
	return res, nil
}
