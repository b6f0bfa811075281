package proxy

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/node/svcview"
)

const (
	svcChain = "service-default/web/tcp/80"
	extChain = "external-default/web/tcp/80"
	locChain = "local-default/web/tcp/80"
	epA      = "endpoint-default/web/tcp/80__10.244.1.5/8080" // on n1, this node
	epB      = "endpoint-default/web/tcp/80__10.244.2.7/8080" // on n2
)

func web(mod ...func(*svcview.Service)) svcview.Service {
	s := svcview.Service{Namespace: "default", Name: "web", ClusterIP: "10.96.0.10", Type: "ClusterIP",
		Ports: []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80}},
		Endpoints: []svcview.Endpoint{
			{IP: "10.244.1.5", Node: "n1", Ready: true, Ports: map[string]int32{"http": 8080}},
			{IP: "10.244.2.7", Node: "n2", Ready: true, Ports: map[string]int32{"http": 8080}},
			{IP: "10.244.2.9", Node: "n2", Ready: false, Serving: true, Terminating: true, Ports: map[string]int32{"http": 8080}},
		}}
	for _, m := range mod {
		m(&s)
	}
	return s
}

func nodePort(s *svcview.Service)    { s.Type, s.Ports[0].NodePort = "NodePort", 30080 }
func noEndpoints(s *svcview.Service) { s.Endpoints = nil }
func onlyRemote(s *svcview.Service)  { s.Endpoints = s.Endpoints[1:] }

