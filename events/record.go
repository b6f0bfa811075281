package events

import (
	"crypto/rand"
	"encoding/hex"
)

// Record is one stored event as a reader sees it: where it is in the log and
// what it says.
type Record struct {
	Stream   string
	Subject  string // the NATS subject it was stored on
	Seq      uint64 // stream sequence
	Envelope Envelope
	Event    Event
}

// NewID returns a random id for an event that starts a chain (an intent, an
// observation); decisions use DeriveID instead.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
