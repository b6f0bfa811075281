package manifest

import (
	"fmt"
	"strconv"
	"strings"
)

// Validation of a pod's scheduling fields, with Kubernetes' rules and
// Gantry's limits (pod anti-affinity by hostname only).

const (
	nodeSelectorOperators  = "In, NotIn, Exists, DoesNotExist, Gt, Lt"
	labelSelectorOperators = "In, NotIn, Exists, DoesNotExist"
)

// MaxPodTerms is how many pod anti-affinity terms (required and preferred)
// and topology spread constraints one pod may have together: the scheduler
// matches them through one 64-bit mask per pod. Kubernetes sets no limit;
// no real pod comes near it.
const MaxPodTerms = 64

func validateScheduling(errs *FieldErrors, path string, s PodSpec) {
	terms := len(s.TopologySpreadConstraints)
	tpath := fieldPath(path, "topologySpreadConstraints")
	if a := s.Affinity; a != nil && a.PodAntiAffinity != nil {
		terms += len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) +
			len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		tpath = fieldPath(fieldPath(path, "affinity"), "podAntiAffinity")
	}
	if terms > MaxPodTerms {
		errs.addf(tpath, "at most %d pod anti-affinity terms and topology spread constraints together, got %d", MaxPodTerms, terms)
	}
	validateLabels(errs, fieldPath(path, "nodeSelector"), s.NodeSelector)
	if a := s.Affinity; a != nil {
		apath := fieldPath(path, "affinity")
		if a.NodeAffinity != nil {
			validateNodeAffinity(errs, fieldPath(apath, "nodeAffinity"), *a.NodeAffinity)
		}
		if a.PodAntiAffinity != nil {
			validatePodAntiAffinity(errs, fieldPath(apath, "podAntiAffinity"), *a.PodAntiAffinity)
		}
	}
	validateTolerations(errs, fieldPath(path, "tolerations"), s.Tolerations)
	validateTopologySpread(errs, fieldPath(path, "topologySpreadConstraints"), s.TopologySpreadConstraints)
	validatePriority(errs, path, s)
}

func validateNodeAffinity(errs *FieldErrors, path string, na NodeAffinity) {
	if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
		tpath := fieldPath(fieldPath(path, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms")
		if len(req.NodeSelectorTerms) == 0 {
			errs.add(tpath, "required: at least one node selector term")
		}
		for i, t := range req.NodeSelectorTerms {
			validateNodeSelectorTerm(errs, indexPath(tpath, i), t)
		}
	}
	for i, p := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		ppath := indexPath(fieldPath(path, "preferredDuringSchedulingIgnoredDuringExecution"), i)
		validateWeight(errs, fieldPath(ppath, "weight"), p.Weight)
		validateNodeSelectorTerm(errs, fieldPath(ppath, "preference"), p.Preference)
	}
}

func validateWeight(errs *FieldErrors, path string, w int32) {
	if w < 1 || w > 100 {
		errs.addf(path, "must be between 1 and 100, got %d", w)
	}
}

func validateNodeSelectorTerm(errs *FieldErrors, path string, t NodeSelectorTerm) {
	for i, r := range t.MatchExpressions {
		validateRequirement(errs, indexPath(fieldPath(path, "matchExpressions"), i), r.Key, r.Operator, r.Values, true)
	}
}

// validateRequirement checks a node selector requirement (numeric: Gt and
// Lt allowed) or a label selector requirement.
func validateRequirement(errs *FieldErrors, path, key, op string, values []string, numeric bool) {
	kpath, opath, vpath := fieldPath(path, "key"), fieldPath(path, "operator"), fieldPath(path, "values")
	if key == "" {
		errs.add(kpath, "required")
	} else if msg := LabelKeyProblem(key); msg != "" {
		errs.add(kpath, msg)
	}
	operators := labelSelectorOperators
	if numeric {
		operators = nodeSelectorOperators
	}
	switch {
	case op == OpIn || op == OpNotIn:
		if len(values) == 0 {
			errs.addf(vpath, "required: at least one value when operator is %s", op)
		}
		if !numeric {
			for i, v := range values {
				if msg := LabelValueProblem(v); msg != "" {
					errs.add(indexPath(vpath, i), msg)
				}
			}
		}
	case op == OpExists || op == OpDoesNotExist:
		if len(values) > 0 {
			errs.addf(vpath, "must be empty when operator is %s", op)
		}
	case numeric && (op == OpGt || op == OpLt):
		if len(values) != 1 {
			errs.addf(vpath, "must hold exactly one value when operator is %s, got %d", op, len(values))
		} else if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
			errs.addf(indexPath(vpath, 0), "must be an integer when operator is %s, got %q", op, values[0])
		}
	case op == "":
		errs.add(opath, "required: must be one of "+operators)
	default:
		errs.add(opath, "must be one of "+operators)
	}
}

// validateLabelSelector checks matchLabels and matchExpressions.
func validateLabelSelector(errs *FieldErrors, path string, s LabelSelector) {
	validateLabels(errs, fieldPath(path, "matchLabels"), s.MatchLabels)
	for i, r := range s.MatchExpressions {
		validateRequirement(errs, indexPath(fieldPath(path, "matchExpressions"), i), r.Key, r.Operator, r.Values, false)
	}
}

