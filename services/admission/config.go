package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services/runner"
)

// immutableField is Kubernetes' refusal of a change to an immutable
// ConfigMap's or Secret's content.
const immutableField = "Forbidden: field is immutable when `immutable` is set"

// maxResealsPerPass bounds the Secrets re-sealed in one pass after a
// rotation; the rest follow in the next passes.
const maxResealsPerPass = 64

// checkConfig judges what Validate cannot see of a ConfigMap or a Secret:
// a Secret's sealed content (opened with the keyring, checked as its type
// requires), and changes to an immutable one. prev is the accepted object
// (nil: none). A Secret whose data did not change keeps its accepted box,
// so applying the same Secret again is unchanged.
func (s *Service) checkConfig(obj manifest.Object, prev *manifest.Object) (manifest.Object, []string) {
	if cm := obj.ConfigMap(); cm != nil {
		old := (*manifest.ConfigMapSpec)(nil)
		if prev != nil {
			old = prev.ConfigMap()
		}
		if old == nil || !prev.IsImmutable() {
			return obj, nil
		}
		var reasons []string
		if !maps.Equal(cm.Data, old.Data) || !maps.EqualFunc(cm.BinaryData, old.BinaryData, bytes.Equal) {
			reasons = append(reasons, "data: "+immutableField)
		}
		if !obj.IsImmutable() {
			reasons = append(reasons, "immutable: "+immutableField)
		}
		return obj, reasons
	}
	sec := obj.Secret()
	if sec == nil {
		return obj, nil
	}
	var reasons []string
	for field, n := range map[string]int{"data": len(sec.Data), "stringData": len(sec.StringData)} {
		if n > 0 {
			reasons = append(reasons, field+": must not be in the intent in the clear: a Secret's data is sealed to the cluster's key "+
				"before it is appended (gantry apply and gantry create secret do it); the intent must carry sealed only")
		}
	}
	if len(reasons) > 0 {
		sort.Strings(reasons)
		return obj, reasons
	}
	data, why := s.open(sec.Sealed)
	if why != "" {
		return obj, []string{why}
	}
	reasons = append(reasons, manifest.ValidateSecretData(sec.Type, data).Strings()...)
	var old *manifest.SecretSpec
	if prev != nil {
		old = prev.Secret()
	}
	if old == nil {
		return obj, reasons
	}
	oldData, why := s.open(old.Sealed)
	if why != "" {
		return obj, append(reasons, "accepted "+why)
	}
	same := maps.EqualFunc(data, oldData, bytes.Equal)
	if old.Type != sec.Type {
		reasons = append(reasons, fmt.Sprintf("type: Invalid value: %q: field is immutable", sec.Type))
	}
	if prev.IsImmutable() {
		if !same {
			reasons = append(reasons, "data: "+immutableField)
		}
		if !obj.IsImmutable() {
			reasons = append(reasons, "immutable: "+immutableField)
		}
	}
	if same && len(reasons) == 0 && old.Sealed != nil {
		cp := *sec
		cp.Sealed = old.Sealed // the same data: keep the box the log has
		obj.Spec = &cp
	}
	return obj, reasons
}

// open opens a Secret's sealed data with the keyring and checks it against
// its key list, or says why it cannot, naming the field.
func (s *Service) open(sd *manifest.SealedData) (map[string][]byte, string) {
	data := map[string][]byte{}
	if sd == nil {
		return data, ""
	}
	if s.Keyring == nil {
		return nil, "sealed.box: cannot be opened: this control plane has no keyring (gantry serve --keyring-dir)"
	}
	plain, err := s.Keyring.Open(sd.Box)
	if err != nil {
		return nil, fmt.Sprintf("sealed.box: cannot be opened: %v", err)
	}
	if err := json.Unmarshal(plain, &data); err != nil {
		return nil, fmt.Sprintf("sealed.box: does not hold a Secret's data: %v", err)
	}
	sizes := make(map[string]int, len(data))
	for k, v := range data {
		sizes[k] = len(v)
	}
	if !maps.Equal(sizes, sd.Keys) && !(len(sizes) == 0 && len(sd.Keys) == 0) {
		return nil, "sealed.keys: do not match the sealed data's keys and sizes"
	}
	return data, ""
}

