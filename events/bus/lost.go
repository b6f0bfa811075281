package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrStreamLost means a stream of the log is gone (deleted under the
// control plane): what was in it cannot be read back, so the services that
// fold it must not go on as if nothing happened.
var ErrStreamLost = errors.New("stream of the log lost")

// streamDeletedAdvisory is the subject nats-server announces a deleted
// stream on (server/jetstream_events.go: JSAdvisoryStreamDeletedPre).
const streamDeletedAdvisory = "$JS.EVENT.ADVISORY.STREAM.DELETED."

// WatchStreams returns when one of the streams is deleted, with an error
// that names it (ErrStreamLost), or nil when ctx ends. It hears the
// server's advisory at once and also looks every interval (an advisory
// sent while the connection was down is not heard again). A stream the
// server cannot look up for another reason (JetStream restarting after a
// full disk, a timeout) is not lost: only "stream not found" counts, and
// only while JetStream itself answers.
func WatchStreams(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, streams []string, every time.Duration) error {
	if every <= 0 {
		every = 5 * time.Second
	}
	heard := make(chan string, len(streams))
	var subs []*nats.Subscription
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	for _, name := range streams {
		sub, err := nc.Subscribe(streamDeletedAdvisory+name, func(m *nats.Msg) {
			select {
			case heard <- strings.TrimPrefix(m.Subject, streamDeletedAdvisory):
			default:
			}
		})
		if err != nil {
			return fmt.Errorf("watch stream %s: %w", name, err)
		}
		subs = append(subs, sub)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		var check []string
		select {
		case <-ctx.Done():
			return nil
		case name := <-heard:
			check = []string{name}
		case <-tick.C:
			check = streams
		}
		for _, name := range check {
			if err := streamGone(ctx, js, name); err != nil {
				return err
			}
		}
	}
}

// streamGone returns ErrStreamLost, naming the stream, when the server says
// it has no such stream.
func streamGone(ctx context.Context, js jetstream.JetStream, name string) error {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := js.Stream(cctx, name)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return fmt.Errorf("%w: %s was deleted while the control plane was reading it; "+
		"what it held is gone from the log (restore it from a backup, then start again)", ErrStreamLost, name)
}
