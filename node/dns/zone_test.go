package dns

import (
	"reflect"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/gantry-sh/gantry/node/svcview"
)

// testServices: a ClusterIP Service with two named ports, a headless one
// with two ready pods (one with a hostname) and one not ready, one whose
// virtual IP is not allocated yet, and a headless one with no pod.
func testServices() []svcview.Service {
	pg := map[string]int32{"pg": 5432}
	return []svcview.Service{
		{Namespace: "default", Name: "db", Headless: true,
			Ports: []svcview.Port{{Name: "pg", Protocol: "TCP", Port: 5432}, {Protocol: "TCP", Port: 9000}},
			Endpoints: []svcview.Endpoint{
				{IP: "10.42.0.5", Hostname: "db-0", Ready: true, Ports: pg},
				{IP: "10.42.0.7", Hostname: "db-2", Ports: pg},
				{IP: "10.42.1.6", Ready: true, Ports: pg},
			}},
		{Namespace: "default", Name: "empty", Headless: true},
		{Namespace: "default", Name: "hello", ClusterIP: "10.43.0.10",
			Ports:     []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80}, {Name: "dns", Protocol: "UDP", Port: 53}},
			Endpoints: []svcview.Endpoint{{IP: "10.42.0.9", Ready: true}}},
		{Namespace: "other", Name: "pending", Ports: []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80}}},
	}
}

func TestZoneLookup(t *testing.T) {
	const soa = "gantry.local. 5 IN SOA ns.dns.gantry.local. hostmaster.gantry.local. 1 7200 1800 86400 5"
	nxdomain := want{rcode: dns.RcodeNameError, ns: []string{soa}}
	nodata := want{ns: []string{soa}}
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  want
	}{
		{"ClusterIP", "hello.default.svc.gantry.local.", dns.TypeA,
			want{answer: []string{"hello.default.svc.gantry.local. 5 IN A 10.43.0.10"}}},
		{"case is kept as asked", "Hello.DEFAULT.svc.gantry.local.", dns.TypeA,
			want{answer: []string{"Hello.DEFAULT.svc.gantry.local. 5 IN A 10.43.0.10"}}},
		{"AAAA of an IPv4 Service is NODATA", "hello.default.svc.gantry.local.", dns.TypeAAAA, nodata},
		{"other types are NODATA", "hello.default.svc.gantry.local.", dns.TypeTXT, nodata},
		{"SRV of a named port", "_http._tcp.hello.default.svc.gantry.local.", dns.TypeSRV, want{
			answer: []string{"_http._tcp.hello.default.svc.gantry.local. 5 IN SRV 0 100 80 hello.default.svc.gantry.local."},
			extra:  []string{"hello.default.svc.gantry.local. 5 IN A 10.43.0.10"}}},
		{"SRV of a UDP port", "_dns._udp.hello.default.svc.gantry.local.", dns.TypeSRV, want{
			answer: []string{"_dns._udp.hello.default.svc.gantry.local. 5 IN SRV 0 100 53 hello.default.svc.gantry.local."},
			extra:  []string{"hello.default.svc.gantry.local. 5 IN A 10.43.0.10"}}},
		{"SRV with the wrong protocol", "_http._udp.hello.default.svc.gantry.local.", dns.TypeSRV, nxdomain},
		{"headless: the ready pods", "db.default.svc.gantry.local.", dns.TypeA, want{answer: []string{
			"db.default.svc.gantry.local. 5 IN A 10.42.0.5", "db.default.svc.gantry.local. 5 IN A 10.42.1.6"}}},
		{"headless SRV: one per ready pod", "_pg._tcp.db.default.svc.gantry.local.", dns.TypeSRV, want{
			answer: []string{
				"_pg._tcp.db.default.svc.gantry.local. 5 IN SRV 0 50 5432 db-0.db.default.svc.gantry.local.",
				"_pg._tcp.db.default.svc.gantry.local. 5 IN SRV 0 50 5432 10-42-1-6.db.default.svc.gantry.local."},
			extra: []string{
				"10-42-1-6.db.default.svc.gantry.local. 5 IN A 10.42.1.6",
				"db-0.db.default.svc.gantry.local. 5 IN A 10.42.0.5"}}},
		{"a pod's hostname", "db-0.db.default.svc.gantry.local.", dns.TypeA,
			want{answer: []string{"db-0.db.default.svc.gantry.local. 5 IN A 10.42.0.5"}}},
		{"a pod without hostname by its dashed IP", "10-42-1-6.db.default.svc.gantry.local.", dns.TypeA,
			want{answer: []string{"10-42-1-6.db.default.svc.gantry.local. 5 IN A 10.42.1.6"}}},
		{"a pod not ready has no name", "db-2.db.default.svc.gantry.local.", dns.TypeA, nxdomain},
		{"PTR of a ClusterIP", "10.0.43.10.in-addr.arpa.", dns.TypePTR,
			want{answer: []string{"10.0.43.10.in-addr.arpa. 5 IN PTR hello.default.svc.gantry.local."}}},
		{"PTR of a headless pod", "5.0.42.10.in-addr.arpa.", dns.TypePTR,
			want{answer: []string{"5.0.42.10.in-addr.arpa. 5 IN PTR db-0.db.default.svc.gantry.local."}}},
		{"PTR of a pod behind a virtual IP is not the zone's", "9.0.42.10.in-addr.arpa.", dns.TypePTR, want{notOurs: true}},
		{"unknown Service", "nope.default.svc.gantry.local.", dns.TypeA, nxdomain},
		{"unknown namespace", "hello.nope.svc.gantry.local.", dns.TypeA, nxdomain},
		{"search-path miss", "example.com.default.svc.gantry.local.", dns.TypeA, nxdomain},
		{"a namespace is an empty non-terminal", "default.svc.gantry.local.", dns.TypeA, nodata},
		{"svc is an empty non-terminal", "svc.gantry.local.", dns.TypeA, nodata},
		{"SOA at the apex", "gantry.local.", dns.TypeSOA, want{answer: []string{soa}}},
		{"virtual IP not allocated yet", "pending.other.svc.gantry.local.", dns.TypeA, nodata},
		{"headless without pods", "empty.default.svc.gantry.local.", dns.TypeA, nodata},
		{"outside the domain", "example.com.", dns.TypeA, want{notOurs: true}},
		{"a suffix that is not a subdomain", "notgantry.local.", dns.TypeA, want{notOurs: true}},
	}
	z := NewZone("", testServices())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := z.Lookup(dns.Question{Name: tt.qname, Qtype: tt.qtype, Qclass: dns.ClassINET})
			if got := result(r, ok); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("%s %s:\n got %+v\nwant %+v", tt.qname, dns.TypeToString[tt.qtype], got, tt.want)
			}
		})
	}
}

