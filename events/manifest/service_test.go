package manifest

import (
	"reflect"
	"testing"
	"time"
)

// Bad input refused with the field that is wrong, good input accepted, as
// Kubernetes' validation does for the fields Gantry supports.
func TestValidateService(t *testing.T) {
	tests := []struct {
		name string
		spec string // the lines under spec:
		want []string
	}{
		{"one port", "selector: {app: web}\n  ports: [{port: 80}]", nil},
		{"named target port", "selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http}]", nil},
		{"several named ports, TCP and UDP on one number", "ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53}]", nil},
		{"node port", "type: NodePort\n  ports: [{port: 80, nodePort: 30080}]\n  externalTrafficPolicy: Local", nil},
		{"load balancer", "type: LoadBalancer\n  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  internalTrafficPolicy: Local", nil},
		{"headless without ports", "clusterIP: None\n  selector: {app: db}", nil},
		{"explicit cluster IP", "clusterIP: 10.43.0.10\n  ports: [{port: 80}]", nil},
		{"target port 0 means the port", "ports: [{port: 80, targetPort: 0}]", nil},

		{"no ports", "selector: {app: web}", []string{
			"spec.ports: required: at least one port (only a headless Service, clusterIP None, may have none)",
		}},
		{"port out of range", "ports: [{name: a, port: 0}, {name: b, port: 65536}, {name: c, port: -1}]", []string{
			"spec.ports[0].port: must be between 1 and 65535, got 0",
			"spec.ports[1].port: must be between 1 and 65535, got 65536",
			"spec.ports[2].port: must be between 1 and 65535, got -1",
		}},
		{"duplicate port names", "ports: [{name: http, port: 80}, {name: http, port: 8080}]", []string{
			`spec.ports[1].name: duplicate name "http" (also spec.ports[0])`,
		}},
		{"duplicate port and protocol", "ports: [{name: a, port: 80}, {name: b, port: 80, protocol: TCP}]", []string{
			"spec.ports[1].port: duplicate value: port 80/TCP (also spec.ports[0])",
		}},
		{"a missing name with several ports", "ports: [{port: 80}, {name: https, port: 443}, {port: 8080}]", []string{
			"spec.ports[0].name: required when the Service has more than one port",
			"spec.ports[2].name: required when the Service has more than one port",
		}},
		{"bad port name", "ports: [{name: HTTP, port: 80}]", []string{
			`spec.ports[0].name: invalid value "HTTP": must consist of lower-case letters, digits and '-', and start and end with a letter or digit (e.g. "web-1")`,
		}},
		{"bad protocol", "ports: [{port: 80, protocol: SCTP}]", []string{
			`spec.ports[0].protocol: unsupported value "SCTP": must be TCP or UDP`,
		}},
		{"target port out of range", "ports: [{port: 80, targetPort: 70000}]", []string{
			"spec.ports[0].targetPort: must be between 1 and 65535, got 70000",
		}},
		{"target port a number in quotes", "ports: [{port: 80, targetPort: \"8080\"}]", []string{
			`spec.ports[0].targetPort: invalid value "8080": must contain at least one letter: must be a port number or a container port's name`,
		}},
		{"target port name too long", "ports: [{port: 80, targetPort: http-alternative}]", []string{
			`spec.ports[0].targetPort: invalid value "http-alternative": must be no more than 15 characters: must be a port number or a container port's name`,
		}},
		{"target port name with capitals", "ports: [{port: 80, targetPort: Http}]", []string{
			`spec.ports[0].targetPort: invalid value "Http": must consist of lower-case letters, digits and '-', and start and end with a letter or digit: must be a port number or a container port's name`,
		}},
		{"node port with type ClusterIP", "ports: [{port: 80, nodePort: 30080}]", []string{
			"spec.ports[0].nodePort: may not be set when type is ClusterIP",
		}},
		{"node port out of the range", "type: NodePort\n  ports: [{name: a, port: 80, nodePort: 8080}, {name: b, port: 81, nodePort: 32768}]", []string{
			"spec.ports[0].nodePort: must be between 30000 and 32767 (the node port range), got 8080",
			"spec.ports[1].nodePort: must be between 30000 and 32767 (the node port range), got 32768",
		}},
		{"one node port twice", "type: NodePort\n  ports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}, {name: c, port: 82, nodePort: 30080, protocol: UDP}]", []string{
			"spec.ports[1].nodePort: duplicate value: node port 30080/TCP (also spec.ports[0])",
		}},
		{"headless NodePort", "type: NodePort\n  clusterIP: None\n  ports: [{port: 80}]", []string{
			"spec.clusterIP: may not be None when type is NodePort",
		}},
		{"headless LoadBalancer", "type: LoadBalancer\n  clusterIP: None\n  ports: [{port: 80}]", []string{
			"spec.clusterIP: may not be None when type is LoadBalancer",
		}},
		{"bad cluster IP", "clusterIP: 10.43.0.300\n  ports: [{port: 80}]", []string{
			`spec.clusterIP: invalid value "10.43.0.300": must be None or an IPv4 address`,
		}},
		{"cluster IP none in lower case", "clusterIP: none\n  ports: [{port: 80}]", []string{
			`spec.clusterIP: invalid value "none": must be None or an IPv4 address`,
		}},
		{"IPv6 cluster IP", "clusterIP: \"fd00::10\"\n  ports: [{port: 80}]", []string{
			`spec.clusterIP: invalid value "fd00::10": must be None or an IPv4 address`,
		}},
		{"loopback cluster IP", "clusterIP: 127.0.0.1\n  ports: [{port: 80}]", []string{
			`spec.clusterIP: invalid value "127.0.0.1": must be a unicast address (not unspecified, loopback, link-local, multicast or broadcast)`,
		}},
		{"unspecified cluster IP", "clusterIP: 0.0.0.0\n  ports: [{port: 80}]", []string{
			`spec.clusterIP: invalid value "0.0.0.0": must be a unicast address (not unspecified, loopback, link-local, multicast or broadcast)`,
		}},
		{"bad type", "type: ExternalName\n  ports: [{port: 80}]", []string{
			`spec.type: unsupported value "ExternalName": must be ClusterIP, NodePort or LoadBalancer`,
		}},
		{"bad policies", "type: NodePort\n  ports: [{port: 80}]\n  externalTrafficPolicy: local\n  internalTrafficPolicy: Nearest", []string{
			`spec.externalTrafficPolicy: unsupported value "local": must be Cluster or Local`,
			`spec.internalTrafficPolicy: unsupported value "Nearest": must be Cluster or Local`,
		}},
		{"external policy on a ClusterIP Service", "ports: [{port: 80}]\n  externalTrafficPolicy: Local", []string{
			"spec.externalTrafficPolicy: may only be set when type is NodePort or LoadBalancer",
		}},
		{"bad affinity", "ports: [{port: 80}]\n  sessionAffinity: Cookie", []string{
			`spec.sessionAffinity: unsupported value "Cookie": must be None or ClientIP`,
		}},
		{"bad selector", "selector: {\"-app\": web}\n  ports: [{port: 80}]", []string{
			`spec.selector: invalid key "-app": name part must consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (e.g. "app.kubernetes.io/name")`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustDecode(t, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  "+tt.spec+"\n")
			o.Defaults()
			checkErrs(t, Validate(o), tt.want)
		})
	}
}

// Defaults are Kubernetes': type ClusterIP, protocol TCP, targetPort the
// port (also for 0), affinity None, internal policy Cluster, and the
// external policy Cluster only where there are node ports.
func TestServiceDefaults(t *testing.T) {
	o := mustDecode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{name: a, port: 80}, {name: b, port: 81, targetPort: 0}, {name: c, port: 82, targetPort: http, protocol: UDP}]\n")
	o.Defaults()
	s := o.Service()
	http := FromString("http")
	want := []ServicePort{
		{Name: "a", Protocol: ProtocolTCP, Port: 80, TargetPort: ptrTo(FromInt(80))},
		{Name: "b", Protocol: ProtocolTCP, Port: 81, TargetPort: ptrTo(FromInt(81))},
		{Name: "c", Protocol: ProtocolUDP, Port: 82, TargetPort: &http},
	}
	if s.Type != ServiceTypeClusterIP || s.SessionAffinity != AffinityNone || s.InternalTrafficPolicy != TrafficPolicyCluster ||
		s.ExternalTrafficPolicy != "" || !reflect.DeepEqual(s.Ports, want) || o.Metadata.Namespace != DefaultNamespace {
		t.Errorf("defaults: %+v", s)
	}
	np := mustDecode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80}]}\n")
	np.Defaults()
	if np.Service().ExternalTrafficPolicy != TrafficPolicyCluster {
		t.Errorf("NodePort external policy %q, want Cluster", np.Service().ExternalTrafficPolicy)
	}
}

