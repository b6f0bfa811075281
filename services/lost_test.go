package services_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
)

// A stream deleted under a running control plane stops it with an error
// that names the stream; the plane does not go on reading nothing.
func TestPlaneFailsOnLostStream(t *testing.T) {
	conn, _ := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, nil, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := conn.JS.DeleteStream(ctx, events.StreamDecisions); err != nil {
		t.Fatal(err)
	}
	select {
	case <-plane.Failed():
	case <-time.After(20 * time.Second):
		t.Fatal("the plane goes on 20 s after its decisions stream was deleted")
	}
	done := make(chan error, 1)
	go func() { done <- plane.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the plane's services do not stop after its stream was deleted")
	}
	if !errors.Is(err, bus.ErrStreamLost) || !strings.Contains(err.Error(), events.StreamDecisions) {
		t.Fatalf("Wait() = %v; want ErrStreamLost naming %s", err, events.StreamDecisions)
	}
}
