package events

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nkeys"
)

// signed is the canonical form of an envelope that a signature covers:
// every field but the signature, in this order, data compacted as
// encoding/json writes it (so a re-encoding of the same envelope signs the
// same bytes).
type signed struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Type            string          `json:"type"`
	Source          string          `json:"source"`
	Subject         string          `json:"subject"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	Actor           string          `json:"actor"`
	CausationID     string          `json:"causationid"`
	CorrelationID   string          `json:"correlationid"`
	Signer          string          `json:"signer"`
}

// SigningBytes is what an intent's signature signs (docs/security-signing.md).
func SigningBytes(e Envelope) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return json.Marshal(signed{SpecVersion: e.SpecVersion, ID: e.ID, Type: e.Type, Source: e.Source, Subject: e.Subject,
		Time: e.Time.UTC().Format(time.RFC3339Nano), DataContentType: e.DataContentType, Data: data, Actor: e.Actor,
		CausationID: e.CausationID, CorrelationID: e.CorrelationID, Signer: e.Signer})
}

// Sign signs the envelope with a user's nkey: Signer is its public key,
// Signature the signature of SigningBytes.
func Sign(e *Envelope, kp nkeys.KeyPair) error {
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("sign %s: %w", e.ID, err)
	}
	e.Signer = pub
	b, err := SigningBytes(*e)
	if err != nil {
		return fmt.Errorf("sign %s: %w", e.ID, err)
	}
	sig, err := kp.Sign(b)
	if err != nil {
		return fmt.Errorf("sign %s: %w", e.ID, err)
	}
	e.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// ErrUnsigned is an envelope that carries no signature.
var ErrUnsigned = errors.New("the intent is not signed")

// VerifySignature checks the envelope's signature against its Signer's
// key; it says nothing of whether that key is one of the cluster's users.
func VerifySignature(e Envelope) error {
	if e.Signer == "" || e.Signature == "" {
		return ErrUnsigned
	}
	pub, err := nkeys.FromPublicKey(e.Signer)
	if err != nil || !nkeys.IsValidPublicUserKey(e.Signer) {
		return fmt.Errorf("signer %q is not a user's public nkey", e.Signer)
	}
	sig, err := base64.StdEncoding.DecodeString(e.Signature)
	if err != nil {
		return fmt.Errorf("signature: not base64: %w", err)
	}
	b, err := SigningBytes(e)
	if err != nil {
		return err
	}
	if pub.Verify(b, sig) != nil {
		return fmt.Errorf("the signature of %s does not verify: the intent was changed after it was signed", e.Signer)
	}
	return nil
}
