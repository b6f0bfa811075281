package scheduler

import (
	"sort"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/placement"
	"github.com/gantry-sh/gantry/projections"
)

// PodInfo is what the filters and scorers read of a pod, worked out once per
// pod incarnation rather than once per node: its requests as numbers, its
// priority, its selectors, tolerations, host ports and placement rule. The
// same record stands for a bound pod in its node's list (node, deleting).
type PodInfo struct {
	pod       *projections.Pod
	key       string
	namespace string
	uid       string
	labels    map[string]string
	owner     string // workload uid
	seq       uint64 // planning sequence: larger is newer
	priority  int32

	cpu, mem   int64
	ext        []resourceAmount // extended resources, by name
	extReasons []string         // "Insufficient <name>", aligned with ext
	bestEffort bool             // requests nothing

	nodeSelector   map[string]string
	required       *manifest.NodeSelector
	preferred      []manifest.PreferredSchedulingTerm
	preferredTotal int64

	tolerations []manifest.Toleration
	ports       []hostPort
	claims      []string // the PersistentVolumeClaims it mounts

	rule    *placement.Rule
	ruleErr string // the compile error as a reason, when the rule does not compile

	antiRequired       []manifest.PodAffinityTerm
	antiPreferred      []manifest.WeightedPodAffinityTerm
	antiPreferredTotal int64
	spreadHard         []manifest.TopologySpreadConstraint // DoNotSchedule
	spreadSoft         []manifest.TopologySpreadConstraint // ScheduleAnyway

	// Where the pod is counted: its node and its place in the node's list;
	// deleting pods still hold their room until their node removes them.
	node     *NodeState
	slot     int
	antiSlot int // place in the Service's list of pods with required anti-affinity, -1 when not there
	deleting bool

	// prep is what a pass works out for this pod over the whole cluster
	// before filtering (anti-affinity and spread counts): its own, or the
	// one shared by the pods of its template in this pass (cycle.shared).
	prep *prepared
	own  prepared
	// template names the pods this one is identical to in every way
	// placement can tell (same workload, same template hash); "" for a
	// bare pod.
	template string
}

type resourceAmount struct {
	name  string
	value int64
}

// hostPort is a port a pod takes on its node's address.
type hostPort struct {
	protocol string
	port     int32
}

// newPodInfo works out a pod's requirements; rules compiles its placement
// rule, once per distinct text.
func newPodInfo(p *projections.Pod, rules *placement.Cache) *PodInfo {
	spec := p.Spec
	pi := &PodInfo{pod: p, key: projections.Key(p.Namespace, p.Name), namespace: p.Namespace, uid: p.UID,
		labels: p.Labels, seq: p.PlannedSeq, priority: manifest.PriorityOf(spec), slot: -1, antiSlot: -1,
		nodeSelector: spec.NodeSelector, tolerations: spec.Tolerations, claims: spec.ClaimNames()}
	if p.Owner != nil {
		pi.owner = p.Owner.UID
		if p.TemplateHash != "" {
			pi.template = p.Namespace + "/" + p.Owner.UID + "/" + p.TemplateHash
		}
	}
	reqs := spec.ResourceRequests()
	pi.bestEffort = true
	for name, v := range reqs {
		if v > 0 {
			pi.bestEffort = false
		}
		switch name {
		case events.ResourceCPU:
			pi.cpu = v
		case events.ResourceMemory:
			pi.mem = v
		case events.ResourcePods:
		default:
			if v > 0 {
				pi.ext = append(pi.ext, resourceAmount{name: name, value: v})
			}
		}
	}
	sort.Slice(pi.ext, func(i, j int) bool { return pi.ext[i].name < pi.ext[j].name })
	for _, e := range pi.ext {
		pi.extReasons = append(pi.extReasons, "Insufficient "+e.name)
	}
	if a := spec.Affinity; a != nil {
		if na := a.NodeAffinity; na != nil {
			pi.required = na.RequiredDuringSchedulingIgnoredDuringExecution
			pi.preferred = na.PreferredDuringSchedulingIgnoredDuringExecution
			for _, t := range pi.preferred {
				pi.preferredTotal += int64(t.Weight)
			}
		}
		if pa := a.PodAntiAffinity; pa != nil {
			pi.antiRequired = pa.RequiredDuringSchedulingIgnoredDuringExecution
			pi.antiPreferred = pa.PreferredDuringSchedulingIgnoredDuringExecution
			for _, t := range pi.antiPreferred {
				pi.antiPreferredTotal += int64(t.Weight)
			}
		}
	}
	for _, c := range spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiableOrDefault() == manifest.ScheduleAnyway {
			pi.spreadSoft = append(pi.spreadSoft, c)
		} else {
			pi.spreadHard = append(pi.spreadHard, c)
		}
	}
	for _, c := range spec.Containers {
		for _, cp := range c.Ports {
			if cp.HostPort <= 0 {
				continue
			}
			proto := cp.Protocol
			if proto == "" {
				proto = "TCP"
			}
			pi.ports = append(pi.ports, hostPort{protocol: proto, port: cp.HostPort})
		}
	}
	if src, ok := p.Annotations[manifest.AnnotationPlacement]; ok {
		r, err := rules.Get(src)
		if err != nil {
			pi.ruleErr = placementReason(err)
		}
		pi.rule = r
	}
	return pi
}

// hasAffinity reports a nodeSelector or a required node affinity.
func (p *PodInfo) hasAffinity() bool { return len(p.nodeSelector) > 0 || p.required != nil }

// matchesAffinity reports whether a node satisfies the pod's nodeSelector
// and required node affinity.
func (p *PodInfo) matchesAffinity(n *NodeState) bool {
	return matchNodeLabels(p.nodeSelector, n.Labels) && (p.required == nil || p.required.Matches(n.Labels))
}

// hasPlacementRule reports a gantry.dev/placement annotation.
func (p *PodInfo) hasPlacementRule() bool { return p.rule != nil || p.ruleErr != "" }
