package events

import "github.com/gantry-sh/gantry/events/sealed"

// Config delivery: the configdist service gives each node the ConfigMaps
// and Secrets its pods use, on NodeConfigSubject, and nothing else; a
// Secret's data is re-sealed to the node's own key (NodeInfo.SealKey), so
// the log holds it sealed only.

// TypeConfigDelivered is the type of ConfigDelivered.
const TypeConfigDelivered = "gantry.node.configdelivered.v1"

// Kind tokens of what a ConfigDelivered carries.
const (
	ConfigKindConfigMap = "configmap"
	ConfigKindSecret    = "secret"
)

// ConfigDelivered: what node is given of one ConfigMap or Secret (Kind is
// its token) that its pods use. Exists says whether the object exists (a
// pod whose reference is optional proceeds without it, a required one
// waits and says why); Revision is the log sequence of its newest accepted
// version (or of its deletion; 0 when it never existed). A ConfigMap's
// content (data and binaryData) is in Data; a Secret's is in Sealed, the
// JSON of map[key][]byte sealed to the node's key. Withdrawn: no pod of the
// node uses it any more, and the node forgets it (Exists false, no data).
type ConfigDelivered struct {
	Node      string            `json:"node"`
	Namespace string            `json:"namespace"`
	Kind      string            `json:"kind"`
	Name      string            `json:"name"`
	Exists    bool              `json:"exists"`
	Revision  uint64            `json:"revision"`
	Data      map[string][]byte `json:"data,omitempty"`
	Sealed    *sealed.Box       `json:"sealed,omitempty"`
	Withdrawn bool              `json:"withdrawn,omitempty"`
}

func (ConfigDelivered) Type() string { return TypeConfigDelivered }
