package manifest

import "maps"

// Priorities, as Kubernetes defines them. A pod's priority comes from its
// priorityClassName (no class means DefaultPriority), or from its priority
// field; with both set they must agree.
const (
	// MaxUserPriority is the highest priority a pod may set without a
	// class; the system classes sit above it.
	MaxUserPriority int32 = 1_000_000_000
	// DefaultPriority is the priority of a pod without class or priority.
	DefaultPriority int32 = 0
)

// The built-in priority classes: Kubernetes' two system classes and three
// for users.
const (
	PrioritySystemNodeCritical    = "system-node-critical"
	PrioritySystemClusterCritical = "system-cluster-critical"
	PriorityHigh                  = "high"
	PriorityDefault               = "default"
	PriorityLow                   = "low"
)

var priorityClasses = map[string]int32{
	PrioritySystemNodeCritical:    2_000_001_000,
	PrioritySystemClusterCritical: 2_000_000_000,
	PriorityHigh:                  1_000_000,
	PriorityDefault:               DefaultPriority,
	PriorityLow:                   -1000,
}

// PriorityClasses is the table of built-in priority classes, name to
// value. The map is a copy.
func PriorityClasses() map[string]int32 { return maps.Clone(priorityClasses) }

// PriorityOf is a pod's priority: spec.priority if set, else the value of
// its priorityClassName, else DefaultPriority (also for a class that does
// not exist, which Validate refuses).
func PriorityOf(s PodSpec) int32 {
	if s.Priority != nil {
		return *s.Priority
	}
	if v, ok := priorityClasses[s.PriorityClassName]; ok {
		return v
	}
	return DefaultPriority
}
