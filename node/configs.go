package node

import (
	"encoding/json"
	"errors"
	"fmt"
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

// clear forgets everything, before the deliveries are read afresh.
func (s *configStore) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects, s.seq = map[ConfigRef]ConfigObject{}, map[ConfigRef]uint64{}
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

// KeyDirName is the directory of the node's key in its state dir.
const KeyDirName = "key"

// nodeKey is the node's own key: it opens what is sealed to the public key
// the node announces. A sealed.KeyPair (Config.SealKey) or the keyring in
// Config.KeyDir.
type nodeKey interface {
	Open(sealed.Box) ([]byte, error)
}

// loadKey is the node's key when Config.SealKey is not set: the keyring
// kept in Config.KeyDir (made there at the first start: a file of mode
// 0600), else a key for this run only.
func (a *Agent) loadKey() (nodeKey, sealed.PublicKey, error) {
	if a.cfg.KeyDir != "" {
		ring, err := sealed.LoadOrCreate(a.cfg.KeyDir)
		if err != nil {
			return nil, sealed.PublicKey{}, err
		}
		return ring, ring.Current(), nil
	}
	kp, err := sealed.NewKeyPair()
	return kp, kp.Public, err
}
