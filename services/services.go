// Package services assembles Gantry's control-plane services. Each service is
// its own package (admission, replica, rollout, job, scheduler, cronjob,
// health, ipam, endpoints, configdist, storage, projector) built on the
// shared runner; they never import each other and talk only through the log.
package services

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/events/sealed"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/configdist"
	"github.com/gantry-sh/gantry/services/cronjob"
	"github.com/gantry-sh/gantry/services/endpoints"
	"github.com/gantry-sh/gantry/services/health"
	"github.com/gantry-sh/gantry/services/ingest"
	"github.com/gantry-sh/gantry/services/ipam"
	"github.com/gantry-sh/gantry/services/job"
	"github.com/gantry-sh/gantry/services/keyring"
	"github.com/gantry-sh/gantry/services/projector"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
	"github.com/gantry-sh/gantry/services/storage"
)

// deciders are the services that follow the log and decide, each made by
// one line here; a service is added by its package and its line.
var deciders = []struct {
	name string
	make func(conn *bus.Conn, cfg Config) runner.Service
}{
	{admission.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		a := admission.New()
		a.MaxPodsPerWorkload = cfg.MaxPodsPerWorkload
		a.Bootstrap = true
		a.Keyring = cfg.Keyring
		a.Authorization, a.Admin = cfg.Authorization, cfg.Admin
		a.Users = cfg.Users
		return a
	}},
	{replica.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		r := replica.New()
		r.MaxPodsPerWorkload = cfg.MaxPodsPerWorkload
		if cfg.DefaultToleration > 0 {
			r.DefaultToleration = cfg.DefaultToleration
		}
		return r
	}},
	{rollout.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		r := rollout.New()
		r.MaxPodsPerWorkload = cfg.MaxPodsPerWorkload
		return r
	}},
	{job.Name, func(_ *bus.Conn, _ Config) runner.Service { return job.New() }},
	{scheduler.Name, func(_ *bus.Conn, cfg Config) runner.Service { return scheduler.New(cfg.Scheduler) }},
	{cronjob.Name, func(*bus.Conn, Config) runner.Service { return cronjob.New() }},
	{health.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		h := health.New()
		if cfg.NodeGrace > 0 {
			h.Grace = cfg.NodeGrace
		}
		return h
	}},
	{ipam.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		svc, err := ipam.New(cfg.ClusterCIDR, ipam.DefaultNodeMaskSize)
		if err != nil {
			panic(err) // Start validated it
		}
		return svc
	}},
	{endpoints.Name, func(_ *bus.Conn, cfg Config) runner.Service {
		e, _ := endpoints.New(cfg.ServiceCIDR) // checked in Start
		return e
	}},
	{configdist.Name, func(_ *bus.Conn, cfg Config) runner.Service { return configdist.New(cfg.Keyring) }},
	{storage.Name, func(*bus.Conn, Config) runner.Service { return storage.New() }},
	{projector.Name, func(conn *bus.Conn, _ Config) runner.Service { return projector.New(conn.JS) }},
}

// Names lists every service `gantry serve` can run.
func Names() []string {
	names := make([]string, 0, len(deciders)+1)
	for _, d := range deciders {
		names = append(names, d.name)
	}
	return append(names, ingest.Name)
}

// Plane is a set of running services.
type Plane struct {
	runners []*runner.Runner
	ingest  *ingest.Ingest
	wg      sync.WaitGroup
	mu      sync.Mutex
	err     error
	cancel  context.CancelCauseFunc
	failed  chan struct{} // closed when the plane stops on an error of its own
}

// Config tunes the services.
type Config struct {
	Runner    runner.Config
	Scheduler scheduler.Config
	Ingest    ingest.Config
	// MaxPodsPerWorkload is the cluster's ceiling on the pods of one
	// workload: admission refuses a Deployment that asks for more, and the
	// replica service plans no more for one accepted before (zero:
	// DefaultMaxPodsPerWorkload).
	MaxPodsPerWorkload int32
	// NodeGrace is how long a node may be unheard before the health service
	// decides it NotReady (zero: health.DefaultGrace); DefaultToleration how
	// long a pod that names none tolerates that before it is evicted (zero:
	// replica.DefaultToleration).
	NodeGrace         time.Duration
	DefaultToleration time.Duration
	// ClusterCIDR is where the ipam service cuts the nodes' pod CIDRs
	// from (zero: ipam.DefaultClusterCIDR).
	ClusterCIDR string
	// ServiceCIDR is where Services' virtual IPs come from (zero:
	// endpoints.DefaultCIDR, 10.43.0.0/16 as k3s).
	ServiceCIDR string
	// Keyring is the cluster's keys for Secrets (events/sealed): admission
	// opens a Secret to check it, config delivery re-seals it to each node
	// that needs it. Nil: a Secret cannot be accepted or delivered.
	Keyring *sealed.Keyring
	// Authorization is authz.ModeRBAC to start a cluster that enforces
	// RBAC (docs/security-rbac.md), with Admin, the identity that started
	// it, its cluster-admin; empty: every actor may do anything.
	Authorization string
	Admin         string
	// Users are the cluster's users by public key: admission accepts only
	// intents one of them signed (docs/security-signing.md). Nil: intents
	// are not verified, their actor is what the client wrote.
	Users identity.Users
}

