package scheduler

import (
	"fmt"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/events/placement"
	"github.com/gantry-sh/gantry/projections"
)

// Builders for the filter and scorer tables: nodes from NodeInfo, pods from
// a spec shaped by options, with the same PodInfo the Service works out.

var testRules = placement.NewCache(0)

type nodeOpt func(*events.NodeInfo)

func labels(kv ...string) nodeOpt {
	return func(i *events.NodeInfo) {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k := 0; k+1 < len(kv); k += 2 {
			i.Labels[kv[k]] = kv[k+1]
		}
	}
}

func taints(ts ...manifest.Taint) nodeOpt {
	return func(i *events.NodeInfo) { i.Taints = append(i.Taints, ts...) }
}

func offers(resource string, v int64) nodeOpt {
	return func(i *events.NodeInfo) { i.Allocatable[resource] = v; i.Capacity[resource] = v }
}

// testNode is a ready node offering cpu (millicores), memory (bytes) and,
// when pods > 0, that many pods.
func testNode(name string, cpu, mem, pods int64, opts ...nodeOpt) *NodeState {
	alloc := map[string]int64{events.ResourceCPU: cpu, events.ResourceMemory: mem}
	capacity := map[string]int64{events.ResourceCPU: cpu, events.ResourceMemory: mem}
	if pods > 0 {
		alloc[events.ResourcePods] = pods
		capacity[events.ResourcePods] = pods
	}
	info := events.NodeInfo{Name: name, Allocatable: alloc, Capacity: capacity}
	for _, o := range opts {
		o(&info)
	}
	return NewNodeState(info)
}

type podOpt func(*projections.Pod)

var podN int

func requests(kv ...string) podOpt {
	return func(p *projections.Pod) {
		rl := manifest.ResourceList{}
		for k := 0; k+1 < len(kv); k += 2 {
			rl[kv[k]] = manifest.MustQuantity(kv[k+1])
		}
		p.Spec.Containers[0].Resources.Requests = rl
	}
}

func podLabels(kv ...string) podOpt {
	return func(p *projections.Pod) {
		p.Labels = map[string]string{}
		for k := 0; k+1 < len(kv); k += 2 {
			p.Labels[kv[k]] = kv[k+1]
		}
	}
}

func inNamespace(ns string) podOpt { return func(p *projections.Pod) { p.Namespace = ns } }

func ownedBy(uid string) podOpt {
	return func(p *projections.Pod) { p.Owner = &events.OwnerRef{Kind: "deployment", Name: uid, UID: uid} }
}

func spec(f func(*manifest.PodSpec)) podOpt { return func(p *projections.Pod) { f(&p.Spec) } }

func annotate(k, v string) podOpt {
	return func(p *projections.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

func hostPorts(ports ...int32) podOpt {
	return func(p *projections.Pod) {
		for _, hp := range ports {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, manifest.ContainerPort{ContainerPort: 80, HostPort: hp})
		}
	}
}

func testPod(opts ...podOpt) *PodInfo {
	podN++
	name := fmt.Sprintf("p%d", podN)
	p := &projections.Pod{Namespace: "default", Name: name, UID: "uid-" + name, PlannedSeq: uint64(podN),
		Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "nginx"}}}}
	for _, o := range opts {
		o(p)
	}
	return newPodInfo(p, testRules)
}

// on counts pods on a node as bound there.
func on(n *NodeState, pods ...*PodInfo) *NodeState {
	for _, p := range pods {
		p.pod.Node = n.Name
		n.add(p)
	}
	return n
}

// prepareOn works out p's cluster counts over nodes.
func prepareOn(p *PodInfo, nodes ...*NodeState) *PodInfo {
	var anti []*PodInfo
	for _, n := range nodes {
		for _, q := range n.bound {
			if len(q.antiRequired) > 0 {
				anti = append(anti, q)
			}
		}
	}
	soft := false
	for _, n := range nodes {
		soft = soft || len(n.softTaints) > 0
	}
	p.prepare(nodes, nil, anti, soft)
	p.prep.owned = map[*NodeState]int{}
	for _, n := range nodes {
		for _, q := range n.bound {
			if q.owner != "" && q.owner == p.owner {
				p.prep.owned[n]++
			}
		}
	}
	return p
}

func selector(kv ...string) *manifest.LabelSelector {
	s := &manifest.LabelSelector{MatchLabels: map[string]string{}}
	for k := 0; k+1 < len(kv); k += 2 {
		s.MatchLabels[kv[k]] = kv[k+1]
	}
	return s
}

func antiAffinity(key string, sel *manifest.LabelSelector) podOpt {
	return spec(func(s *manifest.PodSpec) {
		if s.Affinity == nil {
			s.Affinity = &manifest.Affinity{}
		}
		if s.Affinity.PodAntiAffinity == nil {
			s.Affinity.PodAntiAffinity = &manifest.PodAntiAffinity{}
		}
		pa := s.Affinity.PodAntiAffinity
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution,
			manifest.PodAffinityTerm{LabelSelector: sel, TopologyKey: key})
	})
}

func spreadOver(key string, maxSkew int32, when string, sel *manifest.LabelSelector) podOpt {
	return spec(func(s *manifest.PodSpec) {
		s.TopologySpreadConstraints = append(s.TopologySpreadConstraints,
			manifest.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: sel})
	})
}

func nodeSelector(kv ...string) podOpt {
	return spec(func(s *manifest.PodSpec) {
		s.NodeSelector = map[string]string{}
		for k := 0; k+1 < len(kv); k += 2 {
			s.NodeSelector[kv[k]] = kv[k+1]
		}
	})
}

func tolerate(ts ...manifest.Toleration) podOpt {
	return spec(func(s *manifest.PodSpec) { s.Tolerations = append(s.Tolerations, ts...) })
}

func req(key, op string, values ...string) manifest.NodeSelectorRequirement {
	return manifest.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func term(reqs ...manifest.NodeSelectorRequirement) manifest.NodeSelectorTerm {
	return manifest.NodeSelectorTerm{MatchExpressions: reqs}
}

func requiredAffinity(terms ...manifest.NodeSelectorTerm) podOpt {
	return spec(func(s *manifest.PodSpec) {
		s.Affinity = &manifest.Affinity{NodeAffinity: &manifest.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &manifest.NodeSelector{NodeSelectorTerms: terms}}}
	})
}

func preferredAffinity(terms ...manifest.PreferredSchedulingTerm) podOpt {
	return spec(func(s *manifest.PodSpec) {
		s.Affinity = &manifest.Affinity{NodeAffinity: &manifest.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: terms}}
	})
}
