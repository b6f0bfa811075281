package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/sealed"
)

// clusterKey is the key Secrets are sealed to: the newest the control
// plane published in the log (events.SubjectKeyring).
func clusterKey(ctx context.Context, js jetstream.JetStream) (sealed.PublicKey, error) {
	k, _, err := bus.LastKeyring(ctx, js)
	if err != nil {
		return sealed.PublicKey{}, err
	}
	if k == nil {
		return sealed.PublicKey{}, errors.New("the control plane has published no key to seal Secrets to: " +
			"is gantry up, or gantry serve with --keyring-dir, running?")
	}
	return sealed.ParsePublicKey(k.Current)
}

// sealSecrets seals the data and stringData of every Secret among the
// intents to the cluster's key, in place: the intent carries sealed only,
// so a Secret's values are never in the log in the clear.
func sealSecrets(ctx context.Context, js jetstream.JetStream, intents []intent) error {
	var key *sealed.PublicKey
	for i := range intents {
		e, ok := intents[i].event.(*events.IntentApplied)
		if !ok || e.Kind != "secret" {
			continue
		}
		if key == nil {
			k, err := clusterKey(ctx, js)
			if err != nil {
				return fmt.Errorf("%s: %w", intents[i].label, err)
			}
			key = &k
		}
		raw, err := sealManifest(e.Object, *key)
		if err != nil {
			return fmt.Errorf("%s: %w", intents[i].label, err)
		}
		cp := *e
		cp.Object = raw
		intents[i].event = &cp
	}
	return nil
}

// sealManifest replaces a Secret manifest's data and stringData (merged as
// Kubernetes merges them: stringData wins) with sealed: the key names and
// sizes, and the values in a box only the cluster's keyring opens.
func sealManifest(raw json.RawMessage, to sealed.PublicKey) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if _, ok := m["sealed"]; ok {
		return nil, errors.New("sealed: set by gantry when it seals data and stringData; give those instead")
	}
	data := map[string][]byte{}
	if b, ok := m["data"]; ok && string(b) != "null" {
		var enc map[string]string
		if err := json.Unmarshal(b, &enc); err != nil {
			return nil, fmt.Errorf("data: must be an object of base64 strings: %w", err)
		}
		for k, v := range enc {
			d, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("data[%s]: must be base64: %w", k, err)
			}
			data[k] = d
		}
	}
	if b, ok := m["stringData"]; ok && string(b) != "null" {
		var str map[string]string
		if err := json.Unmarshal(b, &str); err != nil {
			return nil, fmt.Errorf("stringData: must be an object of strings: %w", err)
		}
		for k, v := range str {
			data[k] = []byte(v)
		}
	}
	delete(m, "data")
	delete(m, "stringData")
	if len(data) > 0 {
		sd, err := sealData(data, to)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(sd)
		if err != nil {
			return nil, err
		}
		m["sealed"] = b
	}
	return json.Marshal(m)
}

// sealData seals a Secret's data to a key.
func sealData(data map[string][]byte, to sealed.PublicKey) (manifest.SealedData, error) {
	plain, err := json.Marshal(data)
	if err != nil {
		return manifest.SealedData{}, err
	}
	box, err := sealed.Seal(to, plain)
	if err != nil {
		return manifest.SealedData{}, err
	}
	keys := make(map[string]int, len(data))
	for k, v := range data {
		keys[k] = len(v)
	}
	return manifest.SealedData{Keys: keys, Box: box}, nil
}

// revealSecret asks the keyring's holder to open a Secret's box: it seals
// the content again to a key made for this one request, so the value never
// crosses NATS in the clear, and only this process can open the answer.
func revealSecret(ctx context.Context, nc *nats.Conn, s *manifest.SecretSpec) (map[string][]byte, error) {
	if s == nil || s.Sealed == nil {
		return nil, nil
	}
	kp, err := sealed.NewKeyPair()
	if err != nil {
		return nil, err
	}
	req, err := json.Marshal(api.RevealRequest{Box: s.Sealed.Box, To: kp.Public.String()})
	if err != nil {
		return nil, err
	}
	msg, err := nc.RequestWithContext(ctx, events.SubjectSecretReveal, req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, errors.New("no control plane answers reveal requests: is gantry up, or gantry serve with --keyring-dir, running?")
	}
	if err != nil {
		return nil, fmt.Errorf("reveal: %w", err)
	}
	var rep api.KeyringReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return nil, fmt.Errorf("reveal: %w", err)
	}
	if rep.Error != "" || rep.Box == nil {
		return nil, fmt.Errorf("reveal: %s", rep.Error)
	}
	plain, err := kp.Open(*rep.Box)
	if err != nil {
		return nil, fmt.Errorf("reveal: %w", err)
	}
	var data map[string][]byte
	if err := json.Unmarshal(plain, &data); err != nil {
		return nil, fmt.Errorf("reveal: %w", err)
	}
	return data, nil
}

// ---- -o json|yaml

// k8sConfigMap and k8sSecret are the kinds as kubectl shows them: their
// content at the top level, a Secret's data in base64 (revealed only for
// -o json|yaml|jsonpath, never in tables, describe or events).
type k8sConfigMap struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   k8sMeta           `json:"metadata"`
	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

type k8sSecret struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   k8sMeta           `json:"metadata"`
	Immutable  *bool             `json:"immutable,omitempty"`
	Type       string            `json:"type"`
	Data       map[string][]byte `json:"data,omitempty"`
}

func k8sConfigMapOf(out k8sObject) any {
	cm, _ := out.Spec.(*manifest.ConfigMapSpec)
	if cm == nil {
		cm = &manifest.ConfigMapSpec{}
	}
	return k8sConfigMap{APIVersion: out.APIVersion, Kind: out.Kind, Metadata: out.Metadata,
		Immutable: cm.Immutable, Data: cm.Data, BinaryData: cm.BinaryData}
}

func k8sSecretOf(out k8sObject) k8sSecret {
	s, _ := out.Spec.(*manifest.SecretSpec)
	if s == nil {
		s = &manifest.SecretSpec{Type: manifest.SecretTypeOpaque}
	}
	return k8sSecret{APIVersion: out.APIVersion, Kind: out.Kind, Metadata: out.Metadata, Immutable: s.Immutable, Type: s.Type}
}

// revealSecrets fills in the data of the Secrets among objs (as
// k8sObjectOf made them from items) by asking the control plane.
func revealSecrets(ctx context.Context, js jetstream.JetStream, items []resource, objs []any) error {
	for i, r := range items {
		sec, ok := objs[i].(k8sSecret)
		if !ok || r.workload == nil {
			continue
		}
		data, err := revealSecret(ctx, js.Conn(), r.workload.Object.Secret())
		if err != nil {
			return fmt.Errorf("secret %s/%s: %w", r.workload.Namespace, r.workload.Name, err)
		}
		sec.Data = data
		objs[i] = sec
	}
	return nil
}
