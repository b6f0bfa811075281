package manifest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A Service (v1) gives a set of pods, chosen by its selector, one name and
// one virtual IP: the endpoints service allocates the IP (from the service
// CIDR) and node ports, and keeps its EndpointSlices (the ready pods behind
// it); every node agent programs the balancing (nftables) and answers its
// DNS names.

// Kind of a Service.
const KindService = "Service"

// Service types and the values of their policies, as Kubernetes names them.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
	ClusterIPNone           = "None"
	AffinityNone            = "None"
	AffinityClientIP        = "ClientIP"
	TrafficPolicyCluster    = "Cluster"
	TrafficPolicyLocal      = "Local"
)

// ServiceSpec is v1 ServiceSpec, as far as Gantry supports it.
type ServiceSpec struct {
	Selector              map[string]string `json:"selector,omitempty"`
	Ports                 []ServicePort     `json:"ports,omitempty"`
	Type                  string            `json:"type,omitempty"`
	ClusterIP             string            `json:"clusterIP,omitempty"`
	SessionAffinity       string            `json:"sessionAffinity,omitempty"`
	ExternalTrafficPolicy string            `json:"externalTrafficPolicy,omitempty"`
	InternalTrafficPolicy string            `json:"internalTrafficPolicy,omitempty"`
}

// ServicePort is v1 ServicePort: the Service's port, and the pods' port it
// goes to (targetPort: a number, or the name of a container port).
type ServicePort struct {
	Name       string       `json:"name,omitempty"`
	Protocol   string       `json:"protocol,omitempty"`
	Port       int32        `json:"port"`
	TargetPort *IntOrString `json:"targetPort,omitempty"`
	NodePort   int32        `json:"nodePort,omitempty"`
}

// Service is the object's spec if it is a Service, or nil.
func (o Object) Service() *ServiceSpec { s, _ := o.Spec.(*ServiceSpec); return s }

// Headless reports clusterIP: None.
func (s ServiceSpec) Headless() bool { return s.ClusterIP == ClusterIPNone }

// HasNodePorts reports a type whose ports are also open on every node.
func (s ServiceSpec) HasNodePorts() bool {
	return s.Type == ServiceTypeNodePort || s.Type == ServiceTypeLoadBalancer
}

// ServiceStatus is what the endpoints service allocated for a Service: its
// virtual IP and its node ports (by the Service port's index), and, for a
// LoadBalancer, the nodes' addresses that serve it (k3s' ServiceLB).
type ServiceStatus struct {
	ClusterIP string  `json:"clusterIP,omitempty"`
	NodePorts []int32 `json:"nodePorts,omitempty"`
	// Ingress are the addresses a LoadBalancer Service answers on.
	Ingress []string `json:"ingress,omitempty"`
	// Refused says why what the Service asks could not be allocated (an
	// explicit clusterIP or nodePort in use, the service CIDR exhausted).
	Refused string `json:"refused,omitempty"`
}

// withDefaults fills type ClusterIP, protocol TCP, targetPort = port and
// sessionAffinity None, as Kubernetes does.
func (s ServiceSpec) withDefaults() ServiceSpec {
	if s.Type == "" {
		s.Type = ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = AffinityNone
	}
	if s.InternalTrafficPolicy == "" {
		s.InternalTrafficPolicy = TrafficPolicyCluster
	}
	if s.HasNodePorts() && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = TrafficPolicyCluster
	}
	ports := make([]ServicePort, len(s.Ports))
	for i, p := range s.Ports {
		if p.Protocol == "" {
			p.Protocol = ProtocolTCP
		}
		if tp := p.TargetPort; tp == nil || tp.IsZero() || (tp.IsString && tp.Str == "") {
			// 0 and "" mean unset, as in Kubernetes' defaulting.
			tp := FromInt(p.Port)
			p.TargetPort = &tp
		}
		ports[i] = p
	}
	s.Ports = ports
	return s
}

