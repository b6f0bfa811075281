// Package runner is the loop every control-plane service shares: follow
// streams → apply to projections → decide → append decisions.
//
// A service keeps its state in memory, rebuilt by replaying its streams from
// the start (ordered consumers, no acknowledgements): the log is the only
// checkpoint. Decide is level-triggered and pure; it runs only when the service
// has caught up with the log and has seen its own previous decisions come back
// (expectations), so a slow round trip never produces a second copy. Decisions
// carry deterministic message ids, so a service that crashes between publishing
// and seeing its decision cannot store it twice.
package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// Source is one stream a service follows, optionally filtered.
type Source struct {
	Stream  string
	Filters []string
	// Every, when set, thins the source: of the messages on one subject,
	// one is applied per Every of their envelope time, the others skipped
	// (their sequence counts as applied). For a reader of heartbeats that
	// needs a node's info, not each beat.
	Every time.Duration
}

// Decision is one event a service wants appended.
type Decision struct {
	Subject string
	Event   events.Event
	// Meta of the envelope; ID is derived from MsgID when empty.
	Meta  events.Meta
	MsgID string
	// ExpectLastSeq/ExpectOn: optimistic concurrency (see bus.Outgoing).
	ExpectLastSeq *uint64
	ExpectOn      string
	// Atomic groups decisions that only make sense together (evictions and
	// the binding that needs them): decisions with the same non-empty key
	// are stored all or none, in one atomic batch.
	Atomic string
	// CopyTo are subjects that get a copy of the event, stored with it all
	// or none (the node a binding addresses). The service itself reads back
	// only Subject.
	CopyTo []string
	// Assumed: the service already counts this decision as made in its own
	// state (the scheduler's assumed bindings, as kube-scheduler's assume
	// cache), so the runner may call Decide again before reading it back;
	// if the log does not store it, the runner hands it to the service's
	// Forget (Assumer). A pass with any decision not Assumed is waited for
	// as usual.
	Assumed bool
}

// Assumer is a service whose decisions may be Assumed. Assume is handed
// every pass's decisions as the runner starts storing them, for the service
// to count the Assumed ones as made (Decide stays pure); Forget takes back
// one the log did not store (refused, or not sent). Both are called from
// the runner's loop, like Apply and Decide.
type Assumer interface {
	Assume(ds []Decision)
	Forget(d Decision)
}

// Service is a control-plane service: a fold and a decider.
type Service interface {
	Name() string
	Sources() []Source
	// Apply folds one record into the service's state. Pure.
	Apply(r events.Record)
	// Decide compares desired and observed state and returns decisions. Pure
	// given the state and now.
	Decide(now time.Time) []Decision
}

// Waker is implemented by services with time-based decisions: NextWake is
// when Decide next has something to decide with no new input (zero: nothing
// before the next Resync), so the runner runs it then rather than at the
// next tick (a node decided NotReady at its grace, not up to Resync later).
// Called from the runner's loop after each step, like Decide.
type Waker interface {
	NextWake() time.Time
}

// wakeFloor is the shortest wait for a Waker's wake-up.
const wakeFloor = 50 * time.Millisecond

// Flusher is implemented by services that write read models (the projector):
// Flush runs after a batch of records has been applied and the input drained.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Config tunes a runner.
type Config struct {
	// Resync is how often Decide runs with no new input (time-based decisions).
	Resync time.Duration
	// ExpectTimeout bounds how long the runner waits to see its own decisions.
	ExpectTimeout time.Duration
	// Clock is injected so tests control time.
	Clock func() time.Time
	// Instance, when set, makes the runner elect: of all runners of the same
	// service, only the holder of the service's lease (KV gantry_leases)
	// decides; the others follow the log and stay warm. Instance names this
	// one (host/pid) in the lease.
	Instance string
	// Feed, when set, is where the runner reads its sources: one consumer
	// per stream shared with the other runners of the process. The runner
	// joins it in New; the feed must be started after.
	Feed *Feed
}

