package events

import (
	"fmt"
	"sort"
)

// registry maps every type name to a constructor of its struct. It is written
// out by hand: decoding a type that is not here is an error, never a skip.
var registry = map[string]func() Event{
	TypeIntentApplied:     func() Event { return new(IntentApplied) },
	TypeIntentDeleted:     func() Event { return new(IntentDeleted) },
	TypeIntentEvict:       func() Event { return new(IntentEvict) },
	TypeAdmissionAccepted: func() Event { return new(AdmissionAccepted) },
	TypeAdmissionRejected: func() Event { return new(AdmissionRejected) },
	TypePodPlanned:        func() Event { return new(PodPlanned) },
	TypePodBound:          func() Event { return new(PodBound) },
	TypePodUnschedulable:  func() Event { return new(PodUnschedulable) },
	TypePodDeleted:        func() Event { return new(PodDeleted) },
	TypePodStatusObserved: func() Event { return new(PodStatusObserved) },
	TypePodRemoved:        func() Event { return new(PodRemoved) },
	TypePodReleased:       func() Event { return new(PodReleased) },
	TypePodAdopted:        func() Event { return new(PodAdopted) },
	TypeNodeRegistered:    func() Event { return new(NodeRegistered) },
	TypeNodeHeartbeat:     func() Event { return new(NodeHeartbeat) },
	TypeNodeCordoned:      func() Event { return new(NodeCordoned) },
	TypeIntentCordon:      func() Event { return new(IntentCordon) },
	TypeNodeState:         func() Event { return new(NodeStateDecided) },
	TypeLogLossAccepted:   func() Event { return new(LogLossAccepted) },
	TypeWorkloadDecided:   func() Event { return new(WorkloadDecided) },
	TypeWorkloadDeleted:   func() Event { return new(WorkloadDeleted) },
	TypeWorkloadStatus:    func() Event { return new(WorkloadStatusDecided) },
	TypeServiceAllocated:  func() Event { return new(ServiceAllocated) },
	TypeNodeCIDRRequested: func() Event { return new(NodeCIDRRequested) },
	TypeNodeCIDRAllocated: func() Event { return new(NodeCIDRAllocated) },
	TypeConfigDelivered:   func() Event { return new(ConfigDelivered) },
}

// Decode turns data of a named type into its struct.
func Decode(typ string, data []byte) (Event, error) {
	mk, ok := registry[typ]
	if !ok {
		return nil, fmt.Errorf("decode event: unknown type %q", typ)
	}
	e := mk()
	if err := Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return e, nil
}

// Types lists every registered type name, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
