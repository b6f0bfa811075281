package manifest

import "github.com/gantry-sh/gantry/events/sealed"

// ConfigMap and Secret: v1 kinds whose content is at the top level of the
// manifest (data, binaryData, type, immutable), not under spec; their
// KindInfo is Flat.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// ConfigMapSpec is a ConfigMap's content.
type ConfigMapSpec struct {
	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	BinaryData map[string][]byte `json:"binaryData,omitempty"`
}

// SecretSpec is a Secret's content. A manifest carries Data and StringData
// in the clear; the CLI seals them to the cluster's key into Sealed before
// it appends the intent, so the log and every read model hold Sealed only.
type SecretSpec struct {
	Type       string            `json:"type,omitempty"` // Opaque (default), kubernetes.io/tls, kubernetes.io/dockerconfigjson, …
	Immutable  *bool             `json:"immutable,omitempty"`
	Data       map[string][]byte `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
	Sealed     *SealedData       `json:"sealed,omitempty"`
}

// SealedData is a Secret's data as the log keeps it: the key names and
// sizes in the clear (kubectl describe shows them), the values only in Box,
// the JSON of map[key][]byte sealed to one key of the cluster's keyring.
type SealedData struct {
	Keys map[string]int `json:"keys"` // key → size in bytes
	Box  sealed.Box     `json:"box"`
}
