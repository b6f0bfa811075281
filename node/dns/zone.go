package dns

import (
	"net"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/gantry-sh/gantry/node/svcview"
)

// DefaultDomain is the cluster domain: <svc>.<ns>.svc.gantry.local.
const DefaultDomain = "gantry.local"

// TTL is the time to live of every answer, negative ones included (the
// SOA's minimum): short, so a changed Service is seen within seconds.
const TTL = 5

// Zone is what the cluster domain answers, built from the Services once per
// change (NewZone) and then only read, so answering needs no lock. It also
// holds the reverse (in-addr.arpa, ip6.arpa) names of the ClusterIPs and of
// the headless Services' ready pods.
type Zone struct {
	domain string // canonical FQDN, "gantry.local."
	// names maps a canonical owner name to its records. An empty non-terminal
	// (default.svc.gantry.local.) is present with no records, so it answers
	// NODATA rather than NXDOMAIN.
	names map[string][]dns.RR
	soa   *dns.SOA
	// ready is false for the zone a server holds before its first Update:
	// it answers SERVFAIL rather than a false NXDOMAIN.
	ready bool
}

// Result is the zone's answer to one question.
type Result struct {
	Rcode  int // dns.RcodeSuccess, dns.RcodeNameError or dns.RcodeServerFailure
	Answer []dns.RR
	Ns     []dns.RR // the SOA, on NXDOMAIN and NODATA (negative caching)
	Extra  []dns.RR // addresses of the SRV targets
}

// NewZone indexes the Services under domain ("" is DefaultDomain):
//
//   - <svc>.<ns>.svc.<domain> A: the ClusterIP; headless: one A per ready
//     endpoint (AAAA for IPv6 addresses);
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV for each named port:
//     target the Service's name and its port; headless: one per ready
//     endpoint, target <hostname>.<svc>.<ns>.svc.<domain> (the endpoint's
//     hostname, or its IP with dashes as CoreDNS names it) and the pod's port,
//     that name answering A too;
//   - PTR from the ClusterIP's reverse name to the Service's name, and from
//     a headless endpoint's to its hostname name.
func NewZone(domain string, services []svcview.Service) *Zone {
	if domain == "" {
		domain = DefaultDomain
	}
	z := &Zone{domain: dns.CanonicalName(domain), names: map[string][]dns.RR{}, ready: true}
	z.soa = &dns.SOA{Hdr: hdr(z.domain, dns.TypeSOA), Ns: "ns.dns." + z.domain, Mbox: "hostmaster." + z.domain,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL}
	z.add(z.domain, z.soa)
	for _, s := range services {
		z.addService(s)
	}
	return z
}

func (z *Zone) addService(s svcview.Service) {
	name := dns.CanonicalName(s.Name + "." + s.Namespace + ".svc." + z.domain)
	z.add(name)
	var ready []svcview.Endpoint
	if s.Headless {
		for _, e := range s.Endpoints {
			if e.Ready && net.ParseIP(e.IP) != nil {
				ready = append(ready, e)
			}
		}
		for _, e := range ready {
			host := dns.CanonicalName(endpointHostname(e) + "." + name)
			z.add(name, addr(name, e.IP))
			z.add(host, addr(host, e.IP))
			z.addPTR(e.IP, host)
		}
	} else if net.ParseIP(s.ClusterIP) != nil {
		z.add(name, addr(name, s.ClusterIP))
		z.addPTR(s.ClusterIP, name)
	}
	for _, p := range s.Ports {
		if p.Name == "" {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		srv := dns.CanonicalName("_" + p.Name + "._" + proto + "." + name)
		if !s.Headless {
			z.add(srv, &dns.SRV{Hdr: hdr(srv, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: name})
			continue
		}
		var targets []svcview.Endpoint
		for _, e := range ready {
			if _, ok := e.Ports[p.Name]; ok {
				targets = append(targets, e)
			}
		}
		z.add(srv) // the name exists even with no ready endpoint
		for _, e := range targets {
			// Equal weights: clients spread over them (RFC 2782).
			w := uint16(max(1, 100/len(targets)))
			z.add(srv, &dns.SRV{Hdr: hdr(srv, dns.TypeSRV), Priority: 0, Weight: w,
				Port: uint16(e.Ports[p.Name]), Target: dns.CanonicalName(endpointHostname(e) + "." + name)})
		}
	}
}

// endpointHostname is the endpoint's hostname, or its IP with dashes
// (10-42-0-5) when it has none, as CoreDNS names it.
func endpointHostname(e svcview.Endpoint) string {
	if e.Hostname != "" {
		return e.Hostname
	}
	return strings.NewReplacer(".", "-", ":", "-").Replace(e.IP)
}

func (z *Zone) addPTR(ip, target string) {
	rev, err := dns.ReverseAddr(ip)
	if err != nil {
		return
	}
	// Reverse names are not in the cluster domain: only the full name is
	// added, no empty non-terminals, so other reverse names are forwarded.
	z.names[rev] = append(z.names[rev], &dns.PTR{Hdr: hdr(rev, dns.TypePTR), Ptr: target})
}

// add records rrs at name and makes every ancestor of name down to the
// domain an existing (empty non-terminal) name.
func (z *Zone) add(name string, rrs ...dns.RR) {
	z.names[name] = append(z.names[name], rrs...)
	for n := name; n != z.domain && dns.IsSubDomain(z.domain, n); {
		i, end := dns.NextLabel(n, 0)
		if end {
			break
		}
		n = n[i:]
		if _, ok := z.names[n]; !ok {
			z.names[n] = nil
		}
	}
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

func addr(name, ip string) dns.RR {
	a := net.ParseIP(ip)
	if v4 := a.To4(); v4 != nil {
		return &dns.A{Hdr: hdr(name, dns.TypeA), A: v4}
	}
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: a}
}

// Domain is the zone's cluster domain as a canonical FQDN.
func (z *Zone) Domain() string { return z.domain }

// Lookup answers q. ok is false when the name is not the zone's (outside the
// cluster domain, and not a reverse name it holds): the server forwards it.
// Inside the domain, an unknown name is NXDOMAIN and a known name without
// records of the asked type is NODATA (success, empty answer), as CoreDNS
// answers; both carry the SOA. Answers are owned by the name as asked.
func (z *Zone) Lookup(q dns.Question) (r Result, ok bool) {
	name := dns.CanonicalName(q.Name)
	rrs, exists := z.names[name]
	if !exists && !dns.IsSubDomain(z.domain, name) {
		return Result{}, false
	}
	if !z.ready {
		return Result{Rcode: dns.RcodeServerFailure}, true
	}
	if !exists {
		return Result{Rcode: dns.RcodeNameError, Ns: []dns.RR{z.soa}}, true
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
			c := dns.Copy(rr)
			c.Header().Name = q.Name
			r.Answer = append(r.Answer, c)
		}
	}
	if len(r.Answer) == 0 {
		r.Ns = []dns.RR{z.soa}
		return r, true
	}
	// The SRV targets' addresses, so a client needs no second query.
	seen := map[string]bool{}
	for _, rr := range r.Answer {
		srv, isSRV := rr.(*dns.SRV)
		if !isSRV || seen[srv.Target] {
			continue
		}
		seen[srv.Target] = true
		for _, t := range z.names[srv.Target] {
			if typ := t.Header().Rrtype; typ == dns.TypeA || typ == dns.TypeAAAA {
				r.Extra = append(r.Extra, t)
			}
		}
	}
	sort.SliceStable(r.Extra, func(i, j int) bool { return r.Extra[i].Header().Name < r.Extra[j].Header().Name })
	return r, true
}
