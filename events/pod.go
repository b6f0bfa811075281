package events

import (
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

// Pod lifecycle types.
const (
	TypePodPlanned        = "gantry.pod.planned.v1"
	TypePodBound          = "gantry.pod.bound.v1"
	TypePodUnschedulable  = "gantry.pod.unschedulable.v1"
	TypePodDeleted        = "gantry.pod.deleted.v1"
	TypePodStatusObserved = "gantry.pod.statusobserved.v1"
	TypePodRemoved        = "gantry.pod.removed.v1"
	TypePodReleased       = "gantry.pod.released.v1"
	TypePodAdopted        = "gantry.pod.adopted.v1"
)

// OwnerRef names the workload a pod belongs to.
type OwnerRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// PodPlanned: the replica service decided this pod should exist.
type PodPlanned struct {
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	UID          string            `json:"uid"`
	Owner        *OwnerRef         `json:"owner,omitempty"`
	TemplateHash string            `json:"templateHash,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Spec         manifest.PodSpec  `json:"spec"`
}

func (PodPlanned) Type() string { return TypePodPlanned }

// PodBound: the scheduler placed a pod on a node. It carries everything the
// node needs to run the pod, so a node reads only its own subjects. Epoch
// grows with each binding of the same pod (fencing: a node acts only on the
// newest).
type PodBound struct {
	Pod      PodPlanned `json:"pod"`
	Node     string     `json:"node"`
	Epoch    int64      `json:"epoch"`
	Filters  []string   `json:"filters,omitempty"` // filters passed
	Scores   []Score    `json:"scores,omitempty"`  // the winning node's scores
	Feasible int        `json:"feasible"`          // nodes that passed every filter
}

func (PodBound) Type() string { return TypePodBound }

// Score is one scorer's opinion of the chosen node.
type Score struct {
	Name  string `json:"name"`
	Score int64  `json:"score"`
}

// PodUnschedulable: no node fits; Message reads like Kubernetes'
// "0/3 nodes are available: 3 insufficient memory."
type PodUnschedulable struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	UID       string         `json:"uid"`
	Message   string         `json:"message"`
	Reasons   map[string]int `json:"reasons"` // reason → node count
}

func (PodUnschedulable) Type() string { return TypePodUnschedulable }

// PodDeleted: the pod should stop. Published on the node's subject when the
// pod is bound, so the node stops it; on the pod's decision subject otherwise.
type PodDeleted struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Node      string `json:"node,omitempty"`
	Epoch     int64  `json:"epoch,omitempty"`
	Reason    string `json:"reason"`
	// PreemptedBy names the pod (<ns>/<name>) whose binding evicted this one.
	PreemptedBy string `json:"preemptedBy,omitempty"`
	// Message says why in words (NodeLost: since when the node is silent).
	Message string `json:"message,omitempty"`
	// GracePeriodSeconds, when set, overrides the pod's
	// terminationGracePeriodSeconds for this deletion: the node runs
	// preStop, sends SIGTERM, and SIGKILL once it has passed.
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds,omitempty"`
	// Force: the deletion is finished without the node's confirmation (the
	// read models forget the pod at once): delete --force, or a pod on a
	// node the control plane knows lost, whose agent has fenced itself.
	Force bool `json:"force,omitempty"`
}

func (PodDeleted) Type() string { return TypePodDeleted }

// Pod phases, as Kubernetes names them.
const (
	PhasePending   = "Pending"
	PhaseRunning   = "Running"
	PhaseSucceeded = "Succeeded"
	PhaseFailed    = "Failed"
	PhaseUnknown   = "Unknown"
)

// Container states.
const (
	ContainerWaiting    = "waiting"
	ContainerRunning    = "running"
	ContainerTerminated = "terminated"
)

// ContainerStatus is what a node saw of one container.
type ContainerStatus struct {
	Name         string     `json:"name"`
	ContainerID  string     `json:"containerID,omitempty"`
	Image        string     `json:"image"`
	State        string     `json:"state"`
	Reason       string     `json:"reason,omitempty"` // ErrImagePull, CrashLoopBackOff, Completed, Error
	Message      string     `json:"message,omitempty"`
	ExitCode     *int32     `json:"exitCode,omitempty"`
	RestartCount int32      `json:"restartCount"`
	Ready        bool       `json:"ready"`
	StartedAt    *time.Time `json:"startedAt,omitempty"`
	FinishedAt   *time.Time `json:"finishedAt,omitempty"`
	// LastState is how the container's previous run ended (after a restart),
	// as Kubernetes' lastState.terminated.
	LastState *TerminatedState `json:"lastState,omitempty"`
}

// TerminatedState is how one run of a container ended: Reason is Completed,
// Error or OOMKilled (read from the cgroup).
type TerminatedState struct {
	ExitCode   int32     `json:"exitCode"`
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// PodStatusObserved: a node's report of one pod, complete each time (a reader
// needs only the newest).
type PodStatusObserved struct {
	Namespace  string            `json:"namespace"`
	Name       string            `json:"name"`
	UID        string            `json:"uid"`
	Node       string            `json:"node"`
	Epoch      int64             `json:"epoch"`
	Phase      string            `json:"phase"`
	PodIP      string            `json:"podIP,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Containers []ContainerStatus `json:"containers"`
	// InitContainers is the status of each init container, in the spec's
	// order (Kubernetes' initContainerStatuses).
	InitContainers []ContainerStatus `json:"initContainers,omitempty"`
}

func (PodStatusObserved) Type() string { return TypePodStatusObserved }

// PodRemoved: a node stopped a pod and removed everything it had for it.
type PodRemoved struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Node      string `json:"node"`
	Epoch     int64  `json:"epoch"`
}

func (PodRemoved) Type() string { return TypePodRemoved }

// PodReleased: the pod's controller let it go (its owner was deleted with
// propagation Orphan, or its labels no longer match a ReplicaSet's
// selector); it runs on with no owner.
type PodReleased struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	Owner     string `json:"owner"` // the uid of the owner that released it
	Reason    string `json:"reason"`
}

func (PodReleased) Type() string { return TypePodReleased }

// PodAdopted: a controller took a pod with no controller whose labels its
// selector matches (a ReplicaSet adopting an orphan), as Kubernetes'
// controllers adopt.
type PodAdopted struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	UID       string   `json:"uid"`
	Owner     OwnerRef `json:"owner"`
}

func (PodAdopted) Type() string { return TypePodAdopted }
