package events

import "encoding/json"

// Admission verdicts on intents.
const (
	TypeAdmissionAccepted = "gantry.admission.accepted.v1"
	TypeAdmissionRejected = "gantry.admission.rejected.v1"
)

// Operations an intent can ask for.
const (
	OpApply  = "apply"
	OpDelete = "delete"
	// OpEvict: a pod's eviction (IntentEvict). Accepted, it is stored with
	// the pod's PodDeleted; refused by a budget, its code is
	// RejectTooManyRequests.
	OpEvict = "evict"
)

// AdmissionAccepted records that an intent was valid and is now the desired
// state of its object. Object is the canonical JSON of the decoded manifest
// (nil for a delete). Generation counts accepted changes to the object's spec,
// like Kubernetes' metadata.generation; UID names this incarnation of the
// object (a delete and re-create gives a new one).
type AdmissionAccepted struct {
	IntentSeq  uint64          `json:"intentSeq"`
	IntentID   string          `json:"intentId"`
	Op         string          `json:"op"`
	Kind       string          `json:"kind"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	UID        string          `json:"uid"`
	Generation int64           `json:"generation"`
	Unchanged  bool            `json:"unchanged,omitempty"`
	Object     json.RawMessage `json:"object,omitempty"`
	// Propagation of an accepted delete (IntentDeleted.Propagation), and
	// its grace period and force, for a Pod.
	Propagation        string `json:"propagation,omitempty"`
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	Force              bool   `json:"force,omitempty"`
	// Warnings are the failed validations of admission policies bound
	// with Warn (kubectl prints them as "Warning: ..."), Audit those bound
	// with Audit: neither refuses the intent.
	Warnings []string `json:"warnings,omitempty"`
	Audit    []string `json:"audit,omitempty"`
}

func (AdmissionAccepted) Type() string { return TypeAdmissionAccepted }

// AdmissionRejected records that an intent was refused, with one reason per
// offending field ("spec.replicas: must be >= 0"). Code, when set, classes
// the refusal for clients that act on it (like Kubernetes' StatusReason).
type AdmissionRejected struct {
	IntentSeq uint64   `json:"intentSeq"`
	IntentID  string   `json:"intentId"`
	Op        string   `json:"op"`
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Reasons   []string `json:"reasons"`
	Code      string   `json:"code,omitempty"`
	// Causes detail a refusal for clients that act on it, as Kubernetes'
	// StatusCause: an eviction a budget refused names the budget.
	Causes []RejectCause `json:"causes,omitempty"`
	// Warnings and Audit, as AdmissionAccepted's, of a refused intent.
	Warnings []string `json:"warnings,omitempty"`
	Audit    []string `json:"audit,omitempty"`
}

// RejectCause is one detail of a refusal: Type DisruptionBudget, Object
// "<ns>/<name>" of the budget, Message its words.
type RejectCause struct {
	Type    string `json:"type"`
	Object  string `json:"object,omitempty"`
	Message string `json:"message,omitempty"`
}

// CauseDisruptionBudget is the type of the cause naming the budget that
// refused an eviction, as Kubernetes names it.
const CauseDisruptionBudget = "DisruptionBudget"

// Codes of a rejection; most rejections have none and are read by their
// reasons.
const (
	// RejectNotFound: a delete of an object that does not exist (kubectl
	// prints "Error from server (NotFound)", or nothing with
	// --ignore-not-found).
	RejectNotFound = "NotFound"
	// RejectUnsupportedKind: a kind Gantry does not support (yet).
	RejectUnsupportedKind = "UnsupportedKind"
	// RejectAlreadyExists: a create of an object that exists.
	RejectAlreadyExists = "AlreadyExists"
	// RejectTooManyRequests: an eviction a PodDisruptionBudget does not
	// allow now (Kubernetes answers 429); asking again later may succeed.
	RejectTooManyRequests = "TooManyRequests"
	// RejectForbidden: the actor may not do this (RBAC, see events/authz).
	RejectForbidden = "Forbidden"
	// RejectUnauthorized is an intent whose signature does not prove its
	// author: unsigned, an unknown key, changed after signing, replayed.
	RejectUnauthorized = "Unauthorized"
)

func (AdmissionRejected) Type() string { return TypeAdmissionRejected }