// acceptedConfig is the accepted ConfigMap or Secret an apply changes, as
// the fold has it (with any re-sealed box), or nil.
func (s *Service) acceptedConfig(kind, ns, name string, o *object) *manifest.Object {
	if !o.exists {
		return nil
	}
	w := s.c.Workloads[projections.WorkloadKey(kind, ns, name)]
	if w == nil || w.Deleted || w.UID != o.uid {
		return nil
	}
	return &w.Object
}

// resealedBox is a Secret's data sealed to the current key for the re-seal
// decision msgID.
type resealedBox struct {
	msgID string
	box   sealed.Box
}

// noteStale finds, among the workloads the fold changed, the Secrets whose
// box is not sealed to the keyring's current key; after a rotation it looks
// at every Secret once. Call it before the fold's changes are cleared.
func (s *Service) noteStale() {
	if s.Keyring == nil {
		return
	}
	if s.stale == nil {
		s.stale, s.resealed = map[string]bool{}, map[string]resealedBox{}
	}
	cur := s.Keyring.Current().ID
	if cur != s.ringKey {
		s.ringKey = cur
		for key := range s.c.Workloads {
			if strings.HasPrefix(key, "secret/") {
				s.stale[key] = true
			}
		}
		return
	}
	for key := range s.c.Dirty.Workloads {
		if strings.HasPrefix(key, "secret/") {
			s.stale[key] = true
		}
	}
}

// reseal decides, for Secrets sealed to an older key, their data sealed
// to the current one (SecretResealed, on the Secret's subject with its
// fence): after `gantry keyring rotate`, and for a Secret the CLI sealed
// to a key rotated out meanwhile. The log keeps the old boxes; the fold
// reads the new.
func (s *Service) reseal() []runner.Decision {
	if s.Keyring == nil || len(s.stale) == 0 {
		return nil
	}
	keys := make([]string, 0, len(s.stale))
	for k := range s.stale {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cur := s.Keyring.Current()
	var out []runner.Decision
	for _, key := range keys {
		if len(out) == maxResealsPerPass {
			break
		}
		w := s.c.Workloads[key]
		var sec *manifest.SecretSpec
		if w != nil && !w.Deleted {
			sec = w.Object.Secret()
		}
		if sec == nil || sec.Sealed == nil || sec.Sealed.Box.KeyID == cur.ID {
			delete(s.stale, key) // gone, or sealed to the current key already
			delete(s.resealed, key)
			continue
		}
		msgID := fmt.Sprintf("reseal/%s/%s/%s/%d", w.UID, sec.Sealed.Box.KeyID, cur.ID, w.LastDecisionSeq)
		// The box is sealed once per msgID and kept until the re-seal is
		// back in the fold, so deciding again decides the same.
		box, ok := s.resealed[key]
		if !ok || box.msgID != msgID {
			plain, err := s.Keyring.Open(sec.Sealed.Box)
			if err != nil {
				delete(s.stale, key) // admission never accepts a box it cannot open
				continue
			}
			b, err := sealed.Seal(cur, plain)
			if err != nil {
				continue // crypto/rand failed: try again next pass
			}
			box = resealedBox{msgID: msgID, box: b}
			s.resealed[key] = box
		}
		id := events.DeriveID(msgID)
		out = append(out, runner.Decision{
			Subject: events.WorkloadSubject(w.Namespace, "secret", w.Name),
			Event: &events.SecretResealed{Namespace: w.Namespace, Name: w.Name, UID: w.UID,
				Sealed: manifest.SealedData{Keys: sec.Sealed.Keys, Box: box.box}},
			Meta:          events.Meta{ID: id, Source: Name, Subject: w.Namespace + "/" + w.Name, CorrelationID: w.CorrelationID, CausationID: w.CauseID, Actor: Name},
			MsgID:         msgID,
			ExpectLastSeq: bus.Expect(w.LastDecisionSeq),
		})
	}
	return out
}
