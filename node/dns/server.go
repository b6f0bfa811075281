// Package dns is the cluster DNS a node agent serves to its pods, built on
// github.com/miekg/dns (the library CoreDNS is built on): the Services'
// names under the cluster domain (<svc>.<ns>.svc.gantry.local: A, SRV for
// named ports, PTR) from a Zone swapped whole on each change, and every
// other name forwarded to the host's resolvers.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/gantry-sh/gantry/node/svcview"
)

// DefaultTimeout bounds one forwarded query to one upstream.
const DefaultTimeout = 2 * time.Second

// maxUDPSize is the largest UDP answer this server sends, whatever a
// client's EDNS0 buffer says.
const maxUDPSize = 4096

// Config configures the server.
type Config struct {
	// Listen is the address served over UDP and TCP (required), e.g. the
	// pod bridge's gateway address with port 53; port 0 picks a free one.
	Listen string
	// Domain is the cluster domain; default gantry.local.
	Domain string
	// Upstreams receive the names outside the cluster domain (host or
	// host:port). Default: the host's name servers, see hostUpstreams.
	Upstreams []string
	// Timeout bounds a forwarded query to one upstream; default 2 s.
	Timeout time.Duration
	// ResolvConf is read for the default Upstreams; default /etc/resolv.conf.
	ResolvConf string
}

// Server answers DNS over UDP and TCP on one address.
type Server struct {
	cfg       Config
	log       zerolog.Logger
	upstreams []string
	// udp and tcp forward queries; a dns.Client is safe for concurrent use.
	udp, tcp *dns.Client
	zone     atomic.Pointer[Zone]
	rotate   atomic.Uint32 // turns the order of multi-address answers

	mu      sync.Mutex
	servers []*dns.Server
	addr    net.Addr
	closed  bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// New prepares a server: the configuration checked, the upstreams known.
// Until the first Update, names in the cluster domain answer SERVFAIL
// (clients retry) rather than NXDOMAIN.
func New(log zerolog.Logger, cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		return nil, errors.New("dns: listen: an address is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("dns: listen: %w", err)
	}
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	if _, ok := dns.IsDomainName(cfg.Domain); !ok {
		return nil, fmt.Errorf("dns: domain: %q is not a domain name", cfg.Domain)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = HostResolvConf
	}
	s := &Server{cfg: cfg, log: log,
		udp: &dns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: maxUDPSize},
		tcp: &dns.Client{Net: "tcp", Timeout: cfg.Timeout}}
	if len(cfg.Upstreams) > 0 {
		s.upstreams = withPort(cfg.Upstreams)
	} else {
		up, err := hostUpstreams(cfg.ResolvConf, SystemdResolvConf, cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("dns: upstreams: %w", err)
		}
		s.upstreams = up
	}
	if len(s.upstreams) == 0 {
		log.Warn().Str("resolv_conf", cfg.ResolvConf).Msg("dns: no upstream name server: names outside the cluster answer SERVFAIL")
	}
	z := NewZone(cfg.Domain, nil)
	z.ready = false
	s.zone.Store(z)
	return s, nil
}

// Upstreams are the servers names outside the cluster go to.
func (s *Server) Upstreams() []string { return append([]string(nil), s.upstreams...) }

// Update replaces what the cluster domain answers: the new zone is built
// aside and swapped in with one pointer store, so queries in flight finish
// on the old one and none waits.
func (s *Server) Update(services []svcview.Service) {
	s.zone.Store(NewZone(s.cfg.Domain, services))
}

// Sync is Update as a node.ServiceSyncer: the agent's services watcher
// hands the server each new view.
func (s *Server) Sync(services []svcview.Service) error {
	s.Update(services)
	return nil
}

