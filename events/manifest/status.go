package manifest

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// WorkloadStatus is what the fold knows of a workload's state, for every
// kind: counts of its pods, and the conditions and times its controller
// decided. A kind shows the part that is its own (KindInfo.Columns,
// Describe, K8sStatus) with Kubernetes' names.
type WorkloadStatus struct {
	ObservedGeneration int64 `json:"observedGeneration"`
	// Pods that are neither terminal nor being deleted: a Deployment's or
	// ReplicaSet's replicas, a DaemonSet's current pods, a Job's active.
	Replicas          int32 `json:"replicas"`
	UpdatedReplicas   int32 `json:"updatedReplicas"`
	ReadyReplicas     int32 `json:"readyReplicas"`
	AvailableReplicas int32 `json:"availableReplicas"`
	// Succeeded and Failed count the workload's pods that ever ended so,
	// each once.
	Succeeded int32 `json:"succeeded,omitempty"`
	Failed    int32 `json:"failed,omitempty"`
	// Desired is what the workload's controller last decided it wants: a
	// DaemonSet's nodes; 0 when the kind's spec says it (replicas).
	Desired int32 `json:"desired,omitempty"`
	// CompletedIndexes and FailedIndexes: an Indexed Job's, as "0-2,5".
	CompletedIndexes string      `json:"completedIndexes,omitempty"`
	FailedIndexes    string      `json:"failedIndexes,omitempty"`
	StartTime        *time.Time  `json:"startTime,omitempty"`
	CompletionTime   *time.Time  `json:"completionTime,omitempty"`
	LastScheduleTime *time.Time  `json:"lastScheduleTime,omitempty"`
	Conditions       []Condition `json:"conditions,omitempty"`
	// Owned names the objects the workload's controller made (a
	// Deployment's ReplicaSets, a CronJob's Jobs) that still exist, by
	// name; Active those of them not finished (a CronJob's running Jobs).
	Owned  []string `json:"owned,omitempty"`
	Active []string `json:"active,omitempty"`
	// Used is what a ResourceQuota's namespace uses of what it counts.
	Used QuotaUsage `json:"used,omitempty"`
	// Revision is a Deployment's current revision: the highest of its
	// ReplicaSets' (deployment.kubernetes.io/revision); 0 before the first.
	Revision int64 `json:"revision,omitempty"`
	// Budget is a PodDisruptionBudget's status.
	Budget *BudgetStatus `json:"budget,omitempty"`
	// Rollout is a Deployment's rollout as the rollout service decided it.
	Rollout *RolloutStatus `json:"rollout,omitempty"`
	// Service is what the endpoints service allocated for a Service.
	Service *ServiceStatus `json:"service,omitempty"`
	// Volume is a PersistentVolume's or PersistentVolumeClaim's binding,
	// as the storage service decided it.
	Volume *VolumeStatus `json:"volume,omitempty"`
}

// ReplicaFailure is the condition of a workload whose controller could not
// make a pod (a quota refused it), as Kubernetes' ReplicaSet has it.
const ReplicaFailure = "ReplicaFailure"

// Condition is a Kubernetes status condition.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"` // True, False, Unknown
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	// LastUpdateTime: a Deployment's conditions, as Kubernetes', also say
	// when they were last confirmed (its progress deadline counts from it).
	LastUpdateTime time.Time `json:"lastUpdateTime,omitzero"`
}

// Condition returns the condition of a type, or nil.
func (s WorkloadStatus) Condition(typ string) *Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == typ {
			return &s.Conditions[i]
		}
	}
	return nil
}

// FormatLabels writes labels as kubectl does: "a=1,b=2", sorted.
func FormatLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// FormatSelector writes a label selector as kubectl does: "app=web,tier in (a,b)".
func FormatSelector(s *LabelSelector) string {
	if s == nil {
		return ""
	}
	out := FormatLabels(s.MatchLabels)
	for _, r := range s.MatchExpressions {
		var e string
		switch r.Operator {
		case OpExists:
			e = r.Key
		case OpDoesNotExist:
			e = "!" + r.Key
		default:
			e = r.Key + " " + strings.ToLower(r.Operator) + " (" + strings.Join(r.Values, ",") + ")"
		}
		if out != "" {
			out += ","
		}
		out += e
	}
	return out
}

// ContainerNames and ContainerImages are kubectl's wide CONTAINERS and
// IMAGES columns.
func ContainerNames(s PodSpec) string {
	names := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

// ContainerImages: see ContainerNames.
func ContainerImages(s PodSpec) string {
	images := make([]string, len(s.Containers))
	for i, c := range s.Containers {
		images[i] = c.Image
	}
	return strings.Join(images, ",")
}

// HumanDuration writes a duration as kubectl's AGE column does: 45s, 3m20s,
// 5h, 12d, 2y30d.
func HumanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		if s := int(d/time.Second) % 60; s != 0 {
			return fmt.Sprintf("%dm%ds", minutes, s)
		}
		return fmt.Sprintf("%dm", minutes)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	switch {
	case hours < 8:
		if m := int(d/time.Minute) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", hours, m)
		}
		return fmt.Sprintf("%dh", hours)
	case hours < 48:
		return fmt.Sprintf("%dh", hours)
	case hours < 24*8:
		if h := hours % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", hours/24, h)
		}
		return fmt.Sprintf("%dd", hours/24)
	case hours < 24*365*2:
		return fmt.Sprintf("%dd", hours/24)
	case hours < 24*365*8:
		if dy := (hours / 24) % 365; dy != 0 {
			return fmt.Sprintf("%dy%dd", hours/24/365, dy)
		}
		return fmt.Sprintf("%dy", hours/24/365)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}
