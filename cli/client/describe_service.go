package client

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// describeService is `kubectl describe service`: its selector, type and
// virtual IP (as allocated), each port with its target port, node port and
// the ready endpoints behind it (ip:port, from its EndpointSlices), its
// policies and LoadBalancer ingress, then its events. Gantry adds, per
// port, the endpoints that are not ready (NotReady, terminating ones
// marked), and why an allocation was refused.
func describeService(out io.Writer, w *projections.Workload, slices []*projections.Workload, log []logItem) error {
	o := w.Object
	o.Defaults()
	s := o.Service()
	if s == nil {
		return describeWorkload(out, w, slices, log)
	}
	st := w.Status.Service
	d := newDescriber(out)
	d.line(0, "Name:\t%s", w.Name)
	d.line(0, "Namespace:\t%s", w.Namespace)
	d.labels(0, "Labels", o.Metadata.Labels)
	d.labels(0, "Annotations", workloadAnnotations(w))
	d.line(0, "Selector:\t%s", orNone(manifest.FormatLabels(s.Selector)))
	d.line(0, "Type:\t%s", s.Type)
	ip := manifest.ServiceClusterIP(o, w.Status)
	d.line(0, "IP:\t%s", ip)
	if ip != "<pending>" {
		d.line(0, "IPs:\t%s", ip)
	}
	if st != nil && st.Refused != "" {
		d.line(0, "Allocation Refused:\t%s", st.Refused)
	}
	if st != nil && s.Type == manifest.ServiceTypeLoadBalancer && len(st.Ingress) > 0 {
		d.line(0, "LoadBalancer Ingress:\t%s", strings.Join(st.Ingress, ", "))
	}
	for i, p := range s.Ports {
		name := p.Name
		if name == "" {
			name = "<unset>"
		}
		d.line(0, "Port:\t%s\t%d/%s", name, p.Port, p.Protocol)
		d.line(0, "TargetPort:\t%s/%s", p.TargetPort.String(), p.Protocol)
		np := p.NodePort
		if st != nil && i < len(st.NodePorts) && st.NodePorts[i] != 0 {
			np = st.NodePorts[i]
		}
		if np != 0 {
			d.line(0, "NodePort:\t%s\t%d/%s", name, np, p.Protocol)
		}
		ready, notReady := serviceEndpoints(slices, p)
		d.line(0, "Endpoints:\t%s", formatEndpoints(ready))
		d.line(0, "NotReady Endpoints:\t%s", formatEndpoints(notReady))
	}
	d.line(0, "Session Affinity:\t%s", s.SessionAffinity)
	if s.ExternalTrafficPolicy != "" {
		d.line(0, "External Traffic Policy:\t%s", s.ExternalTrafficPolicy)
	}
	d.line(0, "Internal Traffic Policy:\t%s", s.InternalTrafficPolicy)
	d.events(log)
	return d.flush()
}

// serviceEndpoints are the endpoints of the Service's slices for its port
// p, as "ip:port" (the slice's port of p's name and protocol): the ready
// ones, and the others ("(terminating)" after those being deleted).
func serviceEndpoints(slices []*projections.Workload, p manifest.ServicePort) (ready, notReady []string) {
	for _, w := range slices {
		es := w.Object.EndpointSlice()
		if es == nil {
			continue
		}
		port := int32(-1)
		for _, ep := range es.Ports {
			if ep.Name == p.Name && (ep.Protocol == "" || ep.Protocol == p.Protocol) {
				port = ep.Port
			}
		}
		if port < 0 {
			continue
		}
		for _, e := range es.Endpoints {
			for _, a := range e.Addresses {
				addr := a + ":" + strconv.Itoa(int(port))
				switch {
				case e.Conditions.Ready:
					ready = append(ready, addr)
				case e.Conditions.Terminating:
					notReady = append(notReady, addr+" (terminating)")
				default:
					notReady = append(notReady, addr)
				}
			}
		}
	}
	return ready, notReady
}

// formatEndpoints is kubectl's list of endpoints: the first three, then
// how many more; <none> when there are none.
func formatEndpoints(addrs []string) string {
	switch {
	case len(addrs) == 0:
		return "<none>"
	case len(addrs) > 3:
		return strings.Join(addrs[:3], ",") + fmt.Sprintf(" + %d more...", len(addrs)-3)
	}
	return strings.Join(addrs, ",")
}

// describeEndpointSlice is `kubectl describe endpointslice`: its address
// type, ports and each endpoint with its conditions (ready, and Gantry's
// serving and terminating), hostname, pod and node, then its events.
func describeEndpointSlice(out io.Writer, w *projections.Workload, log []logItem) error {
	es := w.Object.EndpointSlice()
	if es == nil {
		return describeWorkload(out, w, nil, log)
	}
	d := newDescriber(out)
	d.line(0, "Name:\t%s", w.Name)
	d.line(0, "Namespace:\t%s", w.Namespace)
	d.labels(0, "Labels", w.Object.Metadata.Labels)
	d.labels(0, "Annotations", w.Object.Metadata.Annotations)
	d.line(0, "AddressType:\t%s", es.AddressType)
	if len(es.Ports) == 0 {
		d.line(0, "Ports: <unset>")
	} else {
		d.line(0, "Ports:")
		d.line(1, "Name\tPort\tProtocol")
		d.line(1, "----\t----\t--------")
		for _, p := range es.Ports {
			name := p.Name
			if name == "" {
				name = "<unset>"
			}
			d.line(1, "%s\t%d\t%s", name, p.Port, p.Protocol)
		}
	}
	if len(es.Endpoints) == 0 {
		d.line(0, "Endpoints: <none>")
	} else {
		d.line(0, "Endpoints:")
		for _, e := range es.Endpoints {
			d.line(1, "- Addresses:\t%s", orNone(strings.Join(e.Addresses, ", ")))
			d.line(2, "Conditions:")
			d.line(3, "Ready:\t%t", e.Conditions.Ready)
			d.line(3, "Serving:\t%t", e.Conditions.Serving)
			d.line(3, "Terminating:\t%t", e.Conditions.Terminating)
			d.line(2, "Hostname:\t%s", orUnset(e.Hostname))
			if r := e.TargetRef; r != nil {
				d.line(2, "TargetRef:\t%s/%s", r.Kind, r.Name)
			}
			d.line(2, "NodeName:\t%s", orUnset(e.NodeName))
		}
	}
	d.events(log)
	return d.flush()
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}
