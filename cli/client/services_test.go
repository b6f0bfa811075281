package client

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

// Fixtures: Service hello (NodePort; http 80 → the pods' port named http,
// metrics 9090 → 9090), allocated 10.43.0.10 and node port 30080 for http;
// its EndpointSlice with three ready pods, one not ready and one
// terminating; Service db, headless; Service lb, a LoadBalancer served on
// two nodes.

func fixtureService(created time.Time, name, spec string, st *manifest.ServiceStatus) *projections.Workload {
	o, err := manifest.DecodeObject([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"` + name +
		`","namespace":"default","labels":{"app":"` + name + `"}},"spec":` + spec + `}`))
	if err != nil {
		panic(err)
	}
	return &projections.Workload{Kind: "service", Namespace: "default", Name: name, UID: "svc-uid-" + name, Generation: 1,
		Object: o, CreatedAt: created, Status: projections.WorkloadStatus{Service: st}, Seqs: projections.Seqs{}}
}

func fixtureHelloService(created time.Time) *projections.Workload {
	return fixtureService(created, "hello", `{"type":"NodePort","selector":{"app":"hello"},"ports":[
		{"name":"http","port":80,"targetPort":"http"},{"name":"metrics","port":9090}]}`,
		&manifest.ServiceStatus{ClusterIP: "10.43.0.10", NodePorts: []int32{30080, 31090}})
}

func fixtureSlice(created time.Time) *projections.Workload {
	ep := func(ip, pod, node string, c manifest.EndpointConditions) manifest.Endpoint {
		return manifest.Endpoint{Addresses: []string{ip}, Conditions: c, NodeName: node,
			TargetRef: &manifest.ObjectReference{Kind: "Pod", Namespace: "default", Name: pod, UID: "uid-" + pod}}
	}
	ready := manifest.EndpointConditions{Ready: true, Serving: true}
	name := "hello-1"
	return &projections.Workload{Kind: "endpointslice", Namespace: "default", Name: name, UID: "es-uid-1", Generation: 4,
		Owner: &events.OwnerRef{Kind: "service", Name: "hello", UID: "svc-uid-hello"},
		Object: manifest.Object{APIVersion: manifest.APIDiscoveryV1, Kind: manifest.KindEndpointSlice,
			Metadata: manifest.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{manifest.LabelServiceName: "hello"}},
			Spec: &manifest.EndpointSliceSpec{AddressType: manifest.AddressTypeIPv4,
				Ports: []manifest.EndpointPort{{Name: "http", Protocol: "TCP", Port: 8080}, {Name: "metrics", Protocol: "TCP", Port: 9090}},
				Endpoints: []manifest.Endpoint{
					ep("10.42.0.5", "hello-a", "node-1", ready),
					ep("10.42.1.7", "hello-b", "node-2", ready),
					ep("10.42.1.8", "hello-c", "node-2", ready),
					ep("10.42.0.6", "hello-d", "node-1", manifest.EndpointConditions{}),
					ep("10.42.0.9", "hello-e", "node-1", manifest.EndpointConditions{Serving: true, Terminating: true}),
				}}},
		CreatedAt: created, Seqs: projections.Seqs{},
	}
}

