// Package ingest is the control plane's group commit for what node agents
// report. An agent hands its pod reports to the ingest
// (events.IngestSubject, request/reply) instead of storing them itself; the
// ingest stores the reports that many agents handed it while its previous
// writes were in flight as one atomic batch (one fsync) and answers each
// agent once its reports are stored. On this machine's disk that is 20 µs
// a report instead of 300–400 (bus.BenchmarkStoreReports).
//
// The ingest adds no state of its own: a report is acknowledged only once
// the log holds it, and a report whose answer is lost is made again by its
// agent with the same Nats-Msg-Id, which the stream's duplicate window
// drops. When no ingest runs, agents store their reports themselves.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// Name is the service's name for `gantry serve --services`.
const Name = "ingest"

// Queue is the queue group every ingest joins: with several control-plane
// processes, each request goes to one of them.
const Queue = "gantry-ingest"

// Config tunes the ingest.
type Config struct {
	// Writers is how many batches are stored at once (default 4). While
	// they are, requests gather into the next batches.
	Writers int
	// Backlog is the most messages waiting to be written (default 20,000).
	// A request that would pass it is refused at once, and its agent
	// reports again later.
	Backlog int
	// StoreTimeout bounds the store of one batch (default 10 s, the agents'
	// own wait).
	StoreTimeout time.Duration
}

func (c *Config) defaults() {
	if c.Writers <= 0 {
		c.Writers = 4
	}
	if c.Backlog <= 0 {
		c.Backlog = 20_000
	}
	if c.StoreTimeout <= 0 {
		c.StoreTimeout = 10 * time.Second
	}
}

// drainTimeout bounds how long a stopping ingest answers the requests its
// subscription still holds.
const drainTimeout = 5 * time.Second

// Ingest is a running ingest.
type Ingest struct {
	cfg  Config
	conn *bus.Conn
	log  zerolog.Logger

	mu     sync.Mutex
	cond   *sync.Cond
	queue  []*request
	queued int // messages in queue
	closed bool

	done chan struct{}
}

// request is one agent's hand-over, waiting to be stored.
type request struct {
	reply string
	msgs  []bus.IngestMsg
}

// Start subscribes the ingest and runs its writers until ctx ends.
func Start(ctx context.Context, conn *bus.Conn, cfg Config, log zerolog.Logger) (*Ingest, error) {
	cfg.defaults()
	g := &Ingest{cfg: cfg, conn: conn, log: log.With().Str("service", Name).Logger(), done: make(chan struct{})}
	g.cond = sync.NewCond(&g.mu)
	sub, err := conn.NC.QueueSubscribe(events.SubjectIngestAll, Queue, g.receive)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", events.SubjectIngestAll, err)
	}
	// Unlimited pending: Config.Backlog is the bound, and a request
	// dropped here would cost its agent a whole timeout. The subscription
	// must be known to the server before Start returns, or an agent's
	// first request could find no one and store its reports itself.
	err = sub.SetPendingLimits(-1, -1)
	if err == nil {
		err = conn.NC.Flush()
	}
	if err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe %s: %w", events.SubjectIngestAll, err)
	}
	drained := sub.StatusChanged(nats.SubscriptionClosed)
	var wg sync.WaitGroup
	for range cfg.Writers {
		wg.Add(1)
		go pprof.Do(ctx, pprof.Labels("service", Name), func(ctx context.Context) {
			defer wg.Done()
			g.run(ctx)
		})
	}
	go func() {
		<-ctx.Done()
		// Every request taken is answered: those still queued, and those
		// the subscription holds, as "stopping" (their nodes report again,
		// through another ingest or on their own); the batches being
		// stored, once their store ends.
		g.mu.Lock()
		g.closed = true
		left := g.queue
		g.queue, g.queued = nil, 0
		g.mu.Unlock()
		g.cond.Broadcast()
		for _, r := range left {
			g.answer(r.reply, bus.IngestReply{Error: "ingest stopping"})
		}
		if err := sub.Drain(); err == nil {
			select {
			case <-drained:
			case <-time.After(drainTimeout):
				g.log.Warn().Dur("waited", drainTimeout).Msg("stopping with requests unanswered")
			}
		}
		wg.Wait()
		close(g.done)
	}()
	return g, nil
}

// Done is closed once the ingest has stopped.
func (g *Ingest) Done() <-chan struct{} { return g.done }

// receive checks a request and queues it for the writers.
func (g *Ingest) receive(m *nats.Msg) {
	if m.Reply == "" {
		return // no one would learn the outcome
	}
	node := strings.TrimPrefix(m.Subject, strings.TrimSuffix(events.SubjectIngestAll, "*"))
	msgs, err := bus.DecodeIngest(m.Data)
	if err == nil {
		err = owned(node, msgs)
	}
	if err != nil {
		g.log.Warn().Err(err).Str("node", node).Msg("request refused")
		g.answer(m.Reply, bus.IngestReply{Error: err.Error()})
		return
	}
	g.mu.Lock()
	switch {
	case g.closed:
		err = errors.New("ingest stopping")
	case g.queued+len(msgs) > g.cfg.Backlog:
		err = fmt.Errorf("ingest busy: %d messages waiting", g.queued)
	default:
		g.queue = append(g.queue, &request{reply: m.Reply, msgs: msgs})
		g.queued += len(msgs)
	}
	g.mu.Unlock()
	if err != nil {
		g.answer(m.Reply, bus.IngestReply{Error: err.Error()})
		return
	}
	g.cond.Signal()
}

