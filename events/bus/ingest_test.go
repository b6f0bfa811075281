package bus_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

func outgoing(t *testing.T, subject, id string) bus.Outgoing {
	t.Helper()
	env, err := events.Seal(&events.PodRemoved{Namespace: "default", Name: "web-1", UID: "u1", Node: "n1", Epoch: 1},
		events.Meta{ID: id, Source: "node/n1", Subject: "default/web-1", Time: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return bus.Outgoing{Subject: subject, Envelope: env, MsgID: id}
}

// An ingest request reads back as the messages it was made of, and any
// request cut short, or with bytes after its last message, is refused.
func TestIngestRequestRoundTrip(t *testing.T) {
	out := []bus.Outgoing{
		outgoing(t, events.ObsPodSubject("n1", "default", "web-1"), "id-1"),
		outgoing(t, events.ObsPodSubject("n1", "default", "web-2"), strings.Repeat("x", 300)),
	}
	b, err := bus.EncodeIngest(out)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := bus.DecodeIngest(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(out) {
		t.Fatalf("%d messages, want %d", len(msgs), len(out))
	}
	for i, m := range msgs {
		data, err := out[i].Envelope.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != out[i].Subject || m.ID != out[i].MsgID || !bytes.Equal(m.Data, data) {
			t.Errorf("message %d: %s %s %q, want %s %s %q", i, m.Subject, m.ID, m.Data, out[i].Subject, out[i].MsgID, data)
		}
		if n := m.Msg(); n.Subject != m.Subject || n.Header.Get(events.HeaderMsgID) != m.ID || len(n.Header) != 1 {
			t.Errorf("message %d as NATS: %s %v", i, n.Subject, n.Header)
		}
	}
	for cut := range len(b) {
		if _, err := bus.DecodeIngest(b[:cut]); err == nil {
			t.Errorf("cut at %d of %d bytes: read without error", cut, len(b))
		}
	}
	if _, err := bus.DecodeIngest(append(b, 0)); err == nil || !strings.Contains(err.Error(), "1 bytes after the last message") {
		t.Errorf("a byte after the last message: %v", err)
	}
}

// What cannot be group-committed is refused before it is sent.
func TestIngestRequestRefusesWhatItCannotCarry(t *testing.T) {
	subject := events.ObsPodSubject("n1", "default", "web-1")
	noID := outgoing(t, subject, "id-1")
	noID.MsgID = ""
	expect := outgoing(t, subject, "id-1")
	expect.ExpectLastSeq = bus.Expect(3)
	many := make([]bus.Outgoing, bus.MaxBatch+1)
	for i := range many {
		many[i] = outgoing(t, subject, "id-1")
	}
	for _, c := range []struct {
		name string
		out  []bus.Outgoing
		want string
	}{
		{"no message", nil, "ingest request of 0 messages"},
		{"too many", many, "ingest request of 1001 messages: want 1 to 1000"},
		{"no id", []bus.Outgoing{noID}, "no message id"},
		{"an expectation", []bus.Outgoing{expect}, "an expectation cannot be group-committed"},
	} {
		if _, err := bus.EncodeIngest(c.out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}