// Runner drives one Service against the log.
type Runner struct {
	svc Service
	js  jetstream.JetStream
	log zerolog.Logger
	cfg Config

	applied map[string]uint64 // stream → last applied sequence
	// every is Source.Every by stream; taken the envelope time of the last
	// message applied on each subject of those streams.
	every   map[string]time.Duration
	taken   map[string]time.Time
	startAt map[string]uint64 // stream → last sequence when the runner started
	expect  map[string]uint64 // stream → sequence of our own newest decision
	// waitFrom is when the runner last saw progress toward its expectations
	// (a decision stored, or more of the log applied); waitApplied is how
	// much it had applied then.
	waitFrom    time.Time
	waitApplied uint64
	expectMu    sync.Mutex // publish's goroutines note what they stored
	caughtUp    bool
	ready       chan struct{}
	lease       *lease // nil: always acts
	leading     atomic.Bool
	sub         *subscriber // reading through a shared feed
	joinErr     error
	// published reports the end of each pass being stored; the runner goes
	// on reading meanwhile, so what a pass stored is mostly read back by the
	// time its last batch is. inflight counts the passes being stored,
	// awaiting those with decisions the runner must see back before it
	// decides again (all but wholly Assumed passes).
	published chan passStored
	inflight  int
	awaiting  int
	assumer   Assumer // the service, when it can assume its decisions
}

// passesInFlight bounds how many wholly Assumed passes are stored at once.
const passesInFlight = 2

// passStored is one pass's decisions stored, with its timings, and the
// assumed decisions the log did not store.
type passStored struct {
	decisions, stored        int
	decide, seal, publishDur time.Duration
	await                    bool
	lost                     []Decision
}

