package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/sealed"
)

// configStore is what the node has been given of the ConfigMaps and
// Secrets its pods use (node.Configs): filled by take from the deliveries
// on gantry.node.<self>.config.>, a Secret's opened with the node's key.
// The cleartext lives only here, in memory; the log holds it sealed.
type configStore struct {
	mu      sync.RWMutex
	objects map[ConfigRef]ConfigObject
	// seq is, by ref, the stream sequence of the newest delivery taken
	// (kept after a withdrawal): an older one read again (a consumer's
	// redelivery after a restore) changes nothing.
	seq map[ConfigRef]uint64
}

func newConfigStore() *configStore {
	return &configStore{objects: map[ConfigRef]ConfigObject{}, seq: map[ConfigRef]uint64{}}
}

// Config implements Configs.
func (s *configStore) Config(ref ConfigRef) (ConfigObject, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[ref]
	return o, ok
}

// set records the delivery at stream sequence seq of ref: obj, or, when
// known is false, that the node knows nothing of it (withdrawn). It reports
// whether what the node knows changed.
func (s *configStore) set(ref ConfigRef, seq uint64, obj ConfigObject, known bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq != 0 && seq <= s.seq[ref] {
		return false
	}
	if seq != 0 {
		s.seq[ref] = seq
	}
	old, had := s.objects[ref]
	if !known {
		delete(s.objects, ref)
		return had
	}
	s.objects[ref] = obj
	return !had || old.Exists != obj.Exists || old.Revision != obj.Revision
}

// takeConfig folds one delivery addressed to this node; seq is its stream
// sequence (0: unknown). A change asks the loop to reconcile, so the pods'
// volumes follow it in place.
func (a *Agent) takeConfig(e *events.ConfigDelivered, seq uint64) {
	if e.Node != a.cfg.Name {
		return
	}
	ref := ConfigRef{Namespace: e.Namespace, Kind: e.Kind, Name: e.Name}
	obj := ConfigObject{Exists: e.Exists, Revision: e.Revision}
	known := !e.Withdrawn
	if e.Exists {
		data, err := a.openConfig(e)
		if err != nil {
			// Known as nothing: the pods using it wait for a delivery this
			// node can read (sealed to the key it announced).
			a.log.Warn().Err(err).Str("kind", e.Kind).Str("namespace", e.Namespace).Str("name", e.Name).Msg("config delivery not readable")
			known = false
		}
		obj.Data = data
	}
	if a.configs.set(ref, seq, obj, known) {
		a.kick()
	}
}

// openConfig is a delivery's data: a ConfigMap's as it is, a Secret's
// opened with the node's key.
func (a *Agent) openConfig(e *events.ConfigDelivered) (map[string][]byte, error) {
	if e.Sealed == nil {
		return e.Data, nil
	}
	if a.key == nil {
		return nil, errors.New("the node has no key")
	}
	plain, err := a.key.Open(*e.Sealed)
	if err != nil {
		return nil, err
	}
	var data map[string][]byte
	if err := json.Unmarshal(plain, &data); err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", e.Namespace, e.Name, err)
	}
	return data, nil
}

// Configs is what the node knows of its pods' ConfigMaps and Secrets.
func (a *Agent) Configs() Configs { return a.configs }

// sealKey is the node's key when Config.SealKey is not set: the one kept
// in Config.KeyFile (made there at the first start), else one for this run.
func (a *Agent) sealKey() (*sealed.KeyPair, error) {
	var kp sealed.KeyPair
	var err error
	if a.cfg.KeyFile != "" {
		kp, err = LoadOrCreateKey(a.cfg.KeyFile)
	} else {
		kp, err = sealed.NewKeyPair()
	}
	return &kp, err
}

// KeyFileName is the node's key file in its state dir.
const KeyFileName = "node-key.json"

// LoadOrCreateKey reads the node's key pair from path, or makes one and
// keeps it there (mode 0600, written to a temporary file and renamed, so a
// crash never leaves half a key).
func LoadOrCreateKey(path string) (sealed.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		var kp sealed.KeyPair
		if err := json.Unmarshal(b, &kp); err != nil {
			return sealed.KeyPair{}, fmt.Errorf("node key %s: %w", path, err)
		}
		if len(kp.Private) != sealed.KeySize || len(kp.Public.Key) != sealed.KeySize || kp.Public.ID != sealed.KeyID(kp.Public.Key) {
			return sealed.KeyPair{}, fmt.Errorf("node key %s is damaged", path)
		}
		return kp, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return sealed.KeyPair{}, fmt.Errorf("node key: %w", err)
	}
	kp, err := sealed.NewKeyPair()
	if err != nil {
		return sealed.KeyPair{}, err
	}
	if b, err = json.Marshal(kp); err != nil {
		return sealed.KeyPair{}, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return sealed.KeyPair{}, fmt.Errorf("node key dir: %w", err)
	}
	tmp := path + ".tmp"
	_ = os.Remove(tmp) // a crash's leftover, whatever its mode
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return sealed.KeyPair{}, fmt.Errorf("write node key: %w", err)
	}
	if f, err := os.Open(tmp); err == nil {
		_ = f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, path); err != nil {
		return sealed.KeyPair{}, fmt.Errorf("write node key: %w", err)
	}
	return kp, nil
}
