package node

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// The pod network across nodes, host-gateway style (flannel's host-gw):
// every node routes each other node's pod CIDR through that node's address,
// so a pod reaches any pod's IP without NAT, where the nodes share a link.
// The routes come from the log: the nodes' registrations (their address)
// and the ipam service's allocations (their pod CIDR).

// PodRoute is a route to another node's pods.
type PodRoute struct {
	Node string
	CIDR netip.Prefix
	Via  netip.Addr
}

// NodeNet is what routing needs of a node: its pod CIDR and its address.
type NodeNet struct {
	CIDR    string
	Address string
}

// PlanRoutes is the routes this node (self) needs: each other node's pod
// CIDR through its address, by CIDR. A node without both, with a CIDR or
// address that does not parse, or whose address is self's own, gets none.
func PlanRoutes(self string, nodes map[string]NodeNet) []PodRoute {
	mine := netip.Addr{}
	if n, ok := nodes[self]; ok {
		mine, _ = netip.ParseAddr(n.Address)
	}
	var out []PodRoute
	for name, n := range nodes {
		if name == self {
			continue
		}
		cidr, err1 := netip.ParsePrefix(n.CIDR)
		via, err2 := netip.ParseAddr(n.Address)
		if err1 != nil || err2 != nil || !cidr.Addr().Is4() || !via.Is4() || via == mine {
			continue
		}
		out = append(out, PodRoute{Node: name, CIDR: cidr.Masked(), Via: via})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CIDR.String() < out[j].CIDR.String() })
	return out
}

// RouteSyncer makes the node's routes to other nodes' pods match a plan.
type RouteSyncer interface {
	SyncRoutes(routes []PodRoute) error
}

// routeSources are what the routes are folded from.
var routeSources = []logSource{
	{events.StreamObservations, []string{events.SubjectObsNodeAll}},
	{events.StreamDecisions, []string{events.SubjectNodeCIDRAlloc}},
}

// WatchRoutes follows the nodes' registrations and pod CIDR allocations
// in the log and hands the syncer this node's plan (PlanRoutes) each time
// it changes; a failed sync is tried again after serviceRetry. It returns
// when ctx ends, or with the error that stopped its reading.
func WatchRoutes(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, self string, s RouteSyncer) error {
	nodes := map[string]NodeNet{}
	var last []PodRoute
	synced, failed := false, false
	apply := func(r events.Record) {
		switch e := r.Event.(type) {
		case *events.NodeRegistered:
			n := nodes[e.Node.Name]
			n.Address = e.Node.Address
			nodes[e.Node.Name] = n
		case *events.NodeCIDRAllocated:
			if e.Refused == "" {
				n := nodes[e.Node]
				n.CIDR = e.PodCIDR
				nodes[e.Node] = n
			}
		}
	}
	sync := func(again bool) {
		plan := PlanRoutes(self, nodes)
		if again && !failed || synced && !failed && reflect.DeepEqual(plan, last) {
			return
		}
		if err := s.SyncRoutes(plan); err != nil {
			failed = true
			log.Warn().Err(err).Int("routes", len(plan)).Msg("routes: sync")
			return
		}
		last, synced, failed = plan, true, false
	}
	return followAndSync(ctx, js, "watch routes", routeSources, apply, sync)
}

// followAndSync reads sources from their start (followLog), applying every
// record, and calls sync(false) once the log has been read to where it was
// (so a first plan is whole: it removes nothing a restarted agent still
// needs) and after each later burst of records (serviceSettle), and
// sync(true) every serviceRetry, for sync to try again what failed. It
// returns when ctx ends, or with the error that stopped its reading.
func followAndSync(ctx context.Context, js jetstream.JetStream, what string, sources []logSource,
	apply func(events.Record), sync func(again bool)) error {
	ctx, cancel := context.WithCancel(ctx) // its readers end with it
	defer cancel()
	recs, caught, errc, err := followLog(ctx, js, sources)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	retry := time.NewTicker(serviceRetry)
	defer retry.Stop()
	ready := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", what, err)
		case <-caught:
			caught, ready = nil, true
			settle.Reset(serviceSettle)
		case r := <-recs:
			apply(r)
			if ready {
				settle.Reset(serviceSettle)
			}
		case <-settle.C:
			sync(false)
		case <-retry.C:
			sync(true)
		}
	}
}

// logSource is one stream and its filters.
type logSource struct {
	stream  string
	filters []string
}

// followLog reads sources from their start, each in order, and hands on
// their records (those that do not decode are skipped) until ctx ends;
// caught is closed once every source has handed on what it held when the
// read began; the first error of a reader comes on errc.
func followLog(ctx context.Context, js jetstream.JetStream, sources []logSource) (recs <-chan events.Record, caught <-chan struct{}, errc <-chan error, err error) {
	out := make(chan events.Record)
	errs := make(chan error, len(sources))
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, src := range sources {
		r, err := bus.Read(ctx, js, src.stream, jetstream.OrderedConsumerConfig{FilterSubjects: src.filters})
		if err != nil {
			return nil, nil, nil, err
		}
		pending, _ := r.Pending()
		wg.Add(1)
		go func() {
			defer r.Close()
			read := uint64(0)
			if pending == 0 {
				wg.Done()
			}
			for {
				m, err := r.Next(ctx)
				if err != nil {
					errs <- err
					return
				}
				read++
				rec, err := bus.RecordOf(src.stream, m)
				if err == nil {
					select {
					case out <- rec:
					case <-ctx.Done():
						return
					}
				}
				if read == pending {
					wg.Done() // once the last record held at the start is handed on
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	return out, done, errs, nil
}