// Start binds the address over UDP and TCP and serves until ctx ends or
// Close is called. It returns once both listeners serve.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.servers != nil {
		return errors.New("dns: already started or closed")
	}
	pc, ln, err := listen(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	s.addr = pc.LocalAddr()
	started, exited := make(chan struct{}, 2), make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.servers = []*dns.Server{
		{PacketConn: pc, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: notify},
		{Listener: ln, Handler: dns.HandlerFunc(s.serve), NotifyStartedFunc: notify},
	}
	for _, srv := range s.servers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil {
				s.log.Error().Err(err).Msg("dns: serve")
			}
			exited <- struct{}{}
		}()
	}
	for range s.servers {
		select { // a server that fails to start does not hang Start
		case <-started:
		case <-exited:
		}
	}
	ctx, s.stop = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		s.shutdown()
	}()
	s.log.Info().Str("listen", s.addr.String()).Str("domain", s.cfg.Domain).Strs("upstreams", s.upstreams).Msg("dns: serving")
	return nil
}

// listen binds addr over UDP and TCP. The TCP port follows the UDP one, so
// port 0 gives one port for both (tried again when TCP has it taken). The
// sockets are IP_FREEBIND: an address not configured yet (the pod bridge's
// gateway, made with the first pod's network) can be bound before it is.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
	ctx := context.Background()
	for try := 0; ; try++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		ln, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if port != "0" || try == 10 {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
	}
}

// Addr is the address served (after Start), with the port picked for 0.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

func (s *Server) shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := srv.ShutdownContext(ctx); err != nil {
			s.log.Warn().Err(err).Msg("dns: shut down")
		}
		cancel()
	}
	s.servers = nil
	s.closed = true
}

// Close stops serving and waits for the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	stop := s.stop
	s.closed = true
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.wg.Wait()
	return nil
}

// serve answers one query: from the zone when the name is the cluster's,
// else from an upstream. Over UDP an answer larger than the client's
// buffer (512 bytes, or its EDNS0 size) is truncated with TC set, and the
// client asks again over TCP.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	var resp *dns.Msg
	switch {
	case req.Opcode != dns.OpcodeQuery || len(req.Question) != 1:
		resp = new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented)
		if len(req.Question) != 1 {
			resp.Rcode = dns.RcodeFormatError
		}
	default:
		zone := s.zone.Load()
		if r, ok := zone.Lookup(req.Question[0]); ok {
			resp = s.local(req, r)
		} else {
			resp = s.forward(req, udp)
		}
	}
	resp.RecursionAvailable = true
	if udp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = min(max(int(o.UDPSize()), dns.MinMsgSize), maxUDPSize)
		}
		resp.Truncate(size)
	}
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug().Err(err).Str("client", w.RemoteAddr().String()).Msg("dns: write answer")
	}
}

// local is the reply carrying the zone's result: authoritative, the
// client's RD echoed (the name needs no recursion either way).
func (s *Server) local(req *dns.Msg, r Result) *dns.Msg {
	resp := new(dns.Msg).SetRcode(req, r.Rcode)
	resp.Authoritative = r.Rcode != dns.RcodeServerFailure
	resp.Compress = true
	resp.Answer, resp.Ns, resp.Extra = r.Answer, r.Ns, r.Extra
	// Clients take the first address: turning the order spreads them over
	// a headless Service's pods, as CoreDNS' loadbalance plugin does.
	if n := len(resp.Answer); n > 1 {
		k := int(s.rotate.Add(1) % uint32(n))
		resp.Answer = append(append([]dns.RR(nil), resp.Answer[k:]...), resp.Answer[:k]...)
	}
	if o := req.IsEdns0(); o != nil {
		resp.SetEdns0(maxUDPSize, false)
	}
	return resp
}

// forward asks the upstreams in turn, each within the timeout, over the
// client's transport (a truncated UDP answer goes back truncated and the
// client's TCP retry is forwarded over TCP). The query goes as the client
// sent it, RD bit included: the upstream recurses when asked to. No
// upstream answering is SERVFAIL.
func (s *Server) forward(req *dns.Msg, udp bool) *dns.Msg {
	c := s.tcp
	if udp {
		c = s.udp
	}
	for _, up := range s.upstreams {
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp != nil {
			resp.Id = req.Id
			return resp
		}
		s.log.Debug().Err(err).Str("upstream", up).Str("name", req.Question[0].Name).Msg("dns: forward")
	}
	return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
}
