// Package proxy is the node's service proxy, as kube-proxy's nftables mode
// is: from the Services a node is told about (node/svcview) it plans one
// nftables table (Plan, pure) that sends each virtual IP, node port and
// load-balancer port to the ready endpoints, and writes it to the kernel
// in one atomic transaction (Sync).
package proxy

import (
	"fmt"
	"net/netip"
	"reflect"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/rs/zerolog"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/gantry-sh/gantry/node/svcview"
)

// Config says which node the proxy programs.
type Config struct {
	// NodeName picks this node's endpoints (traffic policies Local).
	NodeName string
	// NodeIPs are the addresses node ports and LoadBalancer ports answer on.
	NodeIPs []netip.Addr
	// ClusterCIDR is the pod network (optional): traffic to a virtual IP
	// from outside it is masqueraded.
	ClusterCIDR netip.Prefix
	// NetNS is the path of the network namespace to program ("": the
	// agent's own).
	NetNS string
	// Table names the nftables table (family ip) the proxy owns (default
	// Table): two clusters on one host (gantry up beside the end-to-end
	// tests) each keep their own.
	Table string
}

// Proxy keeps the node's nftables table in line with the Services.
type Proxy struct {
	log  zerolog.Logger
	node Node
	ns   netns.NsHandle // -1: the current namespace
	// table is the nftables table's name.
	table string

	mu   sync.Mutex
	last *Ruleset // what was applied; nil until the first Sync
}

// New makes a proxy; it changes nothing until the first Sync, which
// reconciles whatever an earlier run left in the kernel.
func New(log zerolog.Logger, cfg Config) (*Proxy, error) {
	p := &Proxy{log: log, ns: netns.None(), table: cfg.Table,
		node: Node{Name: cfg.NodeName, IPs: cfg.NodeIPs, ClusterCIDR: cfg.ClusterCIDR}}
	if p.table == "" {
		p.table = Table
	}
	if cfg.NetNS != "" {
		h, err := netns.GetFromPath(cfg.NetNS)
		if err != nil {
			return nil, fmt.Errorf("proxy: network namespace %s: %w", cfg.NetNS, err)
		}
		p.ns = h
	}
	return p, nil
}

// Sync plans the ruleset for services and applies it when it differs from
// the one last applied.
func (p *Proxy) Sync(services []svcview.Service) error {
	rs := Plan(p.node, services)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != nil && reflect.DeepEqual(p.last, rs) {
		return nil
	}
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigBuffers)}
	if p.ns.IsOpen() {
		opts = append(opts, nftables.WithNetNSFd(int(p.ns)))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("proxy: nftables: %w", err)
	}
	if err := apply(conn, p.table, rs); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	p.last = rs
	p.log.Debug().Int("services", len(services)).Int("chains", len(rs.Chains)).Msg("nftables rules replaced")
	return nil
}

// Close releases the namespace handle. The rules stay in the kernel, so
// traffic keeps flowing while the agent is down.
func (p *Proxy) Close() error {
	if p.ns.IsOpen() {
		return p.ns.Close()
	}
	return nil
}

// batchBuffer is the socket buffer for one transaction: the whole batch
// goes in one sendmsg (refused above the send buffer: "message too long")
// and every message's acknowledgement comes back at once (ENOBUFS above
// the receive buffer). The default 208 KiB holds a few hundred Services;
// this holds tens of thousands of endpoints. Forced (CAP_NET_ADMIN), so
// net.core.[rw]mem_max does not cap it; the kernel uses only what a batch
// needs.
const batchBuffer = 256 << 20

func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, opt := range []int{unix.SO_SNDBUFFORCE, unix.SO_RCVBUFFORCE} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, opt, batchBuffer); e != nil && serr == nil {
				serr = fmt.Errorf("netlink socket buffer: %w", e)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
