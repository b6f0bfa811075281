package events

import "github.com/gantry-sh/gantry/events/manifest"

// The cluster's keyring (events/sealed) as the log records it: which public
// keys a Secret may be sealed to, and the re-sealed copies a rotation
// appends (the log is never edited, so the old boxes stay, opened by the
// old keys the keyring keeps).
const (
	TypeKeyringPublished = "gantry.keyring.published.v1"
	TypeSecretResealed   = "gantry.secret.resealed.v1"
)

// SubjectKeyring holds the control plane's KeyringPublished decisions: the
// CLI reads the newest to know which key to seal to.
const SubjectKeyring = "gantry.decision.keyring"

// Request/reply endpoints of the keyring's holder (never in a stream).
const (
	// SubjectKeyringRotate: rotate the keyring (gantry keyring rotate);
	// the reply is a KeyringReply.
	SubjectKeyringRotate = "gantry.rpc.keyring.rotate"
	// SubjectSecretReveal: open a Secret's box and re-seal it to the
	// asker's ephemeral key (gantry get secret -o yaml); the request is a
	// RevealRequest, the reply a KeyringReply.
	SubjectSecretReveal = "gantry.rpc.secret.reveal"
)

// KeyringPublished: the cluster's public keys (sealed.PublicKey.String,
// oldest first); Current is the one to seal to from now on.
type KeyringPublished struct {
	Keys    []string `json:"keys"`
	Current string   `json:"current"`
}

func (KeyringPublished) Type() string { return TypeKeyringPublished }

// SecretResealed: a Secret's data sealed again, to the keyring's current
// key, after a rotation; on the Secret's WorkloadSubject (its fence). The
// fold puts Sealed in place of the Secret's; the data is the same.
type SecretResealed struct {
	Namespace string              `json:"namespace"`
	Name      string              `json:"name"`
	UID       string              `json:"uid"`
	Sealed    manifest.SealedData `json:"sealed"`
}

func (SecretResealed) Type() string { return TypeSecretResealed }
