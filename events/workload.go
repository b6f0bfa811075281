package events

import (
	"encoding/json"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Workload decisions: objects a controller makes, changes and removes on
// behalf of another (a Deployment's ReplicaSets, a CronJob's Jobs), and the
// status a controller decides for an object (a Job's conditions). They are
// stored on the object's own subject, WorkloadSubject, which is their fence.
const (
	TypeWorkloadDecided = "gantry.workload.decided.v1"
	TypeWorkloadDeleted = "gantry.workload.deleted.v1"
	TypeWorkloadStatus  = "gantry.workload.status.v1"
)

// WorkloadDecided: a controller decided that an object should exist as
// Object says, as admission accepts one a user applied. UID and Generation
// are the controller's (derived from the owner's uid and the object's
// template), so deciding again after a crash gives the same event.
type WorkloadDecided struct {
	Kind       string          `json:"kind"`
	Namespace  string          `json:"namespace"`
	Name       string          `json:"name"`
	UID        string          `json:"uid"`
	Generation int64           `json:"generation"`
	Owner      *OwnerRef       `json:"owner"`
	Object     json.RawMessage `json:"object"`
	// Reason says why, for people reading the log: "scaled up replica
	// set web-6d8f7b9c4 to 3 from 1 (RollingUpdate: maxSurge 1,
	// maxUnavailable 0)".
	Reason string `json:"reason,omitempty"`
}

func (WorkloadDecided) Type() string { return TypeWorkloadDecided }

// WorkloadDeleted: a controller decided that an object it owns should go
// (its owner was deleted, a history limit, a finished Job's TTL). Its pods
// and the objects it owns go with it.
type WorkloadDeleted struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Reason    string `json:"reason"`
}

func (WorkloadDeleted) Type() string { return TypeWorkloadDeleted }

// WorkloadStatusDecided: what a controller decided about an object's
// state that its pods alone do not say: conditions (a Job Complete or
// Failed, with the reason), when it started and finished, when a CronJob
// last ran. Each field, when set, replaces the fold's; a condition replaces
// the one of its type.
type WorkloadStatusDecided struct {
	Kind             string               `json:"kind"`
	Namespace        string               `json:"namespace"`
	Name             string               `json:"name"`
	UID              string               `json:"uid"`
	Conditions       []manifest.Condition `json:"conditions,omitempty"`
	StartTime        *time.Time           `json:"startTime,omitempty"`
	CompletionTime   *time.Time           `json:"completionTime,omitempty"`
	LastScheduleTime *time.Time           `json:"lastScheduleTime,omitempty"`
	Desired          *int32               `json:"desired,omitempty"`
	FailedIndexes    *string              `json:"failedIndexes,omitempty"`
	// Rollout replaces a Deployment's rollout status whole.
	Rollout *manifest.RolloutStatus `json:"rollout,omitempty"`
	// Message is for people reading the log (describe's events): "missed
	// 3 schedules; running the one of 12:05".
	Message string `json:"message,omitempty"`
}

func (WorkloadStatusDecided) Type() string { return TypeWorkloadStatus }