// owned checks that a node writes only its own reports: a node may store
// through the ingest only what it could store on its own subjects.
func owned(node string, msgs []bus.IngestMsg) error {
	prefix := events.ObsNodePrefix(node)
	for i, m := range msgs {
		if !strings.HasPrefix(m.Subject, prefix) || len(m.Subject) == len(prefix) {
			return fmt.Errorf("message %d: subject %q is not under %s", i+1, m.Subject, prefix+">")
		}
	}
	return nil
}

// run stores batches until the ingest closes.
func (g *Ingest) run(ctx context.Context) {
	for {
		reqs := g.take()
		if reqs == nil {
			return
		}
		g.store(ctx, reqs)
	}
}

// take waits for requests and takes the oldest that fit in one atomic
// batch (at least one); nil once the ingest is closed.
func (g *Ingest) take() []*request {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.queue) == 0 && !g.closed {
		g.cond.Wait()
	}
	if g.closed {
		return nil
	}
	n, i := len(g.queue[0].msgs), 1
	for ; i < len(g.queue) && n+len(g.queue[i].msgs) <= bus.MaxBatch; i++ {
		n += len(g.queue[i].msgs)
	}
	reqs := make([]*request, i)
	copy(reqs, g.queue)
	g.queue = append(g.queue[:0], g.queue[i:]...)
	g.queued -= n
	return reqs
}

// store writes reqs' messages and answers each request. A message id
// handed over twice (an agent's retry while its first attempt waits) is
// written once. The batch is atomic for its fsync, not for its meaning:
// when the log refuses it whole, because an id in it is already stored
// (an attempt whose answer was lost) or because too many batches are open,
// its messages go one by one and the duplicate window drops what is stored.
func (g *Ingest) store(ctx context.Context, reqs []*request) {
	start := time.Now()
	var uniq []bus.IngestMsg
	at := map[string]int{}
	for _, r := range reqs {
		for _, m := range r.msgs {
			if _, ok := at[m.ID]; !ok {
				at[m.ID] = len(uniq)
				uniq = append(uniq, m)
			}
		}
	}
	res := g.publish(ctx, uniq)
	for _, r := range reqs {
		rep := bus.IngestReply{Results: make([]bus.IngestResult, len(r.msgs))}
		for i, m := range r.msgs {
			rep.Results[i] = res[at[m.ID]]
		}
		g.answer(r.reply, rep)
	}
	g.log.Debug().Int("requests", len(reqs)).Int("messages", len(uniq)).
		Float64("ms", float64(time.Since(start).Microseconds())/1000).Msg("stored")
}

// publish stores msgs, in order, and returns one result each.
func (g *Ingest) publish(ctx context.Context, msgs []bus.IngestMsg) []bus.IngestResult {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StoreTimeout)
	defer cancel()
	res := make([]bus.IngestResult, len(msgs))
	if len(msgs) >= bus.MinAtomicBatch {
		_, last, err := bus.PublishAtomicMsgs(ctx, g.conn.JS, natsMsgs(msgs))
		switch {
		case err == nil:
			// An atomic batch is stored at consecutive sequences.
			for i := range res {
				res[i].Seq = last - uint64(len(msgs)-1-i)
			}
			return res
		case errors.Is(err, bus.ErrDuplicate), errors.Is(err, bus.ErrBusy):
			g.log.Debug().Err(err).Int("messages", len(msgs)).Msg("batch refused; storing one by one")
		default:
			for i := range res {
				res[i].Error = err.Error()
			}
			return res
		}
	}
	each, err := bus.PublishEach(ctx, g.conn.JS, natsMsgs(msgs))
	for i, r := range each {
		switch {
		case r.Err != nil:
			res[i].Error = r.Err.Error()
		case r.Seq > 0:
			res[i] = bus.IngestResult{Seq: r.Seq, Duplicate: r.Duplicate}
		case err != nil:
			res[i].Error = err.Error()
		}
	}
	return res
}

// natsMsgs makes fresh NATS messages: a batch publish adds its headers to
// the messages it sends, so none is sent twice.
func natsMsgs(msgs []bus.IngestMsg) []*nats.Msg {
	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		out[i] = m.Msg()
	}
	return out
}

func (g *Ingest) answer(reply string, rep bus.IngestReply) {
	b, err := events.Marshal(rep)
	if err == nil {
		err = g.conn.NC.Publish(reply, b)
	}
	if err != nil {
		g.log.Warn().Err(err).Msg("answer not sent")
	}
}
