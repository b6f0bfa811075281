// Package events defines Gantry's log: the CloudEvents envelope every event
// travels in, the registry of event types, the streams and their subjects.
package events

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// SpecVersion is the CloudEvents version of every envelope.
const SpecVersion = "1.0"

// Event is a typed fact. Type names carry a version suffix: a change of
// meaning is a new type, never an edit of an old one.
type Event interface {
	Type() string
}

// Envelope is one event in CloudEvents 1.0 structured JSON form, with
// Gantry's extensions: actor, causationid and correlationid, and on an
// intent signer and signature (signing.go).
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Actor           string          `json:"actor,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	Signer          string          `json:"signer,omitempty"`    // the signing user's public nkey
	Signature       string          `json:"signature,omitempty"` // base64 of the nkey signature of SigningBytes
}

// Meta is what a writer says about an event besides its data.
type Meta struct {
	ID            string // unique; derive it from the cause with DeriveID where replay must be exact
	Source        string // who writes it: cli, admission, scheduler, node/<name>
	Subject       string // the object, <ns>/<name>
	Time          time.Time
	Actor         string
	CausationID   string
	CorrelationID string
}

// Seal wraps an event into an envelope.
func Seal(e Event, m Meta) (Envelope, error) {
	data, err := Marshal(e)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", e.Type(), err)
	}
	if m.ID == "" {
		return Envelope{}, fmt.Errorf("encode %s: envelope id is empty", e.Type())
	}
	corr := m.CorrelationID
	if corr == "" {
		corr = m.ID // an intent starts its own chain
	}
	return Envelope{
		SpecVersion:     SpecVersion,
		ID:              m.ID,
		Type:            e.Type(),
		Source:          m.Source,
		Subject:         m.Subject,
		Time:            m.Time.UTC(),
		DataContentType: "application/json",
		Data:            data,
		Actor:           m.Actor,
		CausationID:     m.CausationID,
		CorrelationID:   corr,
	}, nil
}

// Marshal encodes the envelope as one JSON message.
func (e Envelope) Marshal() ([]byte, error) { return Marshal(e) }

// Parse decodes one JSON message into an envelope and checks it is one.
func Parse(b []byte) (Envelope, error) {
	var e Envelope
	if err := Unmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	if e.SpecVersion != SpecVersion {
		return Envelope{}, fmt.Errorf("decode envelope %q: specversion %q, want %q", e.ID, e.SpecVersion, SpecVersion)
	}
	if e.Type == "" || e.ID == "" {
		return Envelope{}, fmt.Errorf("decode envelope: id and type are required")
	}
	return e, nil
}

// Decode returns the typed event inside the envelope; an unknown type is an error.
func (e Envelope) Decode() (Event, error) { return Decode(e.Type, e.Data) }

// Caused returns the Meta of an event that answers this one: same actor and
// correlation, causation pointing here.
func (e Envelope) Caused(id, source, subject string, at time.Time) Meta {
	return Meta{ID: id, Source: source, Subject: subject, Time: at, Actor: e.Actor,
		CausationID: e.ID, CorrelationID: e.CorrelationID}
}

// DeriveID turns a deterministic key (a decision's message id) into a stable
// envelope id, so a decision replayed after a crash is byte-identical.
func DeriveID(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