// New makes a runner for svc.
func New(svc Service, js jetstream.JetStream, log zerolog.Logger, cfg Config) *Runner {
	if cfg.Resync == 0 {
		cfg.Resync = time.Second
	}
	if cfg.ExpectTimeout == 0 {
		cfg.ExpectTimeout = 5 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	r := &Runner{svc: svc, js: js, log: log.With().Str("service", svc.Name()).Logger(), cfg: cfg,
		applied: map[string]uint64{}, startAt: map[string]uint64{}, expect: map[string]uint64{},
		every: map[string]time.Duration{}, taken: map[string]time.Time{},
		ready: make(chan struct{}), published: make(chan passStored, passesInFlight)}
	if cfg.Feed != nil {
		r.sub, r.joinErr = cfg.Feed.join(svc.Name(), svc.Sources())
	}
	r.assumer, _ = svc.(Assumer)
	for _, src := range svc.Sources() {
		if src.Every > 0 {
			r.every[src.Stream] = src.Every
		}
	}
	return r
}

// Ready is closed once the service has replayed the log up to where it
// stood when the runner started.
func (r *Runner) Ready() <-chan struct{} { return r.ready }

type incoming struct {
	stream      string
	seq         uint64
	rec         events.Record
	undecodable error // the message is skipped, its sequence applied
	err         error // the source failed (no message)
}

// Run follows the sources until ctx ends. Its goroutines carry the profiler
// label service=<name>, so a CPU profile (gantry --cpu-profile) splits by
// service: go tool pprof -tags.
func (r *Runner) Run(ctx context.Context) (err error) {
	pprof.Do(ctx, pprof.Labels("service", r.svc.Name()), func(ctx context.Context) { err = r.run(ctx) })
	return err
}

func (r *Runner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.joinErr != nil {
		return r.joinErr
	}
	if r.sub != nil {
		defer r.sub.leave()
	}
	in := make(chan incoming, 4096)
	for _, src := range r.svc.Sources() {
		last, err := bus.LastSeq(ctx, r.js, src.Stream, src.Filters...)
		if err != nil {
			return fmt.Errorf("%s: %w", r.svc.Name(), err)
		}
		r.startAt[src.Stream] = max(r.startAt[src.Stream], last)
		if r.sub != nil {
			continue // the feed reads it
		}
		cons, err := r.js.OrderedConsumer(ctx, src.Stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: src.Filters, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return fmt.Errorf("%s: follow %s: %w", r.svc.Name(), src.Stream, err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(1024))
		if err != nil {
			return fmt.Errorf("%s: follow %s: %w", r.svc.Name(), src.Stream, err)
		}
		go func(stream string) {
			<-ctx.Done()
			it.Stop()
		}(src.Stream)
		go func(stream string) {
			for {
				m, err := it.Next()
				if err != nil {
					if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
						return
					}
					select {
					case in <- incoming{stream: stream, err: err}:
					case <-ctx.Done():
						return
					}
					continue
				}
				// Decoding happens here, one goroutine per source, so the
				// loop that applies and decides only folds.
				select {
				case in <- decode(stream, m):
				case <-ctx.Done():
					return
				}
			}
		}(src.Stream)
	}
	if r.sub != nil {
		go r.sub.pump(ctx, in)
	}
	r.checkCaughtUp()
	if r.cfg.Instance != "" {
		l, err := newLease(ctx, r.js, r.svc.Name(), r.cfg.Instance)
		if err != nil {
			return err
		}
		r.lease = l
		defer l.release(context.WithoutCancel(ctx))
	}

	tick := time.NewTicker(r.cfg.Resync)
	defer tick.Stop()
	// wake runs a step at the service's NextWake (Waker), if sooner than
	// the next tick.
	wake := time.NewTimer(time.Hour)
	defer wake.Stop()
	waker, _ := r.svc.(Waker)
	rearm := func() {
		if waker == nil {
			return
		}
		if at := waker.NextWake(); !at.IsZero() {
			// Not sooner than wakeFloor: a wake-up already due while the
			// runner waits for a pass to be stored must not spin.
			wake.Reset(max(at.Sub(r.cfg.Clock()), wakeFloor))
		}
	}
	for {
		rearm()
		select {
		case <-ctx.Done():
			return nil
		case <-wake.C:
			r.step(ctx)
		case m := <-in:
			r.handle(m)
			// Drain what is already buffered before deciding, so one Decide
			// sees a whole burst.
		drain:
			for i := 0; i < 8192; i++ {
				select {
				case m := <-in:
					r.handle(m)
				default:
					break drain
				}
			}
			r.step(ctx)
		case p := <-r.published:
			r.inflight--
			if p.await {
				r.awaiting--
			}
			r.forget(p.lost)
			r.waitFrom = r.cfg.Clock()
			r.log.Debug().Int("decisions", p.decisions).Int("stored", p.stored).Dur("decide", p.decide).
				Dur("seal", p.seal).Dur("publish", p.publishDur).Msg("decided")
			r.step(ctx)
		case <-tick.C:
			r.step(ctx)
		}
	}
}

// decode reads one message of a source into a record; a message that does
// not decode still counts as applied (its sequence), and is logged.
func decode(stream string, m jetstream.Msg) incoming {
	md, err := m.Metadata()
	if err != nil {
		return incoming{stream: stream, err: fmt.Errorf("message metadata: %w", err)}
	}
	in := incoming{stream: stream, seq: md.Sequence.Stream}
	env, err := events.Parse(m.Data())
	if err != nil {
		in.undecodable = fmt.Errorf("undecodable message: %w", err)
		return in
	}
	ev, err := env.Decode()
	if err != nil {
		in.undecodable = fmt.Errorf("undecodable event: %w", err)
		return in
	}
	in.rec = events.Record{Stream: stream, Subject: m.Subject(), Seq: in.seq, Envelope: env, Event: ev}
	return in
}

func (r *Runner) handle(m incoming) {
	if m.err != nil {
		r.log.Warn().Err(m.err).Str("stream", m.stream).Msg("follow")
		return
	}
	r.applied[m.stream] = max(r.applied[m.stream], m.seq)
	if m.undecodable != nil {
		r.log.Error().Err(m.undecodable).Str("stream", m.stream).Uint64("seq", m.seq).Msg("skip")
		return
	}
	if every := r.every[m.stream]; every > 0 {
		at := m.rec.Envelope.Time
		if last, ok := r.taken[m.rec.Subject]; ok && at.Sub(last) < every && !at.Before(last) {
			return // thinned (Source.Every)
		}
		r.taken[m.rec.Subject] = at
	}
	r.svc.Apply(m.rec)
}

func (r *Runner) checkCaughtUp() {
	if r.caughtUp {
		return
	}
	for stream, last := range r.startAt {
		if r.applied[stream] < last {
			return
		}
	}
	r.caughtUp = true
	r.log.Debug().Interface("applied", r.applied).Msg("caught up with the log")
	close(r.ready)
}

// expectationsMet reports whether the runner has read back every decision
// it stored. A decision the log acknowledged is never lost, so the runner
// waits as long as its reading makes progress; only when nothing more has
// been applied for ExpectTimeout (a message it cannot see: aged out, or
// outside its filters) does it give up waiting and decide again.
func (r *Runner) expectationsMet(now time.Time) bool {
	r.expectMu.Lock()
	defer r.expectMu.Unlock()
	var applied uint64
	met := true
	for stream, seq := range r.expect {
		applied += r.applied[stream]
		if r.applied[stream] < seq {
			met = false
		}
	}
	if met {
		return true
	}
	if applied != r.waitApplied {
		r.waitApplied, r.waitFrom = applied, now
		return false
	}
	if now.Sub(r.waitFrom) < r.cfg.ExpectTimeout {
		return false
	}
	for stream, seq := range r.expect {
		if r.applied[stream] < seq {
			r.log.Warn().Str("stream", stream).Uint64("want", seq).Uint64("applied", r.applied[stream]).
				Dur("stalled", now.Sub(r.waitFrom)).Msg("own decisions not seen in time; deciding again")
		}
	}
	clear(r.expect)
	return true
}

func (r *Runner) step(ctx context.Context) {
	r.checkCaughtUp()
	if !r.caughtUp {
		return
	}
	if !r.leads(ctx) {
		return
	}
	if f, ok := r.svc.(Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			r.log.Error().Err(err).Msg("flush")
		}
	}
	now := r.cfg.Clock()
	if r.awaiting > 0 || r.inflight >= passesInFlight || !r.expectationsMet(now) {
		return
	}
	began := time.Now()
	ds := r.svc.Decide(now)
	if len(ds) == 0 {
		return
	}
	decided := time.Now()
	if r.assumer != nil {
		r.assumer.Assume(ds)
	} else {
		for i := range ds {
			ds[i].Assumed = false // nobody to forget them: waited for as usual
		}
	}
	us, lost := r.units(ds, now) // sealed: nothing below reads the service's state
	r.forget(lost)
	sealed := time.Now()
	await := slices.ContainsFunc(ds, func(d Decision) bool { return !d.Assumed })
	r.inflight++
	if await {
		r.awaiting++
	}
	go func() {
		stored, lost := r.publish(ctx, us)
		r.published <- passStored{decisions: len(ds), stored: stored, await: await, lost: lost,
			decide: decided.Sub(began), seal: sealed.Sub(decided), publishDur: time.Since(sealed)}
	}()
}

