package manifest

import (
	"strconv"
	"strings"
	"time"
)

// An EndpointSlice (discovery.k8s.io/v1) lists the pods behind a Service,
// with their readiness: the endpoints service decides them (named
// <service>-<n>, at most MaxEndpointsPerSlice endpoints each, as
// Kubernetes' controller makes them), and every node agent balances and
// answers DNS from them. Users do not write them.

// Kind and apiVersion of an EndpointSlice, and the label naming its
// Service, as Kubernetes sets it.
const (
	KindEndpointSlice      = "EndpointSlice"
	APIDiscoveryV1         = "discovery.k8s.io/v1"
	LabelServiceName       = "kubernetes.io/service-name"
	AddressTypeIPv4        = "IPv4"
	MaxEndpointsPerSlice   = 100
	EndpointSliceManagedBy = "endpointslice-controller.gantry.sh"
)

// EndpointSliceSpec is the content of an EndpointSlice (Kubernetes keeps
// these at the top level of the object; Gantry keeps every object's
// content under spec, and prints them at the top level as Kubernetes does).
type EndpointSliceSpec struct {
	AddressType string         `json:"addressType"`
	Endpoints   []Endpoint     `json:"endpoints"`
	Ports       []EndpointPort `json:"ports,omitempty"`
}

// Endpoint is one pod behind the Service.
type Endpoint struct {
	Addresses  []string           `json:"addresses"`
	Conditions EndpointConditions `json:"conditions"`
	Hostname   string             `json:"hostname,omitempty"`
	NodeName   string             `json:"nodeName,omitempty"`
	TargetRef  *ObjectReference   `json:"targetRef,omitempty"`
}

// EndpointConditions, as Kubernetes' v1 has them: ready (serving and not
// terminating), serving (passing readiness), terminating (being deleted).
type EndpointConditions struct {
	Ready       bool `json:"ready"`
	Serving     bool `json:"serving"`
	Terminating bool `json:"terminating"`
}

// EndpointPort is a port the endpoints serve on: the Service port's name
// and protocol, the pods' port number (targetPort resolved).
type EndpointPort struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

// ObjectReference names the pod an endpoint is.
type ObjectReference struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
}

// EndpointSlice is the object's spec if it is an EndpointSlice, or nil.
func (o Object) EndpointSlice() *EndpointSliceSpec { s, _ := o.Spec.(*EndpointSliceSpec); return s }

var endpointSliceKind = KindInfo{
	APIVersion: APIDiscoveryV1, Kind: KindEndpointSlice, Token: "endpointslice", Plural: "endpointslices",
	spec: specType[EndpointSliceSpec](),
	validate: func(errs *FieldErrors, _ Object) {
		errs.add("kind", "EndpointSlices are decided by the endpoints service from Services and their pods; apply a Service instead")
	},
	Columns: []Column{
		{Header: "ADDRESSTYPE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return o.EndpointSlice().AddressType }},
		{Header: "PORTS", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			var ps []string
			for _, p := range o.EndpointSlice().Ports {
				ps = append(ps, strconv.Itoa(int(p.Port)))
			}
			if len(ps) == 0 {
				return "<unset>"
			}
			return strings.Join(ps, ",")
		}},
		{Header: "ENDPOINTS", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			var as []string
			for _, e := range o.EndpointSlice().Endpoints {
				as = append(as, e.Addresses...)
			}
			switch {
			case len(as) == 0:
				return "<unset>"
			case len(as) > 3:
				return strings.Join(as[:3], ",") + " + " + strconv.Itoa(len(as)-3) + " more..."
			}
			return strings.Join(as, ",")
		}},
	},
}
