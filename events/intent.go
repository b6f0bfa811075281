package events

import "encoding/json"

// Intent types: what a user or tool asked for, as submitted.
const (
	TypeIntentApplied = "gantry.intent.applied.v1"
	TypeIntentDeleted = "gantry.intent.deleted.v1"
	TypeIntentEvict   = "gantry.intent.evict.v1"
)

// IntentApplied asks for an object to exist as described. Object is the
// manifest document as the user wrote it, converted to JSON; admission decodes
// and validates it strictly, so a bad manifest is rejected with its reasons
// and stays in the log.
type IntentApplied struct {
	Kind      string          `json:"kind"` // lower-case: deployment, pod
	Namespace string          `json:"namespace"`
	Name      string          `json:"name"`
	Object    json.RawMessage `json:"object"`
	// Create asks for a new object only, as kubectl create does: refused
	// (AlreadyExists) when one of that name exists.
	Create bool `json:"create,omitempty"`
}

func (IntentApplied) Type() string { return TypeIntentApplied }

// IntentDeleted asks for an object to go away. Propagation says what
// becomes of what it owns, as Kubernetes' propagationPolicy: Background
// (the default: deleted after it), Foreground (deleted before it; the CLI
// waits for them) or Orphan (left running, without an owner).
type IntentDeleted struct {
	Kind        string `json:"kind"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Propagation string `json:"propagation,omitempty"`
	// GracePeriodSeconds overrides a pod's terminationGracePeriodSeconds
	// for this deletion (delete --grace-period); Force (delete --force)
	// finishes a pod's deletion without waiting for its node to confirm.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	Force              bool   `json:"force,omitempty"`
}

// Propagation policies of a deletion.
const (
	PropagateBackground = "Background"
	PropagateForeground = "Foreground"
	PropagateOrphan     = "Orphan"
)

func (IntentDeleted) Type() string { return TypeIntentDeleted }

// IntentEvict asks for a pod to be evicted, as Kubernetes' Eviction API
// (`gantry node drain` asks for each pod of the node): admission deletes
// it only if every PodDisruptionBudget covering it allows a disruption,
// and refuses otherwise (RejectTooManyRequests), naming the budget; the
// asker tries again later. Its subject is the pod's:
// IntentSubject(ns, "pod", name). UID, when set, is the pod's that was
// meant: another pod of that name is not evicted. GracePeriodSeconds
// overrides the pod's terminationGracePeriodSeconds.
type IntentEvict struct {
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	UID                string `json:"uid,omitempty"`
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
}

func (IntentEvict) Type() string { return TypeIntentEvict }
