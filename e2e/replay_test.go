package e2e

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projectiontest"
)

// A Deployment's rollout as the log tells it: replayLog reads the log after
// a run and replays it through projections.Cluster, so a test can count a
// Deployment's pods after every record (the bounds of a rollout hold at
// every instant, not only at the samples a poll sees).

// deploySources are a Deployment's intents, then the streams and subjects
// that make the pods' fold (b4Sources).
func deploySources(name string) []logSource {
	return append([]logSource{{events.StreamIntents, []string{events.IntentSubject("default", "deployment", name)}}}, b4Sources...)
}

// replayLog reads every record of sources as the log holds it now and
// applies them to a fresh projections.Cluster in the order the server
// stored them (projectiontest.Merge), calling visit after each with the
// fold and the record, until visit returns false or the log ends (then it
// returns done false).
func replayLog(js jetstream.JetStream, sources []logSource, visit func(c *projections.Cluster, s projectiontest.Stored) bool) (done bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lists := make([][]projectiontest.Stored, len(sources))
	for i, src := range sources {
		l, err := bustest.ReadStored(ctx, js, src.stream, src.filters)
		if err != nil {
			return false, err
		}
		lists[i] = l
	}
	c := projections.NewCluster()
	for _, s := range projectiontest.Merge(lists...) {
		c.Apply(s.Rec)
		if !visit(c, s) {
			return true, nil
		}
	}
	return false, nil
}
