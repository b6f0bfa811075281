// Package sealed encrypts a Secret's data so that it is never in the clear
// in the log: NaCl sealed boxes (golang.org/x/crypto/nacl/box: X25519,
// XSalsa20-Poly1305, an ephemeral sender key per box), to the cluster's key
// (what the CLI writes) or to a node's key (what the control plane delivers).
// The cluster's keys are a Keyring: the newest seals, every older one still
// opens what was sealed to it, as the log never forgets an old box.
package sealed

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/nacl/box"
)

// KeySize is the size of a public or a private key.
const KeySize = 32

// PublicKey is one key anyone may seal to, with its ID (a hash of the key,
// so a box names the key that opens it).
type PublicKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"`
}

// Box is data sealed to one key.
type Box struct {
	KeyID string `json:"keyID"`
	Data  []byte `json:"data"`
}

// KeyPair is a private key with its public key.
type KeyPair struct {
	Public  PublicKey `json:"public"`
	Private []byte    `json:"private"`
}

// ErrUnknownKey: a box sealed to a key the keyring does not hold.
var ErrUnknownKey = errors.New("sealed to a key this keyring does not hold")

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub []byte) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewKeyPair makes a fresh key pair from crypto/rand.
func NewKeyPair() (KeyPair, error) {
	pub, priv, err := box.GenerateKey(rand.Reader)
	if err != nil {
		return KeyPair{}, fmt.Errorf("generate key: %w", err)
	}
	return KeyPair{Public: PublicKey{ID: KeyID(pub[:]), Key: pub[:]}, Private: priv[:]}, nil
}

// Seal seals plain to the public key: only its private key opens it.
func Seal(to PublicKey, plain []byte) (Box, error) {
	pub, err := key32(to.Key)
	if err != nil {
		return Box{}, fmt.Errorf("seal to %s: %w", to.ID, err)
	}
	out, err := box.SealAnonymous(nil, plain, pub, rand.Reader)
	if err != nil {
		return Box{}, fmt.Errorf("seal to %s: %w", to.ID, err)
	}
	return Box{KeyID: to.ID, Data: out}, nil
}

// Open opens a box sealed to kp's public key.
func (kp KeyPair) Open(b Box) ([]byte, error) {
	if b.KeyID != kp.Public.ID {
		return nil, fmt.Errorf("key %q: %w", b.KeyID, ErrUnknownKey)
	}
	pub, err := key32(kp.Public.Key)
	if err != nil {
		return nil, err
	}
	priv, err := key32(kp.Private)
	if err != nil {
		return nil, err
	}
	plain, ok := box.OpenAnonymous(nil, b.Data, pub, priv)
	if !ok {
		return nil, fmt.Errorf("open box for key %s: corrupt or not sealed to it", b.KeyID)
	}
	return plain, nil
}

func key32(b []byte) (*[KeySize]byte, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("key of %d bytes, want %d", len(b), KeySize)
	}
	var k [KeySize]byte
	copy(k[:], b)
	return &k, nil
}

// ParsePublicKey reads a public key written by String: "<id>:<base64 key>".
func ParsePublicKey(s string) (PublicKey, error) {
	for i := range len(s) {
		if s[i] == ':' {
			k, err := base64.StdEncoding.DecodeString(s[i+1:])
			if err != nil || len(k) != KeySize {
				return PublicKey{}, fmt.Errorf("public key %q: want <id>:<base64 of %d bytes>", s, KeySize)
			}
			if id := KeyID(k); id != s[:i] {
				return PublicKey{}, fmt.Errorf("public key %q: id %s does not match the key (%s)", s, s[:i], id)
			}
			return PublicKey{ID: s[:i], Key: k}, nil
		}
	}
	return PublicKey{}, fmt.Errorf("public key %q: want <id>:<base64 key>", s)
}

// String is "<id>:<base64 key>".
func (p PublicKey) String() string { return p.ID + ":" + base64.StdEncoding.EncodeToString(p.Key) }

// Keyring is the cluster's keys, kept in one file of the control plane's
// data dir (mode 0600). The last key is current: it seals from now on.
type Keyring struct {
	mu   sync.RWMutex
	path string
	keys []KeyPair
}

// keyringFile is the keyring's file in its directory.
const keyringFile = "keyring.json"

// LoadOrCreate reads the keyring in dir, or makes one with a first key.
func LoadOrCreate(dir string) (*Keyring, error) {
	k := &Keyring{path: filepath.Join(dir, keyringFile)}
	b, err := os.ReadFile(k.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		kp, err := NewKeyPair()
		if err != nil {
			return nil, err
		}
		k.keys = []KeyPair{kp}
		if err := k.save(); err != nil {
			return nil, err
		}
		return k, nil
	case err != nil:
		return nil, fmt.Errorf("read keyring: %w", err)
	}
	if err := json.Unmarshal(b, &k.keys); err != nil {
		return nil, fmt.Errorf("keyring %s: %w", k.path, err)
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("keyring %s holds no key", k.path)
	}
	for i, kp := range k.keys {
		if len(kp.Private) != KeySize || len(kp.Public.Key) != KeySize || kp.Public.ID != KeyID(kp.Public.Key) {
			return nil, fmt.Errorf("keyring %s: key %d is damaged", k.path, i)
		}
	}
	return k, nil
}

// save writes the keyring atomically: a temporary file, synced, renamed.
func (k *Keyring) save() error {
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return fmt.Errorf("keyring dir: %w", err)
	}
	b, err := json.MarshalIndent(k.keys, "", "  ")
	if err != nil {
		return err
	}
	tmp := k.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync keyring: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	if err := os.Rename(tmp, k.path); err != nil {
		return fmt.Errorf("write keyring: %w", err)
	}
	return nil
}

// Path is the keyring's file.
func (k *Keyring) Path() string { return k.path }

// Current is the key that seals from now on.
func (k *Keyring) Current() PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[len(k.keys)-1].Public
}

// Public lists every key, oldest first.
func (k *Keyring) Public() []PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]PublicKey, len(k.keys))
	for i, kp := range k.keys {
		out[i] = kp.Public
	}
	return out
}

// Rotate adds a new current key and keeps the old ones to open old boxes.
func (k *Keyring) Rotate() (PublicKey, error) {
	kp, err := NewKeyPair()
	if err != nil {
		return PublicKey{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys = append(k.keys, kp)
	if err := k.save(); err != nil {
		k.keys = k.keys[:len(k.keys)-1]
		return PublicKey{}, err
	}
	return kp.Public, nil
}

// Open opens a box sealed to any key of the ring.
func (k *Keyring) Open(b Box) ([]byte, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, kp := range k.keys {
		if kp.Public.ID == b.KeyID {
			return kp.Open(b)
		}
	}
	return nil, fmt.Errorf("key %q: %w", b.KeyID, ErrUnknownKey)
}
