package node

import (
	"context"
	"reflect"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/node/svcview"
	"github.com/gantry-sh/gantry/projections"
)

// ServiceSyncer is what a node programs from the cluster's Services: its
// proxy (nftables rules) and its DNS server. Sync is handed the whole view
// each time it changes and must make the node match it.
type ServiceSyncer interface {
	Sync(services []svcview.Service) error
}

// serviceFilters are the subjects a node folds to know the Services: their
// verdicts (the objects as applied), their allocations, and their
// EndpointSlices (decided objects).
var serviceFilters = []string{
	"gantry.decision.admission.*.service.>",
	"gantry.decision.workload.*.service.>",
	"gantry.decision.workload.*.endpointslice.>",
	events.SubjectServiceAlloc,
}

// serviceSettle is how long the watcher waits after a record for more
// before it syncs: a burst of slices (a rollout) is one sync, and a lone
// change waits this much at most.
const serviceSettle = 5 * time.Millisecond

// serviceRetry is how soon a sync that failed is tried again with no new
// record.
const serviceRetry = time.Second

// WatchServices follows the Services, their allocations and their
// EndpointSlices in the log, from its start, and hands every syncer the
// node's view (svcview.Build) each time it changes, and once the log has
// been read up to where it was when the watch began. A failed sync is
// tried again (with the newest view) after serviceRetry. It returns when
// ctx ends, or with the error that stopped its reading.
func WatchServices(ctx context.Context, js jetstream.JetStream, log zerolog.Logger, syncers ...ServiceSyncer) error {
	w := &serviceWatch{c: projections.NewCluster(), log: log, syncers: syncers, failed: map[int]bool{}}
	return followAndSync(ctx, js, "watch services", []logSource{{events.StreamDecisions, serviceFilters}}, w.c.Apply,
		func(again bool) {
			if !again || len(w.failed) > 0 {
				w.sync(again)
			}
		})
}

// serviceWatch is the watcher's state: its fold, the view it last handed
// out, and which syncers failed to take it.
type serviceWatch struct {
	c       *projections.Cluster
	log     zerolog.Logger
	syncers []ServiceSyncer
	last    []svcview.Service
	synced  bool
	failed  map[int]bool
}

// sync builds the view and hands it to every syncer when it changed since
// the last sync (again: to those that failed, too).
func (w *serviceWatch) sync(again bool) {
	view := svcview.Build(w.c)
	changed := !w.synced || !reflect.DeepEqual(view, w.last)
	for i, s := range w.syncers {
		if !changed && !(again && w.failed[i]) {
			continue
		}
		if err := s.Sync(view); err != nil {
			w.failed[i] = true
			w.log.Warn().Err(err).Int("services", len(view)).Msg("services: sync")
			continue
		}
		delete(w.failed, i)
	}
	w.last, w.synced = view, true
}

// DrainWait bounds how long a pod being stopped waits to leave the
// Services' endpoints before its containers get SIGTERM.
const DrainWait = 2 * time.Second

// endpointSet is the pods the node's last Services view sends traffic to
// (ready endpoints, by namespace/pod). The agent hands it the view after
// its proxy and DNS server, so a pod being stopped can wait until traffic
// no longer goes to it (the endpoints service marks it terminating at its
// deletion) before it gets SIGTERM, as Kubernetes users otherwise do with
// a preStop sleep.
type endpointSet struct {
	mu      sync.Mutex
	ready   map[string]bool
	changed chan struct{} // closed and replaced at each view
}

func newEndpointSet() *endpointSet {
	return &endpointSet{ready: map[string]bool{}, changed: make(chan struct{})}
}

// Sync implements ServiceSyncer.
func (e *endpointSet) Sync(view []svcview.Service) error {
	ready := map[string]bool{}
	for _, s := range view {
		for _, ep := range s.Endpoints {
			if ep.Ready && ep.Pod != "" {
				ready[s.Namespace+"/"+ep.Pod] = true
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ready = ready
	close(e.changed)
	e.changed = make(chan struct{})
	return nil
}

// waitGone returns once pod ns/name is no ready endpoint in the view, or
// ctx ends.
func (e *endpointSet) waitGone(ctx context.Context, ns, name string) {
	for {
		e.mu.Lock()
		in, ch := e.ready[ns+"/"+name], e.changed
		e.mu.Unlock()
		if !in {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}
