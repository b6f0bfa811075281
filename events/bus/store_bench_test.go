package bus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// BenchmarkStoreReports stores b.N pod reports on the observations stream
// the ways a node's reports can be stored: one pipelined publish each, an
// atomic batch per node (10 reports, 8 nodes at once), and group commits
// of many nodes' reports (batches of 1,000, 4 at once). ns/op is per report.
func BenchmarkStoreReports(b *testing.B) {
	for _, c := range []struct {
		name           string
		batch, writers int
	}{{"pipelined", 1, 8}, {"per-node-batch-10", 10, 8}, {"group-1000", 1000, 4}} {
		b.Run(c.name, func(b *testing.B) {
			conn, _ := bustest.Start(b)
			ctx := context.Background()
			body := make([]byte, 600)
			for i := range body {
				body[i] = 'x'
			}
			out := func(i int) bus.Outgoing {
				env, err := events.Seal(&events.PodRemoved{Namespace: "default", Name: fmt.Sprintf("p-%d", i), UID: string(body[:40]), Node: "n"}, events.Meta{ID: fmt.Sprintf("r-%d", i), Source: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				return bus.Outgoing{Subject: events.ObsPodSubject(fmt.Sprintf("n%d", i%5000), "default", fmt.Sprintf("p-%d", i)), Envelope: env, MsgID: fmt.Sprintf("r-%d", i)}
			}
			all := make([]bus.Outgoing, b.N)
			for i := range all {
				all[i] = out(i)
			}
			b.ResetTimer()
			inWriters(b, all, max(c.batch, 10), c.writers, func(chunk []bus.Outgoing) error {
				if c.batch == 1 {
					_, err := bus.Publish(ctx, conn.JS, chunk)
					return err
				}
				_, _, err := bus.PublishAtomic(ctx, conn.JS, chunk)
				return err
			})
		})
	}
}

// inWriters hands all to writers goroutines, step items at a time, each
// chunk to store, and waits until every chunk is stored.
func inWriters[T any](b *testing.B, all []T, step, writers int, store func([]T) error) {
	next := make(chan []T)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for chunk := range next {
				if err := store(chunk); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := 0; i < len(all); i += step {
		next <- all[i:min(len(all), i+step)]
	}
	close(next)
	wg.Wait()
}
