package api

import "github.com/gantry-sh/gantry/events/sealed"

// RevealRequest asks the keyring's holder (events.SubjectSecretReveal) to
// open a Secret's box and seal its content again to To, an ephemeral public
// key of the asker (sealed.PublicKey.String), so the value never crosses
// NATS in the clear.
type RevealRequest struct {
	Box sealed.Box `json:"box"`
	To  string     `json:"to"`
}

// KeyringReply answers a RevealRequest (Box: the content sealed to To) or
// a rotation (Key: the new current public key); Error says why not.
type KeyringReply struct {
	Box   *sealed.Box `json:"box,omitempty"`
	Key   string      `json:"key,omitempty"`
	Error string      `json:"error,omitempty"`
}