func ptrTo[T any](v T) *T { return &v }

// The get columns: CLUSTER-IP as allocated (<pending> before), EXTERNAL-IP
// for a LoadBalancer only, PORT(S) with the node ports as allocated.
func TestServiceColumns(t *testing.T) {
	cells := func(o Object, st WorkloadStatus) []string {
		var out []string
		for _, c := range o.Info().Columns {
			out = append(out, c.Cell(o, st, time.Time{}))
		}
		return out
	}
	lb := mustDecode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP, nodePort: 30053}]}\n")
	lb.Defaults()
	tests := []struct {
		name string
		o    Object
		st   WorkloadStatus
		want []string
	}{
		{"pending", lb, WorkloadStatus{}, []string{"LoadBalancer", "<pending>", "<pending>", "80/TCP,53:30053/UDP", "app=web"}},
		{"allocated", lb, WorkloadStatus{Service: &ServiceStatus{ClusterIP: "10.43.0.10", NodePorts: []int32{31000, 30053}, Ingress: []string{"10.0.0.1", "10.0.0.2"}}},
			[]string{"LoadBalancer", "10.43.0.10", "10.0.0.1,10.0.0.2", "80:31000/TCP,53:30053/UDP", "app=web"}},
		{"headless", func() Object {
			o := mustDecode(t, "apiVersion: v1\nkind: Service\nmetadata: {name: db}\nspec: {clusterIP: None}\n")
			o.Defaults()
			return o
		}(), WorkloadStatus{}, []string{"ClusterIP", "None", "<none>", "<none>", "<none>"}},
	}
	for _, tt := range tests {
		if got := cells(tt.o, tt.st); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