// DefaultMaxPodsPerWorkload is the ceiling on the pods of one workload when
// none is given. Every pod costs memory in each service's fold and in the
// read models: in B1, `gantry up` peaked at 1.6 GB for 55,000 pods, about
// 30 KB a pod, so one workload at this ceiling holds ~300 MB, a share a
// small control plane survives, while 100,000 would hold ~3 GB. 10,000 pods
// fill 90 nodes of 110 pods, more than any one workload of the clusters
// Gantry serves today needs; an operator who needs more raises it
// (--max-pods-per-workload).
const DefaultMaxPodsPerWorkload = 10_000

// Start provisions the log and runs the named services (all when names is
// empty) until ctx ends, or until one of them fails or a stream of the log
// is deleted under them: then every service stops, Failed is closed and
// Wait returns the error (a lost stream names itself, bus.ErrStreamLost).
func Start(ctx context.Context, conn *bus.Conn, names []string, cfg Config, log zerolog.Logger) (_ *Plane, err error) {
	if len(names) == 0 {
		names = Names()
	}
	if err := cfg.Scheduler.Validate(); err != nil {
		return nil, err
	}
	if _, err := endpoints.ParseCIDR(cfg.ServiceCIDR); err != nil {
		return nil, err
	}
	if cfg.MaxPodsPerWorkload < 0 {
		return nil, fmt.Errorf("max pods per workload %d: must be positive", cfg.MaxPodsPerWorkload)
	}
	if cfg.MaxPodsPerWorkload == 0 {
		cfg.MaxPodsPerWorkload = DefaultMaxPodsPerWorkload
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = ipam.DefaultClusterCIDR
	}
	if _, err := ipam.New(cfg.ClusterCIDR, ipam.DefaultNodeMaskSize); err != nil {
		return nil, err
	}
	if err := bus.Provision(ctx, conn.JS, 1); err != nil {
		return nil, err
	}
	if err := bus.ProvisionKV(ctx, conn.JS, 1); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer func() {
		if err != nil {
			cancel(err)
		}
	}()
	p := &Plane{cancel: cancel, failed: make(chan struct{})}
	// The services of this process read the log once, through one feed.
	feed := runner.NewFeed(conn.JS, log)
	rcfg := cfg.Runner
	rcfg.Feed = feed
	var run []string // the names of p.runners
	for _, n := range names {
		if n == ingest.Name {
			// Not a reader of the log: it stores what nodes hand it.
			g, err := ingest.Start(ctx, conn, cfg.Ingest, log)
			if err != nil {
				return nil, err
			}
			p.ingest = g
			continue
		}
		var svc runner.Service
		for _, d := range deciders {
			if d.name == n {
				svc = d.make(conn, cfg)
			}
		}
		if svc == nil {
			return nil, fmt.Errorf("unknown service %q (services: %v)", n, Names())
		}
		p.runners = append(p.runners, runner.New(svc, conn.JS, log, rcfg))
		run = append(run, n)
	}
	if err := feed.Start(ctx); err != nil {
		return nil, err
	}
	if cfg.Keyring != nil && slices.Contains(run, admission.Name) {
		// The keyring's holder runs beside admission, which shares it.
		if _, err := keyring.Start(ctx, conn, cfg.Keyring, log); err != nil {
			return nil, err
		}
	}
	for i, r := range p.runners {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := r.Run(ctx); err != nil {
				log.Error().Err(err).Str("service", run[i]).Msg("service stopped")
				p.fail(err)
			}
		}()
	}
	var streams []string
	for _, s := range events.Streams() {
		streams = append(streams, s.Name)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := bus.WatchStreams(ctx, conn.NC, conn.JS, streams, 0); err != nil {
			log.Error().Err(err).Msg("control plane stopping")
			p.fail(err)
		}
	}()
	return p, nil
}

// fail records the plane's first error and stops every service.
func (p *Plane) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return
	}
	p.err = err
	close(p.failed)
	p.cancel(err)
}

// Failed is closed when the plane stops on an error of its own (not because
// its context ended); Wait returns that error.
func (p *Plane) Failed() <-chan struct{} { return p.failed }

// WaitReady blocks until every service has replayed the log, or timeout.
func (p *Plane) WaitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, r := range p.runners {
		select {
		case <-r.Ready():
		case <-p.failed:
			return p.Wait()
		case <-deadline.C:
			return fmt.Errorf("control plane not ready after %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Wait blocks until every service has stopped and returns the first error.
func (p *Plane) Wait() error {
	p.wg.Wait()
	if p.ingest != nil {
		<-p.ingest.Done()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
