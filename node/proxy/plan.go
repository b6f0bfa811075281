package proxy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/node/svcview"
)

// The chains, maps and sets every ruleset has, named as kube-proxy's
// nftables mode names them.
const (
	chainServices    = "services"             // dispatch by destination
	chainMarkMasq    = "mark-for-masquerade"  // ask postrouting to masquerade
	chainMasquerade  = "masquerading"         // masquerade what was marked
	chainEndpointsCk = "endpoints-check"      // reject or drop what has no endpoint
	chainReject      = "reject-chain"         // refuse a connection
	mapServiceIPs    = "service-ips"          // VIP (and LB node address) . proto . port
	mapNodePorts     = "service-nodeports"    // proto . node port
	mapNoEpServices  = "no-endpoint-services" // like service-ips, for those without endpoints
	mapNoEpNodePorts = "no-endpoint-nodeports"
	setNodePortIPs   = "nodeport-ips" // the node's addresses
)

// AffinityTimeout is how long a client stays on its endpoint with
// sessionAffinity ClientIP (Kubernetes' default timeoutSeconds, 3 hours).
const AffinityTimeout = 3 * time.Hour

// Node is what the planner needs to know of the node it plans for.
type Node struct {
	Name string
	// IPs are the node's addresses: node ports and LoadBalancer ports
	// answer on them.
	IPs []netip.Addr
	// ClusterCIDR is the pod network; traffic to a virtual IP from outside
	// it is masqueraded so replies come back through this node. Optional.
	ClusterCIDR netip.Prefix
}

// Plan computes the ruleset that balances the Services' traffic on this
// node. It is pure. Only IPv4 is programmed; headless Services and those
// without a virtual IP get nothing.
//
// The path of a packet to a virtual IP: nat-prerouting (or nat-output for
// the host's own) → services → the service-ips map → service-<port> →
// numgen random (or the client's affinity) → endpoint-<port>__<ip> → dnat.
// To a node port: services → service-nodeports → external-<port>, which
// marks it for masquerade (or, with externalTrafficPolicy Local, keeps the
// client's address and goes to local-<port>, this node's endpoints only).
// A port without endpoints is in the no-endpoint maps the filter chains
// consult for new connections: rejected (tcp reset, icmp port-unreachable)
// when it has none at all, dropped when it has some but none here.
func Plan(node Node, services []svcview.Service) *Ruleset {
	p := &planner{node: node, rs: &Ruleset{}, maps: map[string]*Map{}, seen: map[string]bool{}}
	p.base()
	for _, s := range services {
		if s.Headless || s.ClusterIP == "" {
			continue
		}
		vip, err := netip.ParseAddr(s.ClusterIP)
		if err != nil || !vip.Is4() {
			continue
		}
		for _, port := range s.Ports {
			p.servicePort(s, vip, port)
		}
	}
	for _, name := range []string{mapServiceIPs, mapNodePorts, mapNoEpServices, mapNoEpNodePorts} {
		m := p.maps[name]
		sort.Slice(m.Elements, func(i, j int) bool { return m.Elements[i].less(m.Elements[j]) })
		p.rs.Maps = append(p.rs.Maps, *m)
	}
	return p.rs
}

type planner struct {
	node Node
	rs   *Ruleset
	maps map[string]*Map
	seen map[string]bool // map keys taken: the first Service (by namespace/name) keeps one
	// nodeIPs are the node's IPv4 addresses, sorted.
	nodeIPs []netip.Addr
}

func (e Element) less(o Element) bool {
	if c := e.Addr.Compare(o.Addr); c != 0 {
		return c < 0
	}
	if e.Proto != o.Proto {
		return e.Proto < o.Proto
	}
	return e.Port < o.Port
}

