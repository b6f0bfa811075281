// Package svcview is what a node agent needs of the cluster's Services to
// balance their traffic and answer their names: each Service with its
// virtual IP, node ports and endpoints, built from a fold of the log
// (Build). It is pure: the node's proxy (nftables) and DNS server plan
// from it.
package svcview

import (
	"sort"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Service is one Service as the node programs it.
type Service struct {
	Namespace, Name string
	// ClusterIP is its virtual IP ("" while not allocated, or headless).
	ClusterIP string
	Headless  bool
	Type      string // ClusterIP, NodePort, LoadBalancer
	Ports     []Port
	// SessionAffinity: ClientIP keeps a client on one endpoint.
	ClientIPAffinity bool
	// ExternalLocal and InternalLocal: the traffic policies Local (only
	// this node's endpoints, for node-port and for cluster-IP traffic).
	ExternalLocal, InternalLocal bool
	Endpoints                    []Endpoint
}

// Port is one of the Service's ports.
type Port struct {
	Name     string
	Protocol string // TCP, UDP
	Port     int32
	NodePort int32 // 0: none
}

// Endpoint is one pod behind the Service.
type Endpoint struct {
	IP                          string
	Node                        string
	Pod                         string // the pod's name
	Hostname                    string
	Ready, Serving, Terminating bool
	// Ports maps the Service port's name to the pod's port number.
	Ports map[string]int32
}

// Build lists the Services of a fold (one that applied the Services'
// admissions, the endpoints service's allocations and EndpointSlices),
// by namespace and name.
func Build(c *projections.Cluster) []Service {
	var out []Service
	slices := map[string][]*projections.Workload{} // by Service key
	for _, w := range c.Workloads {
		if w.Kind == "endpointslice" && !w.Deleted && w.Owner != nil {
			k := projections.WorkloadKey("service", w.Namespace, w.Owner.Name)
			slices[k] = append(slices[k], w)
		}
	}
	for key, w := range c.Workloads {
		spec := w.Object.Service()
		if w.Kind != "service" || w.Deleted || spec == nil {
			continue
		}
		st := w.Decided().Service
		s := Service{Namespace: w.Namespace, Name: w.Name, Headless: spec.Headless(), Type: spec.Type,
			ClientIPAffinity: spec.SessionAffinity == manifest.AffinityClientIP,
			ExternalLocal:    spec.ExternalTrafficPolicy == manifest.TrafficPolicyLocal,
			InternalLocal:    spec.InternalTrafficPolicy == manifest.TrafficPolicyLocal}
		if st != nil && !s.Headless {
			s.ClusterIP = st.ClusterIP
		}
		for i, p := range spec.Ports {
			port := Port{Name: p.Name, Protocol: p.Protocol, Port: p.Port, NodePort: p.NodePort}
			if st != nil && i < len(st.NodePorts) && st.NodePorts[i] != 0 {
				port.NodePort = st.NodePorts[i]
			}
			s.Ports = append(s.Ports, port)
		}
		for _, sl := range slices[key] {
			if sl.Owner.UID != w.UID {
				continue
			}
			es := sl.Object.EndpointSlice()
			if es == nil {
				continue
			}
			ports := map[string]int32{}
			for _, p := range es.Ports {
				ports[p.Name] = p.Port
			}
			for _, e := range es.Endpoints {
				for _, ip := range e.Addresses {
					ep := Endpoint{IP: ip, Node: e.NodeName, Hostname: e.Hostname, Ready: e.Conditions.Ready,
						Serving: e.Conditions.Serving, Terminating: e.Conditions.Terminating, Ports: ports}
					if e.TargetRef != nil {
						ep.Pod = e.TargetRef.Name
					}
					s.Endpoints = append(s.Endpoints, ep)
				}
			}
		}
		sort.Slice(s.Endpoints, func(i, j int) bool { return s.Endpoints[i].IP < s.Endpoints[j].IP })
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}