func TestPlan(t *testing.T) {
	node := Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("192.168.1.10")}}
	cases := []struct {
		name     string
		node     *Node
		services []svcview.Service
		chains   map[string][]string // chain → its rules; nil: the chain must be absent
		maps     map[string][]string // map → its elements
		sets     map[string]string   // set → rendered
	}{
		{
			name:     "ClusterIP: the virtual IP goes to a random ready endpoint",
			services: []svcview.Service{web()},
			chains: map[string][]string{
				svcChain: {"numgen random mod 2 vmap { 0 : goto " + epA + ", 1 : goto " + epB + " }"},
				epA:      {"ip saddr 10.244.1.5 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.244.1.5:8080"},
				epB:      {"ip saddr 10.244.2.7 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.244.2.7:8080"},
				"endpoint-default/web/tcp/80__10.244.2.9/8080": nil, // not ready
				extChain: nil,
			},
			maps: map[string][]string{
				"service-ips":          {"10.96.0.10 . tcp . 80 : goto " + svcChain},
				"service-nodeports":    nil,
				"no-endpoint-services": nil,
			},
		},
		{
			name:     "no ready endpoint: new connections are rejected",
			services: []svcview.Service{web(noEndpoints, nodePort)},
			chains:   map[string][]string{svcChain: nil, extChain: nil},
			maps: map[string][]string{
				"service-ips":           nil,
				"no-endpoint-services":  {"10.96.0.10 . tcp . 80 : goto reject-chain"},
				"no-endpoint-nodeports": {"tcp . 30080 : goto reject-chain"},
			},
		},
		{
			name:     "NodePort: masqueraded, to any endpoint",
			services: []svcview.Service{web(nodePort)},
			chains: map[string][]string{
				extChain: {"jump mark-for-masquerade", "goto " + svcChain},
				locChain: nil,
			},
			maps: map[string][]string{
				"service-ips":       {"10.96.0.10 . tcp . 80 : goto " + svcChain},
				"service-nodeports": {"tcp . 30080 : goto " + extChain},
			},
			sets: map[string]string{"nodeport-ips": "{nodeport-ips [192.168.1.10] 0s}"},
		},
		{
			name:     "externalTrafficPolicy Local: the client's address kept, this node's endpoints only",
			services: []svcview.Service{web(nodePort, func(s *svcview.Service) { s.ExternalLocal = true })},
			chains: map[string][]string{
				extChain: {
					"fib saddr type local jump mark-for-masquerade",
					"fib saddr type local goto " + svcChain,
					"goto " + locChain,
				},
				locChain: {"numgen random mod 1 vmap { 0 : goto " + epA + " }"},
				svcChain: {"numgen random mod 2 vmap { 0 : goto " + epA + ", 1 : goto " + epB + " }"},
			},
		},
		{
			name:     "externalTrafficPolicy Local without a local endpoint: dropped from outside",
			services: []svcview.Service{web(nodePort, onlyRemote, func(s *svcview.Service) { s.ExternalLocal = true })},
			chains: map[string][]string{
				extChain: {
					"fib saddr type local jump mark-for-masquerade",
					"fib saddr type local goto " + svcChain,
					"drop",
				},
				locChain: nil,
			},
			maps: map[string][]string{"service-nodeports": {"tcp . 30080 : goto " + extChain}},
		},
		{
			name:     "internalTrafficPolicy Local: the virtual IP goes to this node's endpoints",
			services: []svcview.Service{web(func(s *svcview.Service) { s.InternalLocal = true })},
			chains:   map[string][]string{locChain: {"numgen random mod 1 vmap { 0 : goto " + epA + " }"}},
			maps:     map[string][]string{"service-ips": {"10.96.0.10 . tcp . 80 : goto " + locChain}},
		},
		{
			name:     "internalTrafficPolicy Local without a local endpoint: dropped, not rejected",
			services: []svcview.Service{web(onlyRemote, func(s *svcview.Service) { s.InternalLocal = true })},
			chains:   map[string][]string{locChain: nil},
			maps: map[string][]string{
				"service-ips":          nil,
				"no-endpoint-services": {"10.96.0.10 . tcp . 80 : drop"},
			},
		},
		{
			name:     "sessionAffinity ClientIP: a client goes back to its endpoint",
			services: []svcview.Service{web(func(s *svcview.Service) { s.ClientIPAffinity = true })},
			chains: map[string][]string{
				svcChain: {
					"ip saddr @affinity-default/web/tcp/80__10.244.1.5/8080 goto " + epA,
					"ip saddr @affinity-default/web/tcp/80__10.244.2.7/8080 goto " + epB,
					"numgen random mod 2 vmap { 0 : goto " + epA + ", 1 : goto " + epB + " }",
				},
				epA: {
					"ip saddr 10.244.1.5 jump mark-for-masquerade",
					"update @affinity-default/web/tcp/80__10.244.1.5/8080 { ip saddr }",
					"meta l4proto tcp dnat to 10.244.1.5:8080",
				},
			},
			sets: map[string]string{
				"affinity-default/web/tcp/80__10.244.1.5/8080": "{affinity-default/web/tcp/80__10.244.1.5/8080 [] 3h0m0s}",
			},
		},
		{
			name: "LoadBalancer: the Service's port on every node address, and its node port",
			services: []svcview.Service{web(nodePort, func(s *svcview.Service) { s.Type = "LoadBalancer" }),
				// A second LoadBalancer on the same port: the first (by name) keeps it.
				{Namespace: "other", Name: "web", ClusterIP: "10.96.0.11", Type: "LoadBalancer",
					Ports: []svcview.Port{{Protocol: "TCP", Port: 80, NodePort: 30081}}}},
			maps: map[string][]string{
				"service-ips": {
					"10.96.0.10 . tcp . 80 : goto " + svcChain,
					"192.168.1.10 . tcp . 80 : goto " + extChain,
				},
				"service-nodeports":     {"tcp . 30080 : goto " + extChain},
				"no-endpoint-services":  {"10.96.0.11 . tcp . 80 : goto reject-chain"},
				"no-endpoint-nodeports": {"tcp . 30081 : goto reject-chain"},
			},
		},
		{
			name: "UDP, a named target port, an endpoint without the port, headless and unallocated Services",
			services: []svcview.Service{
				{Namespace: "kube-system", Name: "dns", ClusterIP: "10.96.0.53",
					Ports: []svcview.Port{{Name: "dns", Protocol: "UDP", Port: 53}},
					Endpoints: []svcview.Endpoint{
						{IP: "10.244.1.2", Ready: true, Ports: map[string]int32{"dns": 5353}},
						{IP: "10.244.1.3", Ready: true, Ports: map[string]int32{"metrics": 9153}},
					}},
				{Namespace: "default", Name: "db", Headless: true, Ports: []svcview.Port{{Port: 5432}}},
				{Namespace: "default", Name: "new", Ports: []svcview.Port{{Port: 80}}},
			},
			chains: map[string][]string{
				"service-kube-system/dns/udp/53": {"numgen random mod 1 vmap { 0 : goto endpoint-kube-system/dns/udp/53__10.244.1.2/5353 }"},
				"endpoint-kube-system/dns/udp/53__10.244.1.2/5353": {
					"ip saddr 10.244.1.2 jump mark-for-masquerade", "meta l4proto udp dnat to 10.244.1.2:5353"},
			},
			maps: map[string][]string{
				"service-ips":          {"10.96.0.53 . udp . 53 : goto service-kube-system/dns/udp/53"},
				"no-endpoint-services": nil,
			},
		},
		{
			name:     "with the cluster CIDR: traffic to the virtual IP from outside the pod network is masqueraded",
			node:     &Node{Name: "n1", ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16")},
			services: []svcview.Service{web()},
			chains: map[string][]string{svcChain: {
				"ip saddr != 10.244.0.0/16 ip daddr 10.96.0.10 meta l4proto tcp th dport 80 jump mark-for-masquerade",
				"numgen random mod 2 vmap { 0 : goto " + epA + ", 1 : goto " + epB + " }",
			}},
		},
		{
			name: "always: the hooks, the dispatch, masquerade and reject",
			chains: map[string][]string{
				"nat-prerouting":  {"jump services"},
				"nat-output":      {"jump services"},
				"nat-postrouting": {"jump masquerading"},
				"filter-input":    {"ct state new jump endpoints-check"},
				"filter-forward":  {"ct state new jump endpoints-check"},
				"filter-output":   {"ct state new jump endpoints-check"},
				"services": {
					"ip daddr . meta l4proto . th dport vmap @service-ips",
					"ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
				},
				"endpoints-check": {
					"ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
					"ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
				},
				"mark-for-masquerade": {"meta mark set meta mark | 0x4000"},
				"masquerading":        {"meta mark & 0x4000 == 0 return", "meta mark set meta mark ^ 0x4000 masquerade fully-random"},
				"reject-chain":        {"meta l4proto tcp reject with tcp reset", "reject with icmp port-unreachable"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := node
			if tc.node != nil {
				n = *tc.node
			}
			rs := Plan(n, tc.services)
			if again := Plan(n, tc.services); !reflect.DeepEqual(rs, again) {
				t.Fatal("two plans of the same Services differ")
			}
			for name, want := range tc.chains {
				c := rs.Chain(name)
				switch {
				case want == nil && c != nil:
					t.Errorf("chain %s: present, want none\n%s", name, rs)
				case want != nil && c == nil:
					t.Errorf("chain %s: missing\n%s", name, rs)
				case c != nil:
					expectLines(t, "chain "+name, c.Rules, want)
				}
			}
			for name, want := range tc.maps {
				m := rs.Map(name)
				if m == nil {
					t.Fatalf("map %s missing", name)
				}
				expectLines(t, "map "+name, m.Elements, want)
			}
			for name, want := range tc.sets {
				found := false
				for _, s := range rs.Sets {
					if s.Name == name {
						found = true
						if got := strings.TrimSpace(fmtSet(s)); got != want {
							t.Errorf("set %s: %s, want %s", name, got, want)
						}
					}
				}
				if !found {
					t.Errorf("set %s missing", name)
				}
			}
		})
	}
}

func fmtSet(s Set) string {
	var a []string
	for _, x := range s.Addrs {
		a = append(a, x.String())
	}
	return "{" + s.Name + " [" + strings.Join(a, " ") + "] " + s.Timeout.String() + "}"
}

// expectLines compares the nft renderings of rules or map elements.
func expectLines[T fmt.Stringer](t *testing.T, what string, items []T, want []string) {
	t.Helper()
	var got []string
	for _, x := range items {
		got = append(got, x.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}
