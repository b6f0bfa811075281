package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// A reconcile's batch that holds a report the log already stored (an
// earlier attempt that landed after the agent gave up on it) is refused
// whole; the agent then reports one by one, the duplicate window drops the
// stored one, and every report ends up stored once and remembered.
func TestRefusedBatchIsReportedOneByOne(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := New(Config{Name: "n1"}, nil, conn, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	var rs []report
	for i := range 3 {
		st := &events.PodStatusObserved{Namespace: "default", Name: fmt.Sprint("web-", i), UID: fmt.Sprint("uid-", i),
			Node: "n1", Epoch: 1, Phase: events.PhaseRunning, PodIP: fmt.Sprint("10.42.0.", i+2)}
		r, ok, err := a.statusReport(&binding{}, st)
		if err != nil || !ok {
			t.Fatalf("status report %d: %v, %v", i, ok, err)
		}
		rs = append(rs, r)
	}
	if _, err := bus.PublishOne(ctx, conn.JS, rs[1].out); err != nil {
		t.Fatal(err)
	}
	out := []bus.Outgoing{rs[0].out, rs[1].out, rs[2].out}
	if _, _, err := bus.PublishAtomic(ctx, conn.JS, out); !errors.Is(err, bus.ErrDuplicate) {
		t.Fatalf("a batch holding a stored id: %v, want bus.ErrDuplicate", err)
	}

	a.publishReports(ctx, rs)

	for _, r := range rs {
		if got := a.published[r.key]; got.id != r.out.MsgID || got.status != r.status {
			t.Errorf("%s: remembered %+v, want its report %s", r.key, got, r.out.MsgID)
		}
	}
	st, err := conn.JS.Stream(ctx, events.StreamObservations)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("%d observations stored, want 3 (one per pod)", info.State.Msgs)
	}
	// Made again (the next reconcile, say), nothing is new.
	for _, r := range rs {
		if _, ok, _ := a.statusReport(&binding{}, decodeStatus(t, r.status)); ok {
			t.Errorf("%s: reported again though stored", r.key)
		}
	}
}

func decodeStatus(t *testing.T, js string) *events.PodStatusObserved {
	t.Helper()
	ev, err := events.Decode(events.TypePodStatusObserved, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return ev.(*events.PodStatusObserved)
}