func TestDescribeService(t *testing.T) {
	var buf bytes.Buffer
	alloc := sealedRecord(t, &events.ServiceAllocated{Namespace: "default", Name: "hello", UID: "svc-uid-hello",
		ClusterIP: "10.43.0.10", NodePorts: []int32{30080, 31090}}, "endpoints", "default/hello", fixtureT0.Add(time.Second))
	if err := describeService(&buf, fixtureHelloService(fixtureT0), []*projections.Workload{fixtureSlice(fixtureT0)}, []logItem{alloc}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range []string{
		"Name: hello",
		"Namespace: default",
		"Labels: app=hello",
		"Annotations: <none>",
		"Selector: app=hello",
		"Type: NodePort",
		"IP: 10.43.0.10",
		"IPs: 10.43.0.10",
		"Port: http 80/TCP",
		"TargetPort: http/TCP",
		"NodePort: http 30080/TCP",
		"Endpoints: 10.42.0.5:8080,10.42.1.7:8080,10.42.1.8:8080",
		"NotReady Endpoints: 10.42.0.6:8080,10.42.0.9:8080 (terminating)",
		"Port: metrics 9090/TCP",
		"TargetPort: 9090/TCP",
		"NodePort: metrics 31090/TCP",
		"Endpoints: 10.42.0.5:9090,10.42.1.7:9090,10.42.1.8:9090",
		"Session Affinity: None",
		"External Traffic Policy: Cluster",
		"Internal Traffic Policy: Cluster",
		"Events:",
	} {
		hasLine(t, out, l)
	}
	if !strings.Contains(out, "service default/hello: cluster IP 10.43.0.10, node ports 30080,31090") {
		t.Errorf("the allocation is not among its events:\n%s", out)
	}
	if strings.Contains(out, "LoadBalancer Ingress") || strings.Contains(out, "Refused") {
		t.Errorf("a NodePort Service allocated:\n%s", out)
	}

	tests := []struct {
		name  string
		w     *projections.Workload
		lines []string
	}{
		{"headless", fixtureService(fixtureT0, "db", `{"clusterIP":"None","selector":{"app":"db"}}`, nil),
			[]string{"Type: ClusterIP", "IP: None", "IPs: None", "Session Affinity: None", "Events: <none>"}},
		{"pending", fixtureService(fixtureT0, "web", `{"ports":[{"port":80,"targetPort":8080}]}`, nil),
			[]string{"IP: <pending>", "Port: <unset> 80/TCP", "TargetPort: 8080/TCP", "Endpoints: <none>", "NotReady Endpoints: <none>"}},
		{"refused", fixtureService(fixtureT0, "web", `{"clusterIP":"10.43.0.10","ports":[{"port":80}]}`,
			&manifest.ServiceStatus{Refused: "spec.clusterIP: 10.43.0.10 is in use by service default/hello"}),
			[]string{"IP: 10.43.0.10", "Allocation Refused: spec.clusterIP: 10.43.0.10 is in use by service default/hello"}},
		{"load balancer", fixtureService(fixtureT0, "lb", `{"type":"LoadBalancer","sessionAffinity":"ClientIP","ports":[{"port":443}]}`,
			&manifest.ServiceStatus{ClusterIP: "10.43.0.20", NodePorts: []int32{31443}, Ingress: []string{"10.0.0.1", "10.0.0.2"}}),
			[]string{"Type: LoadBalancer", "LoadBalancer Ingress: 10.0.0.1, 10.0.0.2", "NodePort: <unset> 31443/TCP", "Session Affinity: ClientIP",
				"External Traffic Policy: Cluster"}},
	}
	for _, tt := range tests {
		buf.Reset()
		if err := describeService(&buf, tt.w, nil, nil); err != nil {
			t.Fatal(err)
		}
		for _, l := range tt.lines {
			hasLine(t, buf.String(), l)
		}
	}
}

func TestDescribeEndpointSlice(t *testing.T) {
	var buf bytes.Buffer
	if err := describeEndpointSlice(&buf, fixtureSlice(fixtureT0), nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, l := range []string{"Name: hello-1", "Namespace: default", "Labels: kubernetes.io/service-name=hello", "Annotations: <none>",
		"AddressType: IPv4", "Ports:", "  Name Port Protocol", "  ---- ---- --------", "  http 8080 TCP", "  metrics 9090 TCP", "Endpoints:",
		"  - Addresses: 10.42.0.5", "    Conditions:", "      Ready: true", "      Serving: true", "      Terminating: false",
		"    Hostname: <unset>", "    TargetRef: Pod/hello-a", "    NodeName: node-1",
		"  - Addresses: 10.42.0.9", "      Ready: false", "      Terminating: true", "    TargetRef: Pod/hello-e", "Events: <none>"} {
		hasLine(t, out, l)
	}
	if strings.Count(out, "- Addresses:") != 5 {
		t.Errorf("five endpoints:\n%s", out)
	}
	buf.Reset()
	empty := fixtureSlice(fixtureT0)
	empty.Object.Spec = &manifest.EndpointSliceSpec{AddressType: manifest.AddressTypeIPv4}
	if err := describeEndpointSlice(&buf, empty, nil); err != nil {
		t.Fatal(err)
	}
	hasLine(t, buf.String(), "Ports: <unset>")
	hasLine(t, buf.String(), "Endpoints: <none>")
}

// -o json|yaml: Kubernetes' shape, with what was allocated.
func TestK8sServiceShape(t *testing.T) {
	sameJSON(t, mustJSON(t, k8sWorkload(fixtureHelloService(fixtureT0))), `{"apiVersion":"v1","kind":"Service",
		"metadata":{"creationTimestamp":"2024-05-01T12:00:00Z","generation":1,"labels":{"app":"hello"},"name":"hello","namespace":"default","uid":"svc-uid-hello"},
		"spec":{"clusterIP":"10.43.0.10","clusterIPs":["10.43.0.10"],"externalTrafficPolicy":"Cluster","internalTrafficPolicy":"Cluster",
			"ports":[{"name":"http","nodePort":30080,"port":80,"protocol":"TCP","targetPort":"http"},
				{"name":"metrics","nodePort":31090,"port":9090,"protocol":"TCP","targetPort":9090}],
			"selector":{"app":"hello"},"sessionAffinity":"None","type":"NodePort"},
		"status":{"loadBalancer":{}}}`)

	lb := fixtureService(fixtureT0, "lb", `{"type":"LoadBalancer","ports":[{"port":443}]}`,
		&manifest.ServiceStatus{ClusterIP: "10.43.0.20", NodePorts: []int32{31443}, Ingress: []string{"10.0.0.1", "10.0.0.2"}})
	got := mustJSON(t, k8sWorkload(lb))
	for _, want := range []string{`"ingress": [`, `"ip": "10.0.0.1"`, `"ip": "10.0.0.2"`, `"nodePort": 31443`, `"clusterIPs": [`} {
		if !strings.Contains(got, want) {
			t.Errorf("load balancer: no %s in\n%s", want, got)
		}
	}
	headless := mustJSON(t, k8sWorkload(fixtureService(fixtureT0, "db", `{"clusterIP":"None"}`, nil)))
	if !strings.Contains(headless, `"clusterIP": "None"`) || !strings.Contains(headless, `"clusterIPs": [`) {
		t.Errorf("headless:\n%s", headless)
	}
	pending := mustJSON(t, k8sWorkload(fixtureService(fixtureT0, "web", `{"ports":[{"port":80}]}`, nil)))
	if strings.Contains(pending, "clusterIP") || strings.Contains(pending, "nodePort") {
		t.Errorf("nothing allocated yet, nothing shown:\n%s", pending)
	}

	b, err := renderYAML(k8sWorkload(fixtureSlice(fixtureT0)))
	if err != nil {
		t.Fatal(err)
	}
	yaml := string(b)
	for _, want := range []string{"apiVersion: discovery.k8s.io/v1\n", "kind: EndpointSlice\n", "addressType: IPv4\n",
		"endpoints:\n  - addresses:\n      - 10.42.0.5\n    conditions:\n      ready: true\n      serving: true\n      terminating: false\n",
		"    targetRef:\n      kind: Pod\n", "ports:\n  - name: http\n    port: 8080\n    protocol: TCP\n",
		"  ownerReferences:\n    - apiVersion: v1\n      controller: true\n      kind: Service\n      name: hello\n",
		"    kubernetes.io/service-name: hello\n"} {
		if !strings.Contains(yaml, want) {
			t.Errorf("endpointslice yaml: no\n%s\nin\n%s", want, yaml)
		}
	}
	if strings.Contains(yaml, "spec:") || strings.Contains(yaml, "status:") {
		t.Errorf("an EndpointSlice has no spec or status:\n%s", yaml)
	}
}

// get svc and get endpointslices through the kind registry, as kubectl
// prints them; describe svc reads its slices and its allocation's events.
func TestGetServicesAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.publish(t, events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: "default", Name: "hello", UID: "svc-uid-hello",
		ClusterIP: "10.43.0.10", NodePorts: []int32{30080, 31090}}, "endpoints", "default/hello", created)
	c.publish(t, events.SubjectServiceAlloc, &events.ServiceAllocated{Namespace: "default", Name: "other", UID: "svc-uid-other",
		ClusterIP: "10.43.0.99"}, "endpoints", "default/other", created)
	lb := fixtureService(created, "lb", `{"type":"LoadBalancer","selector":{"app":"lb"},"ports":[{"port":443}]}`,
		&manifest.ServiceStatus{ClusterIP: "10.43.0.20", NodePorts: []int32{31443}, Ingress: []string{"10.0.0.1", "10.0.0.2"}})
	for _, w := range []*projections.Workload{fixtureHelloService(created), fixtureSlice(created), lb,
		fixtureService(created, "db", `{"clusterIP":"None","selector":{"app":"db"}}`, nil)} {
		c.put(t, bus.BucketWorkloads, w.Kind+"."+w.Namespace+"."+w.Name, w)
	}
	c.progress(t, 0)
	expect := func(t *testing.T, line string, wantOut string) {
		t.Helper()
		code, out, errOut := c.gantry(strings.Fields(line)...)
		if code != 0 || out != wantOut || errOut != "" {
			t.Errorf("gantry %s: exit %d, stderr %q, stdout\n%s\nwant\n%s", line, code, errOut, out, wantOut)
		}
	}
	expect(t, "get svc", "NAME    TYPE           CLUSTER-IP   EXTERNAL-IP         PORT(S)                       AGE\n"+
		"db      ClusterIP      None         <none>              <none>                        3h\n"+
		"hello   NodePort       10.43.0.10   <none>              80:30080/TCP,9090:31090/TCP   3h\n"+
		"lb      LoadBalancer   10.43.0.20   10.0.0.1,10.0.0.2   443:31443/TCP                 3h\n")
	expect(t, "get services hello -o wide", "NAME    TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)                       AGE   SELECTOR\n"+
		"hello   NodePort   10.43.0.10   <none>        80:30080/TCP,9090:31090/TCP   3h    app=hello\n")
	expect(t, "get endpointslices", "NAME      ADDRESSTYPE   PORTS       ENDPOINTS                                   AGE\n"+
		"hello-1   IPv4          8080,9090   10.42.0.5,10.42.1.7,10.42.1.8 + 2 more...   3h\n")
	expect(t, "get all -l app=hello", "NAME            TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)                       AGE\n"+
		"service/hello   NodePort   10.43.0.10   <none>        80:30080/TCP,9090:31090/TCP   3h\n")
	expect(t, "get endpointslices -l kubernetes.io/service-name=hello -o name", "endpointslice.discovery.k8s.io/hello-1\n")
	expect(t, "get svc -o jsonpath={.spec.clusterIP}{.spec.ports[0].nodePort}{.status.loadBalancer} hello", "10.43.0.1030080{}")
	expect(t, "get svc lb -o jsonpath={.status.loadBalancer.ingress[*].ip}", "10.0.0.1 10.0.0.2")
	expect(t, "get endpointslice hello-1 -o jsonpath={.addressType}:{.endpoints[0].addresses[0]}:{.ports[0].port}", "IPv4:10.42.0.5:8080")

	code, out, errOut := c.gantry("describe", "svc", "hello")
	if code != 0 {
		t.Fatalf("describe svc hello: exit %d, stderr %q", code, errOut)
	}
	hasLine(t, out, "Endpoints: 10.42.0.5:8080,10.42.1.7:8080,10.42.1.8:8080")
	hasLine(t, out, "NotReady Endpoints: 10.42.0.6:8080,10.42.0.9:8080 (terminating)")
	code, slice, errOut := c.gantry("describe", "endpointslices", "hello-1")
	if code != 0 {
		t.Fatalf("describe endpointslices hello-1: exit %d, stderr %q", code, errOut)
	}
	hasLine(t, slice, "AddressType: IPv4")
	hasLine(t, slice, "    TargetRef: Pod/hello-e")
	if !strings.Contains(out, "cluster IP 10.43.0.10") || strings.Contains(out, "10.43.0.99") {
		t.Errorf("describe svc hello: its allocation, and no other Service's, among its events:\n%s", out)
	}
}
