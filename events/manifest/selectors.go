package manifest

import (
	"slices"
	"strconv"
)

// Selector operators. Label selectors use In, NotIn, Exists and
// DoesNotExist; node selectors add Gt and Lt.
const (
	OpIn           = "In"
	OpNotIn        = "NotIn"
	OpExists       = "Exists"
	OpDoesNotExist = "DoesNotExist"
	OpGt           = "Gt"
	OpLt           = "Lt"
)

// Toleration operators.
const (
	TolerationOpEqual  = "Equal"
	TolerationOpExists = "Exists"
)

// What a topology spread constraint does when it cannot be met.
const (
	DoNotSchedule  = "DoNotSchedule"
	ScheduleAnyway = "ScheduleAnyway"
)

// Matches reports whether labels satisfy the selector: every matchLabels
// pair and every matchExpressions requirement. An empty selector matches
// everything, as in Kubernetes; where Kubernetes gives a nil selector a
// meaning (a pod affinity term without labelSelector matches no pods), the
// caller decides before calling.
func (s LabelSelector) Matches(labels map[string]string) bool {
	for k, v := range s.MatchLabels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Matches reports whether labels satisfy one label selector requirement.
// An unknown operator matches nothing.
func (r LabelSelectorRequirement) Matches(labels map[string]string) bool {
	return matchRequirement(r.Key, r.Operator, r.Values, labels, false)
}

// Matches reports whether a node's labels satisfy every requirement of the
// term. A term without requirements matches nothing, as in Kubernetes.
func (t NodeSelectorTerm) Matches(labels map[string]string) bool {
	if len(t.MatchExpressions) == 0 {
		return false
	}
	for _, r := range t.MatchExpressions {
		if !r.Matches(labels) {
			return false
		}
	}
	return true
}

// Matches reports whether a node's labels satisfy the requirement. Gt and
// Lt compare the label's value and the requirement's one value as integers;
// a label that is absent or not an integer does not match.
func (r NodeSelectorRequirement) Matches(labels map[string]string) bool {
	return matchRequirement(r.Key, r.Operator, r.Values, labels, true)
}

// Matches reports whether a node's labels satisfy any of the terms (the
// terms are ORed). A selector without terms matches nothing.
func (s NodeSelector) Matches(labels map[string]string) bool {
	for _, t := range s.NodeSelectorTerms {
		if t.Matches(labels) {
			return true
		}
	}
	return false
}

func matchRequirement(key, op string, values []string, labels map[string]string, numeric bool) bool {
	v, has := labels[key]
	switch op {
	case OpIn:
		return has && slices.Contains(values, v)
	case OpNotIn:
		return !has || !slices.Contains(values, v)
	case OpExists:
		return has
	case OpDoesNotExist:
		return !has
	case OpGt, OpLt:
		if !numeric || !has || len(values) != 1 {
			return false
		}
		got, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		bound, err := strconv.ParseInt(values[0], 10, 64)
		if err != nil {
			return false
		}
		if op == OpGt {
			return got > bound
		}
		return got < bound
	}
	return false
}

// Tolerates reports whether the toleration tolerates the taint, by
// Kubernetes' rules: an empty effect matches every effect; an empty key
// with operator Exists matches every key; Exists ignores the value; Equal
// (or an empty operator) needs equal values.
func (t Toleration) Tolerates(taint Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case TolerationOpExists:
		return true
	case "", TolerationOpEqual:
		return t.Value == taint.Value
	}
	return false
}

// WhenUnsatisfiableOrDefault is WhenUnsatisfiable, or DoNotSchedule when it
// is empty, as Defaults fills it.
func (c TopologySpreadConstraint) WhenUnsatisfiableOrDefault() string {
	if c.WhenUnsatisfiable == "" {
		return DoNotSchedule
	}
	return c.WhenUnsatisfiable
}
