package dns

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/node/svcview"
)

// fakeUpstream is a resolver on loopback (UDP and TCP on one port):
// example.com. A 192.0.2.1, big.example. 60 A records (over 512 bytes),
// NXDOMAIN for the rest. It records the RD bit of what it was asked.
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	rd   map[string]bool // question name → RD of the last query
}

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{rd: map[string]bool{}}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		q := req.Question[0]
		u.mu.Lock()
		u.rd[q.Name] = req.RecursionDesired
		u.mu.Unlock()
		m := new(dns.Msg).SetReply(req)
		m.RecursionAvailable = true
		switch q.Name {
		case "example.com.":
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.IPv4(192, 0, 2, 1)})
		case "big.example.":
			for i := range 60 {
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr(q.Name, dns.TypeA), A: net.IPv4(192, 0, 2, byte(i+1))})
			}
		default:
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return u
}

func (u *fakeUpstream) sawRD(name string) (rd, asked bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	rd, asked = u.rd[name]
	return rd, asked
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := New(zerolog.New(zerolog.NewTestWriter(t)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ask(t *testing.T, s *Server, network, name string, qtype uint16, edit ...func(*dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	for _, e := range edit {
		e(m)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func addrs(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out
}

func TestServerAnswersAndForwards(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, Config{Upstreams: []string{up.addr}})

	// Before the first Update the cluster's names are not known yet.
	if r := ask(t, s, "udp", "hello.default.svc.gantry.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before Update: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	s.Update(testServices())
	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, s, network, "hello.default.svc.gantry.local.", dns.TypeA)
		if got := addrs(r); !reflect.DeepEqual(got, []string{"10.43.0.10"}) || !r.Authoritative || !r.RecursionAvailable || !r.RecursionDesired {
			t.Fatalf("%s: %v aa=%v ra=%v rd=%v", network, got, r.Authoritative, r.RecursionAvailable, r.RecursionDesired)
		}
		if r := ask(t, s, network, "nope.default.svc.gantry.local.", dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Fatalf("%s unknown name: %s ns=%v", network, dns.RcodeToString[r.Rcode], r.Ns)
		}
		r = ask(t, s, network, "example.com.", dns.TypeA)
		if got := addrs(r); !reflect.DeepEqual(got, []string{"192.0.2.1"}) || r.Authoritative {
			t.Fatalf("%s forwarded: %v aa=%v", network, got, r.Authoritative)
		}
	}
	// RD is passed on as asked: the upstream recurses only when asked to,
	// and the reply echoes it.
	r := ask(t, s, "udp", "norecurse.example.", dns.TypeA, func(m *dns.Msg) { m.RecursionDesired = false })
	if rd, asked := up.sawRD("norecurse.example."); !asked || rd || r.RecursionDesired || r.Rcode != dns.RcodeNameError {
		t.Fatalf("RD=0: upstream asked=%v rd=%v; reply rd=%v %s", asked, rd, r.RecursionDesired, dns.RcodeToString[r.Rcode])
	}
	r = ask(t, s, "udp", "db.default.svc.gantry.local.", dns.TypeA, func(m *dns.Msg) { m.RecursionDesired = false })
	if got := addrs(r); len(got) != 2 || r.RecursionDesired {
		t.Fatalf("RD=0 in the zone: %v rd=%v", got, r.RecursionDesired)
	}

	// The pods of a headless Service take turns at the head of the answer.
	first := func() string {
		return ask(t, s, "udp", "db.default.svc.gantry.local.", dns.TypeA).Answer[0].(*dns.A).A.String()
	}
	if a, b := first(), first(); a == b {
		t.Fatalf("two queries, same first address %s", a)
	}

	// Update swaps the whole zone.
	s.Update([]svcview.Service{{Namespace: "default", Name: "hello", ClusterIP: "10.43.0.99"}})
	if got := addrs(ask(t, s, "udp", "hello.default.svc.gantry.local.", dns.TypeA)); !reflect.DeepEqual(got, []string{"10.43.0.99"}) {
		t.Fatalf("after Update: %v", got)
	}
	if r := ask(t, s, "udp", "db.default.svc.gantry.local.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("deleted Service: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

// A big answer over UDP comes truncated with TC set; over TCP it is whole.
func TestServerTruncates(t *testing.T) {
	up := startUpstream(t)
	s := startServer(t, Config{Upstreams: []string{up.addr}})
	svc := svcview.Service{Namespace: "default", Name: "many", Headless: true}
	for i := range 100 {
		svc.Endpoints = append(svc.Endpoints, svcview.Endpoint{IP: fmt.Sprintf("10.42.%d.%d", i/200, i%200+1), Ready: true})
	}
	s.Update([]svcview.Service{svc})
	for _, name := range []string{"many.default.svc.gantry.local.", "big.example."} {
		udp := ask(t, s, "udp", name, dns.TypeA)
		udp.Compress = true // Len as sent
		if !udp.Truncated || udp.Len() > dns.MinMsgSize {
			t.Fatalf("%s over UDP: tc=%v len=%d", name, udp.Truncated, udp.Len())
		}
		tcp := ask(t, s, "tcp", name, dns.TypeA)
		if tcp.Truncated || len(tcp.Answer) < 60 {
			t.Fatalf("%s over TCP: tc=%v %d records", name, tcp.Truncated, len(tcp.Answer))
		}
		// A client with a large EDNS0 buffer gets it whole over UDP.
		edns := ask(t, s, "udp", name, dns.TypeA, func(m *dns.Msg) { m.SetEdns0(4096, false) })
		if edns.Truncated || len(edns.Answer) != len(tcp.Answer) {
			t.Fatalf("%s over UDP with EDNS0 4096: tc=%v %d records", name, edns.Truncated, len(edns.Answer))
		}
	}
}

// An upstream that does not answer costs the timeout, then the next is asked;
// none answering is SERVFAIL.
func TestServerUpstreamTimeout(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never read
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	up := startUpstream(t)
	s := startServer(t, Config{Upstreams: []string{silent.LocalAddr().String(), up.addr}, Timeout: 200 * time.Millisecond})
	if got := addrs(ask(t, s, "udp", "example.com.", dns.TypeA)); !reflect.DeepEqual(got, []string{"192.0.2.1"}) {
		t.Fatalf("second upstream: %v", got)
	}
	only := startServer(t, Config{Upstreams: []string{silent.LocalAddr().String()}, Timeout: 200 * time.Millisecond})
	start := time.Now()
	if r := ask(t, only, "udp", "example.com.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("silent upstream: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("silent upstream answered after %v", d)
	}
}

// Queries answered while Updates swap the zone (run with -race).
func TestServerConcurrentUpdate(t *testing.T) {
	s := startServer(t, Config{Upstreams: []string{"127.0.0.1:9"}})
	s.Update(testServices())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			s.Update([]svcview.Service{{Namespace: "default", Name: "hello", ClusterIP: fmt.Sprintf("10.43.0.%d", i%200+1)}})
		}
	}()
	for range 50 {
		if got := addrs(ask(t, s, "udp", "hello.default.svc.gantry.local.", dns.TypeA)); len(got) != 1 {
			t.Fatalf("during updates: %v", got)
		}
	}
	cancel()
	<-done
}

func TestServerClose(t *testing.T) {
	s := startServer(t, Config{Upstreams: []string{"127.0.0.1:9"}})
	addr := s.Addr()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The port is free again: the server let go of both sockets.
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("udp port still held after Close: %v", err)
	}
	pc.Close()
	if err := s.Start(t.Context()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{{}, {Listen: "127.0.0.1"}, {Listen: "127.0.0.1:0", Domain: "bad..domain"}} {
		if _, err := New(zerolog.Nop(), cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

func TestHostUpstreams(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mixed := write("mixed", "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch corp.example\nnameserver 2001:db8::53\n")
	stub := write("stub", "nameserver 127.0.0.53\noptions edns0\n")
	systemd := write("systemd", "nameserver 198.51.100.1\n")
	local := write("local", "nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
	tests := []struct {
		name, host, systemd string
		want                []string
	}{
		{"loopback skipped", mixed, systemd, []string{"192.0.2.53:53", "[2001:db8::53]:53"}},
		{"systemd-resolved's stub: its real servers", stub, systemd, []string{"198.51.100.1:53"}},
		{"only loopback: those but this server", local, filepath.Join(dir, "missing"), []string{"127.0.0.2:53"}},
		{"no resolv.conf", filepath.Join(dir, "missing"), filepath.Join(dir, "missing"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hostUpstreams(tt.host, tt.systemd, "127.0.0.1:53")
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