// validateServiceSpec checks the spec (Kubernetes' rules, as far as Gantry
// supports the fields).
func validateServiceSpec(errs *FieldErrors, path string, s ServiceSpec) {
	tpath := fieldPath(path, "type")
	switch s.Type {
	case "", ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer:
	default:
		errs.addf(tpath, "unsupported value %q: must be %s, %s or %s", s.Type, ServiceTypeClusterIP, ServiceTypeNodePort, ServiceTypeLoadBalancer)
	}
	if s.Headless() && s.HasNodePorts() {
		errs.addf(fieldPath(path, "clusterIP"), "may not be None when type is %s", s.Type)
	}
	if ip := s.ClusterIP; ip != "" && ip != ClusterIPNone {
		if msg := clusterIPProblem(ip); msg != "" {
			errs.addf(fieldPath(path, "clusterIP"), "invalid value %q: %s", ip, msg)
		}
	}
	if len(s.Selector) > 0 {
		validateLabels(errs, fieldPath(path, "selector"), s.Selector)
	}
	ppath := fieldPath(path, "ports")
	if len(s.Ports) == 0 && !s.Headless() {
		errs.add(ppath, "required: at least one port (only a headless Service, clusterIP None, may have none)")
	}
	// The first port of each name, port/protocol and nodePort/protocol,
	// named in the refusal of a second.
	names, seen, nodePorts := map[string]string{}, map[string]string{}, map[string]string{}
	for i, p := range s.Ports {
		pp := indexPath(ppath, i)
		switch first, dup := names[p.Name]; {
		case len(s.Ports) > 1 && p.Name == "":
			errs.add(fieldPath(pp, "name"), "required when the Service has more than one port")
		case p.Name != "" && dup:
			errs.addf(fieldPath(pp, "name"), "duplicate name %q (also %s)", p.Name, first)
		case p.Name != "":
			if msg := labelNameProblem(p.Name); msg != "" {
				errs.add(fieldPath(pp, "name"), msg)
			}
			names[p.Name] = pp
		}
		if p.Port < 1 || p.Port > 65535 {
			errs.addf(fieldPath(pp, "port"), "must be between 1 and 65535, got %d", p.Port)
		}
		switch p.Protocol {
		case "", ProtocolTCP, ProtocolUDP:
		default:
			errs.addf(fieldPath(pp, "protocol"), "unsupported value %q: must be %s or %s", p.Protocol, ProtocolTCP, ProtocolUDP)
		}
		key := strconv.Itoa(int(p.Port)) + "/" + orTCP(p.Protocol)
		if first, dup := seen[key]; dup {
			errs.addf(fieldPath(pp, "port"), "duplicate value: port %s (also %s)", key, first)
		} else {
			seen[key] = pp
		}
		if tp := p.TargetPort; tp != nil {
			// A name must be one a container port could have (an IANA
			// service name: "8080" in quotes names no port).
			tpp := fieldPath(pp, "targetPort")
			switch {
			case tp.IsString && portNameProblem(tp.Str) != "":
				errs.addf(tpp, "%s: must be a port number or a container port's name", portNameProblem(tp.Str))
			case !tp.IsString && tp.Int != p.Port && (tp.Int < 1 || tp.Int > 65535): // = port: defaulted, refused as port
				errs.addf(tpp, "must be between 1 and 65535, got %d", tp.Int)
			}
		}
		if p.NodePort != 0 {
			np := fieldPath(pp, "nodePort")
			switch {
			case !s.HasNodePorts():
				errs.addf(np, "may not be set when type is %s", orClusterIP(s.Type))
			case p.NodePort < NodePortMin || p.NodePort > NodePortMax:
				errs.addf(np, "must be between %d and %d (the node port range), got %d", NodePortMin, NodePortMax, p.NodePort)
			default:
				key := strconv.Itoa(int(p.NodePort)) + "/" + orTCP(p.Protocol)
				if first, dup := nodePorts[key]; dup {
					errs.addf(np, "duplicate value: node port %s (also %s)", key, first)
				} else {
					nodePorts[key] = pp
				}
			}
		}
	}
	for _, f := range []struct{ name, v string }{{"externalTrafficPolicy", s.ExternalTrafficPolicy}, {"internalTrafficPolicy", s.InternalTrafficPolicy}} {
		if f.v != "" && f.v != TrafficPolicyCluster && f.v != TrafficPolicyLocal {
			errs.addf(fieldPath(path, f.name), "unsupported value %q: must be %s or %s", f.v, TrafficPolicyCluster, TrafficPolicyLocal)
		}
	}
	if s.ExternalTrafficPolicy != "" && !s.HasNodePorts() {
		errs.addf(fieldPath(path, "externalTrafficPolicy"), "may only be set when type is %s or %s", ServiceTypeNodePort, ServiceTypeLoadBalancer)
	}
	if a := s.SessionAffinity; a != "" && a != AffinityNone && a != AffinityClientIP {
		errs.addf(fieldPath(path, "sessionAffinity"), "unsupported value %q: must be %s or %s", a, AffinityNone, AffinityClientIP)
	}
}

