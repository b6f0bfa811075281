package client

import (
	"github.com/gantry-sh/gantry/events/manifest"
)

// Services and EndpointSlices as `kubectl get -o json|yaml` shows them.

// k8sServiceSpec is v1 ServiceSpec with what the endpoints service
// allocated: clusterIP and clusterIPs (None when headless), and each port's
// nodePort.
type k8sServiceSpec struct {
	Selector              map[string]string      `json:"selector,omitempty"`
	Ports                 []manifest.ServicePort `json:"ports,omitempty"`
	Type                  string                 `json:"type"`
	ClusterIP             string                 `json:"clusterIP,omitempty"`
	ClusterIPs            []string               `json:"clusterIPs,omitempty"`
	SessionAffinity       string                 `json:"sessionAffinity,omitempty"`
	ExternalTrafficPolicy string                 `json:"externalTrafficPolicy,omitempty"`
	InternalTrafficPolicy string                 `json:"internalTrafficPolicy,omitempty"`
}

type k8sLoadBalancerIngress struct {
	IP string `json:"ip"`
}

type k8sLoadBalancerStatus struct {
	Ingress []k8sLoadBalancerIngress `json:"ingress,omitempty"`
}

// k8sServiceStatus is v1 ServiceStatus: loadBalancer is always there ({}
// unless a LoadBalancer Service is served), as Kubernetes prints it.
type k8sServiceStatus struct {
	LoadBalancer k8sLoadBalancerStatus `json:"loadBalancer"`
}

// k8sService fills obj (a Service from k8sWorkloadObject) with its
// allocation, st.Service; an address not allocated yet is left out
// (Kubernetes allocates before it stores, so it never shows one missing).
func k8sService(obj k8sObject, st manifest.WorkloadStatus) k8sObject {
	s, _ := obj.Spec.(*manifest.ServiceSpec)
	if s == nil {
		return obj
	}
	alloc := st.Service
	spec := k8sServiceSpec{Selector: s.Selector, Type: s.Type, ClusterIP: s.ClusterIP, SessionAffinity: s.SessionAffinity,
		ExternalTrafficPolicy: s.ExternalTrafficPolicy, InternalTrafficPolicy: s.InternalTrafficPolicy}
	if alloc != nil && alloc.ClusterIP != "" && !s.Headless() {
		spec.ClusterIP = alloc.ClusterIP
	}
	if spec.ClusterIP != "" {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	for i, p := range s.Ports {
		if alloc != nil && i < len(alloc.NodePorts) && alloc.NodePorts[i] != 0 {
			p.NodePort = alloc.NodePorts[i]
		}
		spec.Ports = append(spec.Ports, p)
	}
	status := k8sServiceStatus{}
	if alloc != nil && s.Type == manifest.ServiceTypeLoadBalancer {
		for _, ip := range alloc.Ingress {
			status.LoadBalancer.Ingress = append(status.LoadBalancer.Ingress, k8sLoadBalancerIngress{IP: ip})
		}
	}
	obj.Spec, obj.Status = spec, status
	return obj
}

// k8sEndpointSliceObject is a discovery.k8s.io/v1 EndpointSlice: its
// content at the top level, no spec or status.
type k8sEndpointSliceObject struct {
	APIVersion  string                  `json:"apiVersion"`
	Kind        string                  `json:"kind"`
	Metadata    k8sMeta                 `json:"metadata"`
	AddressType string                  `json:"addressType"`
	Endpoints   []manifest.Endpoint     `json:"endpoints"`
	Ports       []manifest.EndpointPort `json:"ports"`
}

// k8sEndpointSlice moves obj's spec (an EndpointSlice's) to the top level;
// no endpoints (or ports) print as null, as Kubernetes prints them.
func k8sEndpointSlice(obj k8sObject) any {
	es, _ := obj.Spec.(*manifest.EndpointSliceSpec)
	if es == nil {
		return obj
	}
	return k8sEndpointSliceObject{APIVersion: obj.APIVersion, Kind: obj.Kind, Metadata: obj.Metadata,
		AddressType: es.AddressType, Endpoints: es.Endpoints, Ports: es.Ports}
}
