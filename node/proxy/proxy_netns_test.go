package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/gantry-sh/gantry/node/proxy"
	"github.com/gantry-sh/gantry/node/svcview"
)

// The topology: a "node" namespace joined by veths to two backend
// namespaces (an HTTP server each) and a client namespace, standing in
// for a pod on each side and a machine outside (the node's default route).
//
//	backend b1 10.123.1.2 ── 10.123.1.1 ┐
//	backend b2 10.123.2.2 ── 10.123.2.1 ├ node (the proxy's rules)
//	client     10.123.3.2 ── 10.123.3.1 ┘
const (
	vip      = "10.96.0.10"
	nodeIP   = "10.123.3.1"
	nodePort = 30080
)

type topo struct {
	node, client, b1 netns.NsHandle
	nodePath         string
}

func TestProxyInNetworkNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make network namespaces")
	}
	tp := setup(t)
	log := zerolog.New(zerolog.NewTestWriter(t))
	cfg := proxy.Config{NodeName: "n1", NodeIPs: []netip.Addr{netip.MustParseAddr(nodeIP)}, NetNS: tp.nodePath}
	p, err := proxy.New(log, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	svc := svcview.Service{Namespace: "default", Name: "hello", ClusterIP: vip, Type: "NodePort",
		Ports: []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80, NodePort: nodePort}},
		Endpoints: []svcview.Endpoint{
			{IP: "10.123.1.2", Node: "n1", Ready: true, Ports: map[string]int32{"http": 8080}},
			{IP: "10.123.2.2", Node: "n2", Ready: true, Ports: map[string]int32{"http": 8080}},
		}}
	if err := p.Sync([]svcview.Service{svc}); err != nil {
		if strings.Contains(err.Error(), "not supported") || errors.Is(err, syscall.EPROTONOSUPPORT) {
			t.Skipf("nftables unavailable: %v", err)
		}
		t.Fatal(err)
	}
	if err := p.Sync([]svcview.Service{svc}); err != nil { // unchanged: nothing to do
		t.Fatal(err)
	}

	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() { // what the kernel holds, when nft is installed
			out, err := exec.Command("ip", "netns", "exec", filepath.Base(tp.nodePath), "nft", "list", "table", "ip", proxy.Table).CombinedOutput()
			t.Logf("nft list table ip %s (%v):\n%s", proxy.Table, err, out)
		}
	})
	viaVIP := "http://" + vip + ":80/"
	t.Run("both ready endpoints get requests", func(t *testing.T) {
		expectBackends(t, tp.node, viaVIP, "b1", "b2")
	})
	t.Run("node port from outside", func(t *testing.T) {
		expectBackends(t, tp.client, fmt.Sprintf("http://%s:%d/", nodeIP, nodePort), "b1", "b2")
	})
	t.Run("node port from the node itself", func(t *testing.T) {
		expectBackends(t, tp.node, fmt.Sprintf("http://%s:%d/", nodeIP, nodePort), "b1", "b2")
	})

	t.Run("a not ready endpoint gets none", func(t *testing.T) {
		one := svc
		one.Endpoints = []svcview.Endpoint{svc.Endpoints[0], svc.Endpoints[1]}
		one.Endpoints[1].Ready = false
		if err := p.Sync([]svcview.Service{one}); err != nil {
			t.Fatal(err)
		}
		expectOnly(t, tp.node, viaVIP, "b1", 20)
	})

	t.Run("a pod reaches itself through its Service (hairpin)", func(t *testing.T) {
		// Without the masquerade b1 would get a packet from its own
		// address on eth0 and drop it as a martian.
		one := svc
		one.Endpoints = svc.Endpoints[:1]
		if err := p.Sync([]svcview.Service{one}); err != nil {
			t.Fatal(err)
		}
		expectOnly(t, tp.b1, viaVIP, "b1", 10)
	})

	t.Run("ClientIP affinity keeps a client on one endpoint", func(t *testing.T) {
		sticky := svc
		sticky.ClientIPAffinity = true
		if err := p.Sync([]svcview.Service{sticky}); err != nil {
			t.Fatal(err)
		}
		first, err := get(tp.node, viaVIP)
		if err != nil {
			t.Fatal(err)
		}
		expectOnly(t, tp.node, viaVIP, first, 20)
	})

	t.Run("no endpoints: refused at once", func(t *testing.T) {
		none := svc
		none.Endpoints = nil
		if err := p.Sync([]svcview.Service{none}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			ns   netns.NsHandle
			addr string
		}{{tp.node, vip + ":80"}, {tp.client, fmt.Sprintf("%s:%d", nodeIP, nodePort)}} {
			start := time.Now()
			_, err := dial(c.ns, c.addr, 3*time.Second)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial %s: %v, want connection refused", c.addr, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("dial %s refused after %s", c.addr, d)
			}
		}
	})

	t.Run("a thousand Services and a Service of a thousand endpoints in one transaction", func(t *testing.T) {
		// Past the 64 KiB of one netlink attribute (≈ 870 map elements) and
		// the default socket buffers.
		big := []svcview.Service{svc}
		wide := svcview.Service{Namespace: "default", Name: "wide", ClusterIP: "10.96.9.9",
			Ports: []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80}}}
		for j := 0; j < 1000; j++ {
			wide.Endpoints = append(wide.Endpoints, svcview.Endpoint{IP: fmt.Sprintf("10.200.%d.%d", j/250, j%250+1),
				Ready: true, Ports: map[string]int32{"http": 8080}})
		}
		big = append(big, wide)
		for i := 0; i < 1000; i++ {
			big = append(big, svcview.Service{Namespace: "many", Name: fmt.Sprintf("s%d", i),
				ClusterIP: fmt.Sprintf("10.97.%d.%d", i/250, i%250+1), Type: "NodePort",
				Ports:     []svcview.Port{{Name: "http", Protocol: "TCP", Port: 80, NodePort: int32(31000 + i)}},
				Endpoints: []svcview.Endpoint{{IP: "10.123.2.2", Ready: true, Ports: map[string]int32{"http": 8080}}}})
		}
		start := time.Now()
		if err := p.Sync(big); err != nil {
			t.Fatal(err)
		}
		t.Logf("1,002 Services, 2,002 endpoints: %s", time.Since(start))
		expectBackends(t, tp.node, viaVIP, "b1", "b2")
		expectOnly(t, tp.node, "http://10.97.3.231:80/", "b2", 3)
		expectOnly(t, tp.client, fmt.Sprintf("http://%s:%d/", nodeIP, 31999), "b2", 3)
	})

	t.Run("replacing the rules fails no request", func(t *testing.T) {
		// A client loops through the virtual IP while the table is
		// replaced again and again (affinity on, off): a moment without
		// rules would send a request nowhere. (Flushing in one transaction
		// and refilling in a second fails this test.)
		sticky := svc
		sticky.ClientIPAffinity = true
		plans := [][]svcview.Service{{svc}, {sticky}}
		stop := make(chan struct{})
		type tally struct {
			ok   int
			errs []error
		}
		done := make(chan tally)
		go func() {
			var r tally
			for {
				select {
				case <-stop:
					done <- r
					return
				default:
				}
				if _, err := get(tp.node, viaVIP); err != nil {
					r.errs = append(r.errs, err)
				} else {
					r.ok++
				}
			}
		}()
		for i := 0; i < 40; i++ {
			if err := p.Sync(plans[i%2]); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		r := <-done
		if len(r.errs) > 0 || r.ok == 0 {
			t.Fatalf("%d requests answered, %d failed: %v", r.ok, len(r.errs), r.errs)
		}
		t.Logf("%d requests answered during 40 replacements", r.ok)
	})

	t.Run("a new proxy reconciles what the old one left", func(t *testing.T) {
		sticky := svc
		sticky.ClientIPAffinity = true
		if err := p.Sync([]svcview.Service{sticky}); err != nil { // chains and sets the next run must remove
			t.Fatal(err)
		}
		p2, err := proxy.New(log, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer p2.Close()
		one := svc
		one.Endpoints = svc.Endpoints[:1]
		if err := p2.Sync([]svcview.Service{one}); err != nil {
			t.Fatal(err)
		}
		expectOnly(t, tp.node, viaVIP, "b1", 10)
		want := proxy.Plan(proxy.Node{Name: "n1", IPs: cfg.NodeIPs}, []svcview.Service{one})
		wantSets := len(want.Sets) + len(want.Maps)
		for _, c := range want.Chains {
			for _, r := range c.Rules {
				if len(r.RandomGoto) > 0 {
					wantSets++ // its random-<chain> map
				}
			}
		}
		chains, sets := kernelObjects(t, tp.node)
		if chains != len(want.Chains) || sets != wantSets {
			t.Fatalf("kernel has %d chains and %d sets in table %s, the plan %d and %d", chains, sets, proxy.Table, len(want.Chains), wantSets)
		}
		if err := p2.Sync(nil); err != nil { // the Service deleted
			t.Fatal(err)
		}
		if c, err := dial(tp.node, vip+":80", 300*time.Millisecond); err == nil {
			c.Close()
			t.Fatal("the deleted Service's virtual IP still answers")
		}
	})
}

// expectBackends polls requests to url from ns until every backend in want
// answered, for at most 10 s.
func expectBackends(t *testing.T, ns netns.NsHandle, url string, want ...string) {
	t.Helper()
	seen := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		got, err := get(ns, url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		seen[got]++
		all := true
		for _, w := range want {
			all = all && seen[w] > 0
		}
		if all {
			return
		}
	}
	t.Fatalf("GET %s: answers %v, want all of %v", url, seen, want)
}

// expectOnly makes n requests to url from ns: each must reach want.
func expectOnly(t *testing.T, ns netns.NsHandle, url, want string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if got, err := get(ns, url); err != nil || got != want {
			t.Fatalf("GET %s, request %d: got %q, %v; want %s", url, i, got, err, want)
		}
	}
}

