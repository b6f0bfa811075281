package ingest

import (
	"slices"
	"sync"
	"testing"

	"github.com/gantry-sh/gantry/events/bus"
)

// A writer takes the oldest requests, in order, as many as fit in one
// atomic batch, and always at least one.
func TestTakeFillsOneBatch(t *testing.T) {
	g := &Ingest{}
	g.cond = sync.NewCond(&g.mu)
	sizes := []int{400, 500, 200, bus.MaxBatch, 1, 2}
	for _, n := range sizes {
		g.queue = append(g.queue, &request{msgs: make([]bus.IngestMsg, n)})
		g.queued += n
	}
	var got [][]int
	for range 4 {
		var batch []int
		for _, r := range g.take() {
			batch = append(batch, len(r.msgs))
		}
		got = append(got, batch)
	}
	want := [][]int{{400, 500}, {200}, {bus.MaxBatch}, {1, 2}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v, want %v", got, want)
	}
	if g.queued != 0 || len(g.queue) != 0 {
		t.Errorf("left %d requests, %d messages; want none", len(g.queue), g.queued)
	}
	g.closed = true
	if r := g.take(); r != nil {
		t.Errorf("a closed ingest took %d requests", len(r))
	}
}
