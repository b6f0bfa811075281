package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
)

// Feed reads each stream once for all the runners of one process, like the
// shared informers of Kubernetes' controller manager: one consumer per
// stream, each message decoded once, the record handed to every runner whose
// sources take its subject. `gantry up` runs four services in one process;
// without a feed each of them would read and decode every decision and
// observation on its own.
//
// Runners share the decoded events, so a service must never change an event
// it is given (the same rule as for an informer's cache). A runner joins at
// New, before Start, and reads through the feed for one Run; a runner made
// after Start (a service restarted in the same process) must read the log
// with its own consumers (no Config.Feed).
type Feed struct {
	js  jetstream.JetStream
	log zerolog.Logger

	mu      sync.Mutex
	subs    []*subscriber
	started bool
}

// subscriber is one runner's place in a feed: what it reads, and the
// records waiting for it. The queue has no bound, so a runner busy deciding
// never holds up the others; it holds what the log delivered meanwhile.
type subscriber struct {
	sources []Source
	mu      sync.Mutex
	items   []incoming
	left    bool          // its runner has stopped: nothing more is kept
	wake    chan struct{} // 1-buffered: items were added
}

// NewFeed makes a feed; runners join it through Config.Feed.
func NewFeed(js jetstream.JetStream, log zerolog.Logger) *Feed {
	return &Feed{js: js, log: log.With().Str("feed", "shared").Logger()}
}

// join adds a runner's sources. It fails once the feed has started.
func (f *Feed) join(name string, sources []Source) (*subscriber, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return nil, fmt.Errorf("%s: the shared feed has already started", name)
	}
	s := &subscriber{sources: sources, wake: make(chan struct{}, 1)}
	f.subs = append(f.subs, s)
	return s, nil
}

// Start follows every stream some runner reads, with the union of their
// filters, until ctx ends. Its goroutines carry the profiler label
// service=feed: decoding for every service shows there.
func (f *Feed) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started {
		return errors.New("the shared feed has already started")
	}
	f.started = true
	var streams []string
	for _, s := range f.subs {
		for _, src := range s.sources {
			if !slices.Contains(streams, src.Stream) {
				streams = append(streams, src.Stream)
			}
		}
	}
	for _, stream := range streams {
		var filters [][]string
		var subs []*subscriber
		for _, s := range f.subs {
			for _, src := range s.sources {
				if src.Stream == stream {
					filters = append(filters, src.Filters)
					subs = append(subs, s)
				}
			}
		}
		union := unionFilters(filters)
		f.log.Debug().Str("stream", stream).Strs("filters", union).Int("readers", len(subs)).Msg("follow")
		cons, err := f.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: union, DeliverPolicy: jetstream.DeliverAllPolicy})
		if err != nil {
			return fmt.Errorf("shared feed: follow %s: %w", stream, err)
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(1024))
		if err != nil {
			return fmt.Errorf("shared feed: follow %s: %w", stream, err)
		}
		go func() {
			<-ctx.Done()
			it.Stop()
		}()
		go pprof.Do(ctx, pprof.Labels("service", "feed"), func(ctx context.Context) {
			f.follow(ctx, stream, it, filters, subs)
		})
	}
	return nil
}

// follow decodes each message of one stream and hands it to the
// subscribers whose filters take its subject (filters[i] are subs[i]'s).
func (f *Feed) follow(ctx context.Context, stream string, it jetstream.MessagesContext, filters [][]string, subs []*subscriber) {
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || ctx.Err() != nil {
				return
			}
			for _, s := range subs {
				s.push(incoming{stream: stream, err: err})
			}
			continue
		}
		in := decode(stream, m)
		subject := m.Subject()
		for i, s := range subs {
			if matchesAny(filters[i], subject) {
				s.push(in)
			}
		}
	}
}

func (s *subscriber) push(in incoming) {
	s.mu.Lock()
	if s.left {
		s.mu.Unlock()
		return
	}
	s.items = append(s.items, in)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pump moves the subscriber's records into its runner's input, in order,
// until ctx ends.
func (s *subscriber) pump(ctx context.Context, in chan<- incoming) {
	var batch []incoming
	for {
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
		s.mu.Lock()
		batch, s.items = s.items, batch[:0]
		s.mu.Unlock()
		for i := range batch {
			select {
			case in <- batch[i]:
			case <-ctx.Done():
				return
			}
			batch[i] = incoming{}
		}
	}
}

// leave drops what waits for a runner that has stopped, and whatever comes
// after: a runner reads through a feed once.
func (s *subscriber) leave() {
	s.mu.Lock()
	s.left, s.items = true, nil
	s.mu.Unlock()
}

// matchesAny reports whether subject is taken by one of the filters (none:
// every subject).
func matchesAny(filters []string, subject string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if events.FilterCovers(f, subject) {
			return true
		}
	}
	return false
}

// unionFilters is one consumer's filters for several readers: nil (the
// whole stream) when one of them reads it all, else each filter not
// covered by another (JetStream refuses overlapping filters).
func unionFilters(sets [][]string) []string {
	var all []string
	for _, fs := range sets {
		if len(fs) == 0 {
			return nil
		}
		all = append(all, fs...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	var out []string
	for i, f := range all {
		covered := false
		for j, g := range all {
			if i != j && events.FilterCovers(g, f) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, f)
		}
	}
	return out
}