// get makes one request from ns on a new connection.
func get(ns netns.NsHandle, url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ns, addr, 2*time.Second) }}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// dial connects from inside ns: the socket is made on a thread that
// entered ns, and that thread is thrown away after (never unlocked).
func dial(ns netns.NsHandle, addr string, timeout time.Duration) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, timeout)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// inNS runs fn on a thread inside ns (thrown away after).
func inNS(ns netns.NsHandle, fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(ns); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// kernelObjects counts the chains and named sets of the proxy's table.
func kernelObjects(t *testing.T, ns netns.NsHandle) (chains, sets int) {
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	all, err := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if c.Table.Name == proxy.Table {
			chains++
		}
	}
	ss, err := conn.GetSets(&nftables.Table{Name: proxy.Table, Family: nftables.TableFamilyIPv4})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if !s.Anonymous {
			sets++
		}
	}
	return chains, sets
}

// setup builds the topology; everything goes with the namespaces at the
// end of the test.
func setup(t *testing.T) topo {
	t.Helper()
	prefix := fmt.Sprintf("gpx%d-", os.Getpid())
	newNS := func(name string) netns.NsHandle {
		type made struct {
			h   netns.NsHandle
			err error
		}
		ch := make(chan made, 1)
		go func() {
			runtime.LockOSThread() // NewNamed moves this thread, thrown away after
			h, err := netns.NewNamed(prefix + name)
			ch <- made{h, err}
		}()
		m := <-ch
		h, err := m.h, m.err
		if err != nil {
			t.Skipf("cannot make a network namespace: %v", err)
		}
		t.Cleanup(func() { h.Close(); netns.DeleteNamed(prefix + name) })
		return h
	}
	node := newNS("node")
	nh, err := netlink.NewHandleAt(node)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	up := func(h *netlink.Handle, name, cidr string) {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if cidr != "" {
			a, _ := netlink.ParseAddr(cidr)
			if err := h.AddrAdd(l, a); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	up(nh, "lo", "")
	// Attach a namespace by a veth: nodeSide in node, eth0 in the other.
	attach := func(name string, subnet int) netns.NsHandle {
		ns := newNS(name)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns))}
		if err := nh.LinkAdd(veth); err != nil {
			t.Fatal(err)
		}
		up(nh, name, fmt.Sprintf("10.123.%d.1/24", subnet))
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		up(h, "lo", "")
		up(h, "eth0", fmt.Sprintf("10.123.%d.2/24", subnet))
		gw := net.ParseIP(fmt.Sprintf("10.123.%d.1", subnet))
		if err := h.RouteAdd(&netlink.Route{Gw: gw}); err != nil {
			t.Fatal(err)
		}
		return ns
	}
	serve := func(ns netns.NsHandle, addr, answer string) {
		var l net.Listener
		if err := inNS(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, answer) })}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
	}
	b1 := attach("b1", 1)
	serve(b1, "10.123.1.2:8080", "b1")
	serve(attach("b2", 2), "10.123.2.2:8080", "b2")
	client := attach("c", 3)

	// The node's default route (to the client's side, standing in for
	// the upstream router) is what carries a virtual IP to the nat hooks.
	if err := nh.RouteAdd(&netlink.Route{Gw: net.ParseIP("10.123.3.2")}); err != nil {
		t.Fatal(err)
	}
	err = inNS(node, func() error { return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) })
	if err != nil {
		t.Fatal(err)
	}
	return topo{node: node, client: client, b1: b1, nodePath: "/var/run/netns/" + prefix + "node"}
}
