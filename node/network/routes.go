package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// RouteProtocol marks the routes Gantry adds (rtnetlink's protocol field,
// an unassigned value): a sync touches only routes it made, never the
// host's own.
const RouteProtocol = netlink.RouteProtocol(0x67) // 'g'

// Route is a route to a subnet through a gateway on a shared link (host-gw:
// another node's pod CIDR through that node's address).
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

// RouteTable programs the node's routes to other nodes' pods in a network
// namespace (the host's, or one standing in for a host in tests), through
// netlink (github.com/vishvananda/netlink).
type RouteTable struct {
	h *netlink.Handle
}

// NewRouteTable opens the routes of the network namespace at nsPath (""
// for the current one).
func NewRouteTable(nsPath string) (*RouteTable, error) {
	ns := netns.None()
	if nsPath != "" {
		h, err := netns.GetFromPath(nsPath)
		if err != nil {
			return nil, fmt.Errorf("routes: namespace %s: %w", nsPath, err)
		}
		defer h.Close()
		ns = h
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return &RouteTable{h: h}, nil
}

// Close releases the netlink handle.
func (t *RouteTable) Close() { t.h.Close() }

// Sync makes Gantry's routes in the main table exactly routes: each one
// added or replaced (a node whose address changed), and those Gantry added
// before that are no longer wanted deleted. The host's own routes are left
// alone. A route whose gateway is not on a connected link fails, and the
// others are still made.
func (t *RouteTable) Sync(routes []Route) error {
	want := map[netip.Prefix]netip.Addr{}
	for _, r := range routes {
		want[r.Dst.Masked()] = r.Via
	}
	have, err := t.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("routes: list: %w", err)
	}
	var errs []error
	for _, r := range have {
		if r.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if !ok {
			continue
		}
		p := netip.PrefixFrom(dst.Unmap(), ones)
		if via, wanted := want[p]; wanted && r.Gw != nil && r.Gw.Equal(net.IP(via.AsSlice())) {
			delete(want, p) // as it should be
			continue
		}
		if _, wanted := want[p]; !wanted {
			if err := t.h.RouteDel(&r); err != nil {
				errs = append(errs, fmt.Errorf("routes: delete %s: %w", p, err))
			}
		}
	}
	for dst, via := range want {
		r := &netlink.Route{Dst: &net.IPNet{IP: net.IP(dst.Addr().AsSlice()), Mask: net.CIDRMask(dst.Bits(), 32)},
			Gw: net.IP(via.AsSlice()), Protocol: RouteProtocol}
		if err := t.h.RouteReplace(r); err != nil {
			errs = append(errs, fmt.Errorf("routes: %s via %s: %w", dst, via, err))
		}
	}
	return errors.Join(errs...)
}

// DefaultAddress is the host's address on the link of its default route
// (where other nodes reach it): the source the kernel would pick toward an
// outside address. No packet is sent.
func DefaultAddress() (netip.Addr, error) {
	rs, err := netlink.RouteGet(net.IPv4(192, 0, 2, 1)) // TEST-NET-1: never reached, only looked up
	if err != nil || len(rs) == 0 || rs[0].Src == nil {
		return netip.Addr{}, fmt.Errorf("the host's address: no default route (give --node-ip): %v", err)
	}
	a, _ := netip.AddrFromSlice(rs[0].Src.To4())
	return a, nil
}