func validatePodAntiAffinity(errs *FieldErrors, path string, pa PodAntiAffinity) {
	for i, t := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
		validatePodAffinityTerm(errs, indexPath(fieldPath(path, "requiredDuringSchedulingIgnoredDuringExecution"), i), t)
	}
	for i, w := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
		wpath := indexPath(fieldPath(path, "preferredDuringSchedulingIgnoredDuringExecution"), i)
		validateWeight(errs, fieldPath(wpath, "weight"), w.Weight)
		validatePodAffinityTerm(errs, fieldPath(wpath, "podAffinityTerm"), w.PodAffinityTerm)
	}
}

func validatePodAffinityTerm(errs *FieldErrors, path string, t PodAffinityTerm) {
	if t.LabelSelector != nil {
		validateLabelSelector(errs, fieldPath(path, "labelSelector"), *t.LabelSelector)
	}
	kpath := fieldPath(path, "topologyKey")
	switch t.TopologyKey {
	case "":
		errs.add(kpath, "required")
	case HostnameTopologyKey:
	default:
		errs.add(kpath, "only "+HostnameTopologyKey+" is supported yet")
	}
}

func validateTolerations(errs *FieldErrors, path string, ts []Toleration) {
	for i, t := range ts {
		p := indexPath(path, i)
		kpath, vpath := fieldPath(p, "key"), fieldPath(p, "value")
		if t.Key != "" {
			if msg := LabelKeyProblem(t.Key); msg != "" {
				errs.add(kpath, msg)
			}
		}
		switch t.Operator {
		case "", TolerationOpEqual:
			if t.Key == "" {
				errs.add(kpath, "required unless operator is Exists (an empty key with operator Exists tolerates every taint)")
			}
			if msg := LabelValueProblem(t.Value); msg != "" {
				errs.add(vpath, msg)
			}
		case TolerationOpExists:
			if t.Value != "" {
				errs.addf(vpath, "must be empty when operator is Exists, got %q", t.Value)
			}
		default:
			errs.add(fieldPath(p, "operator"), "must be one of Equal, Exists")
		}
		switch t.Effect {
		case "", TaintNoSchedule, TaintPreferNoSchedule, TaintNoExecute:
		default:
			errs.add(fieldPath(p, "effect"), "must be one of NoSchedule, PreferNoSchedule, NoExecute, or empty for every effect")
		}
		if t.TolerationSeconds != nil && t.Effect != TaintNoExecute {
			errs.add(fieldPath(p, "tolerationSeconds"), "may only be set when effect is NoExecute")
		}
	}
}

func validateTopologySpread(errs *FieldErrors, path string, cs []TopologySpreadConstraint) {
	seen := map[string]string{} // topologyKey + whenUnsatisfiable → path of the first
	for i, c := range cs {
		p := indexPath(path, i)
		if c.MaxSkew < 1 {
			errs.addf(fieldPath(p, "maxSkew"), "must be >= 1, got %d", c.MaxSkew)
		}
		kpath := fieldPath(p, "topologyKey")
		keyOK := false
		if c.TopologyKey == "" {
			errs.add(kpath, "required")
		} else if msg := LabelKeyProblem(c.TopologyKey); msg != "" {
			errs.add(kpath, msg)
		} else {
			keyOK = true
		}
		whenOK := true
		switch c.WhenUnsatisfiable {
		case "", DoNotSchedule, ScheduleAnyway:
		default:
			whenOK = false
			errs.add(fieldPath(p, "whenUnsatisfiable"), "must be one of DoNotSchedule, ScheduleAnyway")
		}
		if c.LabelSelector != nil {
			validateLabelSelector(errs, fieldPath(p, "labelSelector"), *c.LabelSelector)
		}
		if keyOK && whenOK {
			k := c.TopologyKey + "\x00" + c.WhenUnsatisfiableOrDefault()
			if first, dup := seen[k]; dup {
				errs.addf(kpath, "duplicate constraint on %q with whenUnsatisfiable %s (also %s)", c.TopologyKey, c.WhenUnsatisfiableOrDefault(), first)
			} else {
				seen[k] = p
			}
		}
	}
}

func validatePriority(errs *FieldErrors, path string, s PodSpec) {
	ppath := fieldPath(path, "priority")
	if name := s.PriorityClassName; name != "" {
		v, ok := priorityClasses[name]
		if !ok {
			errs.addf(fieldPath(path, "priorityClassName"), "%q not found (classes: %s)", name, strings.Join(sortedKeys(priorityClasses), ", "))
			return
		}
		if s.Priority != nil && *s.Priority != v {
			errs.addf(ppath, "must be %d, the value of priorityClassName %q, or unset; got %d", v, name, *s.Priority)
		}
		return
	}
	if s.Priority != nil && *s.Priority > MaxUserPriority {
		errs.addf(ppath, "must be <= %d without a priorityClassName (higher values belong to the system classes), got %d", MaxUserPriority, *s.Priority)
	}
	// A negative priority set by hand is refused: work that should yield to
	// everything names the class "low" (-1000), so the ordering below the
	// default stays one the cluster defines.
	if s.Priority != nil && *s.Priority < 0 {
		errs.addf(ppath, "must be >= 0, got %d; for work that yields to everything use priorityClassName %q", *s.Priority, PriorityLow)
	}
}

// hostPortKey is "8080/TCP": a host port is unique per protocol in a pod.
func hostPortKey(p ContainerPort) string {
	proto := p.Protocol
	if proto == "" {
		proto = ProtocolTCP
	}
	return fmt.Sprintf("%d/%s", p.HostPort, proto)
}