// base adds the hooks, the dispatch and the masquerade and reject chains.
func (p *planner) base() {
	const dstnat, srcnat = -100, 100
	hooked := func(name, typ, hook string, prio int32, rules ...Rule) {
		p.rs.Chains = append(p.rs.Chains, Chain{Name: name, Hook: &Hook{Type: typ, Hook: hook, Priority: prio}, Rules: rules})
	}
	// Filters run before DNAT (dstnat-10) so they see the virtual IP.
	check := Rule{CtNew: true, Verdict: jump(chainEndpointsCk)}
	hooked("filter-input", "filter", "input", dstnat-10, check)
	hooked("filter-forward", "filter", "forward", dstnat-10, check)
	hooked("filter-output", "filter", "output", dstnat-10, check)
	hooked("nat-prerouting", "nat", "prerouting", dstnat, Rule{Verdict: jump(chainServices)})
	hooked("nat-output", "nat", "output", dstnat, Rule{Verdict: jump(chainServices)})
	hooked("nat-postrouting", "nat", "postrouting", srcnat, Rule{Verdict: jump(chainMasquerade)})

	chain := func(name string, rules ...Rule) {
		p.rs.Chains = append(p.rs.Chains, Chain{Name: name, Rules: rules})
	}
	chain(chainServices,
		Rule{Vmap: mapServiceIPs, VmapKey: KeyAddrProtoPort},
		Rule{DaddrInSet: setNodePortIPs, Vmap: mapNodePorts, VmapKey: KeyProtoPort})
	chain(chainEndpointsCk,
		Rule{Vmap: mapNoEpServices, VmapKey: KeyAddrProtoPort},
		Rule{DaddrInSet: setNodePortIPs, Vmap: mapNoEpNodePorts, VmapKey: KeyProtoPort})
	chain(chainMarkMasq, Rule{SetMark: true})
	chain(chainMasquerade,
		Rule{Unmarked: true, Verdict: verdict("return")},
		Rule{ClearMark: true, Masquerade: true})
	chain(chainReject,
		Rule{Proto: "tcp", Reject: "tcp reset"},
		Rule{Reject: "icmp port-unreachable"})

	for _, name := range []string{mapServiceIPs, mapNoEpServices} {
		p.maps[name] = &Map{Name: name, Key: KeyAddrProtoPort}
	}
	for _, name := range []string{mapNodePorts, mapNoEpNodePorts} {
		p.maps[name] = &Map{Name: name, Key: KeyProtoPort}
	}
	nodeIPs := Set{Name: setNodePortIPs}
	for _, a := range p.node.IPs {
		if a.Is4() {
			nodeIPs.Addrs = append(nodeIPs.Addrs, a)
		}
	}
	sort.Slice(nodeIPs.Addrs, func(i, j int) bool { return nodeIPs.Addrs[i].Less(nodeIPs.Addrs[j]) })
	p.nodeIPs = nodeIPs.Addrs
	p.rs.Sets = append(p.rs.Sets, nodeIPs)
}

// backend is one ready endpoint of one Service port.
type backend struct {
	addr  netip.AddrPort
	chain string // endpoint-...
	set   string // affinity-... ("" without affinity)
}

// servicePort plans one port of a Service: its chains and map entries.
func (p *planner) servicePort(s svcview.Service, vip netip.Addr, port svcview.Port) {
	proto := strings.ToLower(port.Protocol)
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return // SCTP is not programmed
	}
	id := fmt.Sprintf("%s/%s/%s/%d", s.Namespace, s.Name, proto, port.Port)
	var all, local []backend
	for _, e := range s.Endpoints {
		ip, err := netip.ParseAddr(e.IP)
		target, ok := e.Ports[port.Name]
		if err != nil || !ip.Is4() || !e.Ready || !ok || target <= 0 || target > 65535 {
			continue
		}
		ap := netip.AddrPortFrom(ip, uint16(target))
		b := backend{addr: ap, chain: fmt.Sprintf("endpoint-%s__%s/%d", id, ip, target)}
		if s.ClientIPAffinity {
			b.set = fmt.Sprintf("affinity-%s__%s/%d", id, ip, target)
		}
		all = append(all, b)
		if e.Node == p.node.Name && p.node.Name != "" {
			local = append(local, b)
		}
	}
	svcChain, localChain, extChain := "service-"+id, "local-"+id, "external-"+id

	// Cluster-IP traffic: all endpoints, or this node's with
	// internalTrafficPolicy Local.
	clusterEps, clusterChain := all, svcChain
	if s.InternalLocal {
		clusterEps, clusterChain = local, localChain
	}
	vipKey := Element{Addr: vip, Proto: proto, Port: uint16(port.Port)}
	p.route(vipKey, mapServiceIPs, mapNoEpServices, clusterChain, len(clusterEps) > 0, len(all) > 0)

	// Node-port and load-balancer traffic (k3s ServiceLB style: the
	// Service's port on every node address) goes through external-<port>.
	external := port.NodePort != 0 || s.Type == "LoadBalancer"
	if external && port.NodePort != 0 {
		p.route(Element{Proto: proto, Port: uint16(port.NodePort)}, mapNodePorts, mapNoEpNodePorts, extChain, len(all) > 0, len(all) > 0)
	}
	if external && s.Type == "LoadBalancer" {
		for _, a := range p.nodeIPs {
			p.route(Element{Addr: a, Proto: proto, Port: uint16(port.Port)}, mapServiceIPs, mapNoEpServices, extChain, len(all) > 0, len(all) > 0)
		}
	}

	if len(all) == 0 {
		return
	}
	p.balance(svcChain, s, vip, proto, port, all, true)
	if (s.InternalLocal || s.ExternalLocal) && len(local) > 0 {
		p.balance(localChain, s, vip, proto, port, local, false)
	}
	if external {
		var rules []Rule
		if !s.ExternalLocal {
			// From outside: masquerade, so the reply comes back through
			// this node whichever node the endpoint is on.
			rules = []Rule{{Verdict: jump(chainMarkMasq)}, {Verdict: goTo(svcChain)}}
		} else {
			// Local keeps the client's address and uses only this node's
			// endpoints; the node's own traffic may go anywhere.
			rules = []Rule{
				{SaddrLocal: true, Verdict: jump(chainMarkMasq)},
				{SaddrLocal: true, Verdict: goTo(svcChain)},
			}
			if len(local) > 0 {
				rules = append(rules, Rule{Verdict: goTo(localChain)})
			} else {
				rules = append(rules, Rule{Verdict: verdict("drop")}) // no local endpoints
			}
		}
		p.rs.Chains = append(p.rs.Chains, Chain{Name: extChain, Rules: rules})
	}
	for _, b := range all {
		p.endpoint(b, proto)
	}
}