// The node port range, Kubernetes' default.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

func orTCP(p string) string {
	if p == "" {
		return ProtocolTCP
	}
	return p
}

func orClusterIP(t string) string {
	if t == "" {
		return ServiceTypeClusterIP
	}
	return t
}

// clusterIPProblem checks an explicit clusterIP: a unicast IPv4 address
// ("" when it is one); whether it is in the service CIDR and free is the
// endpoints service's to say.
func clusterIPProblem(ip string) string {
	if !isIPv4(ip) {
		return "must be None or an IPv4 address"
	}
	a := netip.MustParseAddr(ip)
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "must be a unicast address (not unspecified, loopback, link-local, multicast or broadcast)"
	}
	return ""
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || (len(p) > 1 && p[0] == '0') {
			return false
		}
	}
	return true
}

// FormatServicePorts is kubectl's PORT(S) cell: "80/TCP", "80:30080/TCP".
func FormatServicePorts(s ServiceSpec, st *ServiceStatus) string {
	if len(s.Ports) == 0 {
		return "<none>"
	}
	var out []string
	for i, p := range s.Ports {
		np := p.NodePort
		if st != nil && i < len(st.NodePorts) && st.NodePorts[i] != 0 {
			np = st.NodePorts[i]
		}
		if np != 0 {
			out = append(out, fmt.Sprintf("%d:%d/%s", p.Port, np, orTCP(p.Protocol)))
		} else {
			out = append(out, fmt.Sprintf("%d/%s", p.Port, orTCP(p.Protocol)))
		}
	}
	return strings.Join(out, ",")
}

var serviceKind = KindInfo{
	APIVersion: APICoreV1, Kind: KindService, Token: "service", Plural: "services", ShortNames: []string{"svc"},
	spec:     specType[ServiceSpec](),
	validate: func(errs *FieldErrors, o Object) { validateServiceSpec(errs, "spec", *o.Service()) },
	defaults: func(o *Object) { spec := o.Service().withDefaults(); o.Spec = &spec },
	Columns: []Column{
		{Header: "TYPE", Cell: func(o Object, _ WorkloadStatus, _ time.Time) string { return orClusterIP(o.Service().Type) }},
		{Header: "CLUSTER-IP", Cell: func(o Object, st WorkloadStatus, _ time.Time) string { return ServiceClusterIP(o, st) }},
		{Header: "EXTERNAL-IP", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			if o.Service().Type != ServiceTypeLoadBalancer {
				return "<none>"
			}
			if st.Service == nil || len(st.Service.Ingress) == 0 {
				return "<pending>"
			}
			return strings.Join(st.Service.Ingress, ",")
		}},
		{Header: "PORT(S)", Cell: func(o Object, st WorkloadStatus, _ time.Time) string {
			return FormatServicePorts(*o.Service(), st.Service)
		}},
		{Header: "SELECTOR", Wide: true, Cell: func(o Object, _ WorkloadStatus, _ time.Time) string {
			if len(o.Service().Selector) == 0 {
				return "<none>"
			}
			return FormatLabels(o.Service().Selector)
		}},
	},
}

// ServiceClusterIP is a Service's virtual IP: as written, or as allocated
// (<pending> until then), or None.
func ServiceClusterIP(o Object, st WorkloadStatus) string {
	s := o.Service()
	switch {
	case s.Headless():
		return ClusterIPNone
	case st.Service != nil && st.Service.ClusterIP != "":
		return st.Service.ClusterIP
	case s.ClusterIP != "":
		return s.ClusterIP
	}
	return "<pending>"
}
