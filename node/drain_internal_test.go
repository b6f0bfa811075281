package node

import (
	"context"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/node/svcview"
)

// Given a pod that is a ready endpoint, expect waitGone to wait until a
// view no longer lists it ready (its deletion made it terminating), and a
// pod that is no endpoint not to wait at all; a context that ends stops
// the wait.
func TestEndpointSetWaitGone(t *testing.T) {
	e := newEndpointSet()
	view := func(ready bool) []svcview.Service {
		return []svcview.Service{{Namespace: "default", Name: "web", Endpoints: []svcview.Endpoint{
			{IP: "10.42.0.5", Pod: "web-a", Ready: ready, Serving: ready, Terminating: !ready}}}}
	}
	_ = e.Sync(view(true))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.waitGone(ctx, "default", "web-b") // not an endpoint: at once

	done := make(chan struct{})
	go func() {
		e.waitGone(ctx, "default", "web-a")
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("returned while the pod is a ready endpoint")
	case <-time.After(50 * time.Millisecond): // it waits (the sync below ends the wait)
	}
	_ = e.Sync(view(false))
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("still waiting after the view made it terminating")
	}

	_ = e.Sync(view(true))
	short, stop := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer stop()
	e.waitGone(short, "default", "web-a") // returns when its context ends
}