// route puts key in the service map (to chain) when there are endpoints
// to use, else in the no-endpoint map: reject when the Service has no
// ready endpoint at all, drop when it has some but none it may use here.
func (p *planner) route(key Element, svcMap, noEpMap, chain string, usable, any bool) {
	k := fmt.Sprintf("%s %s %s %d", svcMap, key.Addr, key.Proto, key.Port)
	if p.seen[k] {
		return // two LoadBalancer Services on one port: one transaction must not add a key twice
	}
	p.seen[k] = true
	switch {
	case usable:
		key.Verdict = goTo(chain)
		p.maps[svcMap].Elements = append(p.maps[svcMap].Elements, key)
	case any:
		key.Verdict = verdict("drop")
		p.maps[noEpMap].Elements = append(p.maps[noEpMap].Elements, key)
	default:
		key.Verdict = goTo(chainReject)
		p.maps[noEpMap].Elements = append(p.maps[noEpMap].Elements, key)
	}
}

// balance adds a chain that picks one of the backends: the one a client
// has affinity to, else one at random.
func (p *planner) balance(name string, s svcview.Service, vip netip.Addr, proto string, port svcview.Port, bs []backend, masqOutside bool) {
	var rules []Rule
	if masqOutside && p.node.ClusterCIDR.IsValid() {
		// To the virtual IP from outside the pod network (the host, or a
		// routed client): masquerade so the reply finds its way back.
		rules = append(rules, Rule{Daddr: vip, Proto: proto, Dport: uint16(port.Port),
			SaddrNotIn: p.node.ClusterCIDR, Verdict: jump(chainMarkMasq)})
	}
	if s.ClientIPAffinity {
		for _, b := range bs {
			rules = append(rules, Rule{SaddrInSet: b.set, Verdict: goTo(b.chain)})
		}
	}
	var chains []string
	for _, b := range bs {
		chains = append(chains, b.chain)
	}
	rules = append(rules, Rule{RandomGoto: chains})
	p.rs.Chains = append(p.rs.Chains, Chain{Name: name, Rules: rules})
}

// endpoint adds the chain that sends to one backend: a pod reaching
// itself through the virtual IP (hairpin) is masqueraded, or the reply
// would skip the DNAT's reversal.
func (p *planner) endpoint(b backend, proto string) {
	rules := []Rule{{Saddr: b.addr.Addr(), Verdict: jump(chainMarkMasq)}}
	if b.set != "" {
		rules = append(rules, Rule{UpdateSaddr: b.set})
		p.rs.Sets = append(p.rs.Sets, Set{Name: b.set, Timeout: AffinityTimeout})
	}
	rules = append(rules, Rule{Proto: proto, DNAT: b.addr})
	p.rs.Chains = append(p.rs.Chains, Chain{Name: b.chain, Rules: rules})
}