func TestZoneDomain(t *testing.T) {
	z := NewZone("Cluster.Test", testServices())
	r, ok := z.Lookup(dns.Question{Name: "hello.default.svc.cluster.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	if got := result(r, ok); !reflect.DeepEqual(got.answer, []string{"hello.default.svc.cluster.test. 5 IN A 10.43.0.10"}) {
		t.Fatalf("in cluster.test: %+v", got)
	}
	if _, ok := z.Lookup(dns.Question{Name: "hello.default.svc.gantry.local.", Qtype: dns.TypeA}); ok {
		t.Fatal("gantry.local answered by a zone for cluster.test")
	}
}

func TestZoneIPv6(t *testing.T) {
	z := NewZone("", []svcview.Service{{Namespace: "default", Name: "v6", ClusterIP: "fd00::a"}})
	r, ok := z.Lookup(dns.Question{Name: "v6.default.svc.gantry.local.", Qtype: dns.TypeAAAA})
	if got := result(r, ok); !reflect.DeepEqual(got.answer, []string{"v6.default.svc.gantry.local. 5 IN AAAA fd00::a"}) {
		t.Fatalf("AAAA: %+v", got)
	}
	rev, _ := dns.ReverseAddr("fd00::a")
	if r, ok := z.Lookup(dns.Question{Name: rev, Qtype: dns.TypePTR}); !ok || len(r.Answer) != 1 {
		t.Fatalf("PTR in ip6.arpa: %v %+v", ok, r)
	}
}

type want struct {
	notOurs           bool
	rcode             int
	answer, ns, extra []string
}

func result(r Result, ok bool) want {
	if !ok {
		return want{notOurs: true}
	}
	return want{rcode: r.Rcode, answer: rrStrings(r.Answer), ns: rrStrings(r.Ns), extra: rrStrings(r.Extra)}
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}