// forget hands the service back the assumed decisions the log did not store.
// Only a service that is an Assumer has any: step clears Assumed for the
// others.
func (r *Runner) forget(ds []Decision) {
	if r.assumer == nil {
		return
	}
	for _, d := range ds {
		r.assumer.Forget(d)
	}
}

// leads reports whether this runner may act now (always, without election).
func (r *Runner) leads(ctx context.Context) bool {
	if r.lease == nil {
		return true
	}
	held, err := r.lease.held(ctx, r.cfg.Clock())
	if err != nil {
		r.log.Warn().Err(err).Msg("lease")
	}
	if held != r.leading.Load() {
		r.leading.Store(held)
		if held {
			r.expectMu.Lock()
			clear(r.expect) // a new leader waits for nobody's old decisions
			r.expectMu.Unlock()
			r.log.Info().Str("instance", r.cfg.Instance).Msg("took the lease: acting")
		} else {
			r.log.Info().Str("instance", r.cfg.Instance).Msg("lost the lease: standing by")
		}
	}
	return held
}

// Leading reports whether the runner held its lease at its last step.
func (r *Runner) Leading() bool { return r.cfg.Instance == "" || r.leading.Load() }

// stored notes a decision the log holds, so the runner waits to see it.
// The publishing goroutines call it concurrently.
func (r *Runner) stored(stream string, seq uint64) {
	r.expectMu.Lock()
	defer r.expectMu.Unlock()
	if seq > r.expect[stream] {
		r.expect[stream] = seq
	}
}
