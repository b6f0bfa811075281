package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/projections"
)

// A Deployment's rollout as the log tells it: the helpers below read the
// log after a run and replay it through projections.Cluster, so a test or
// benchmark can count a Deployment's pods after every record (the bounds of
// a rollout hold at every instant, not only at the samples a poll sees).

// podSources are the streams and subjects that make the pods' fold.
var podSources = []logSource{
	{events.StreamDecisions, []string{events.SubjectPodDecAll, events.SubjectWorkloadAll, events.SubjectAdmissionAll, events.SubjectNodeStateAll}},
	{events.StreamObservations, []string{events.SubjectObsPodAll}},
}

// deploySources are a Deployment's intents, then podSources.
func deploySources(name string) []logSource {
	return append([]logSource{{events.StreamIntents, []string{events.IntentSubject("default", "deployment", name)}}}, podSources...)
}

// podCounts counts the pods labelled app=app in a fold. available: Ready
// (every container running and ready, by its node's newest report, on a
// node not NotReady) and not being deleted, as Pod.AvailableAt and the
// workload status count it; pods: neither terminal nor being deleted
// (status.replicas); live: not yet gone (planned and not yet bound, and
// being deleted and not yet removed, included); old: live pods of the
// template hashes in old; newAvailable: available pods of any other
// template.
type podCount struct{ available, pods, live, old, newAvailable int }

func podCounts(c *projections.Cluster, app string, old map[string]bool, now time.Time) podCount {
	var n podCount
	for _, p := range c.Pods { // counted: no order needed
		if p.Labels["app"] != app {
			continue
		}
		n.live++
		if old[p.TemplateHash] {
			n.old++
		}
		if p.Deleting {
			continue
		}
		if !p.Terminal() {
			n.pods++
		}
		if p.AvailableAt(0, now) {
			n.available++
			if !old[p.TemplateHash] {
				n.newAvailable++
			}
		}
	}
	return n
}

// liveHashes are the template hashes of app's pods not being deleted.
func liveHashes(c *projections.Cluster, app string) map[string]bool {
	out := map[string]bool{}
	for _, p := range c.Pods {
		if p.Labels["app"] == app && !p.Deleting {
			out[p.TemplateHash] = true
		}
	}
	return out
}

// stored is one record and when the server stored it.
type stored struct {
	rec events.Record
	at  time.Time
}

// readStream reads every message of stream on filters, in order.
func readStream(ctx context.Context, js jetstream.JetStream, stream string, filters []string) ([]stored, error) {
	r, err := bus.Read(ctx, js, stream, jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	n, ok := r.Pending()
	if !ok {
		return nil, fmt.Errorf("read %s: no pending count", stream)
	}
	out := make([]stored, 0, n)
	for range n {
		m, err := r.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		rec, err := recordOf(stream, m)
		if err != nil {
			return nil, err
		}
		md, _ := m.Metadata() // recordOf read it
		out = append(out, stored{rec: rec, at: md.Timestamp})
	}
	return out, nil
}

func recordOf(stream string, m jetstream.Msg) (events.Record, error) {
	md, err := m.Metadata()
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s: %w", stream, err)
	}
	env, err := events.Parse(m.Data())
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s seq %d: %w", stream, md.Sequence.Stream, err)
	}
	ev, err := env.Decode()
	if err != nil {
		return events.Record{}, fmt.Errorf("read %s seq %d: %w", stream, md.Sequence.Stream, err)
	}
	return events.Record{Stream: stream, Subject: m.Subject(), Seq: md.Sequence.Stream, Envelope: env, Event: ev}, nil
}

// replayLog reads every record of sources as the log holds it now and
// applies them to a fresh projections.Cluster in the order the server
// stored them (each stream in its own order; across streams by store time,
// a tie going to the source listed first), calling visit after each with
// the fold and the record, until visit returns false or the log ends (then
// it returns done false).
func replayLog(js jetstream.JetStream, sources []logSource, visit func(c *projections.Cluster, s stored) bool) (done bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lists := make([][]stored, len(sources))
	for i, src := range sources {
		l, err := readStream(ctx, js, src.stream, src.filters)
		if err != nil {
			return false, err
		}
		lists[i] = l
	}
	c := projections.NewCluster()
	heads := make([]int, len(lists))
	for {
		next := -1
		for i, l := range lists {
			if heads[i] < len(l) && (next < 0 || l[heads[i]].at.Before(lists[next][heads[next]].at)) {
				next = i
			}
		}
		if next < 0 {
			return false, nil
		}
		s := lists[next][heads[next]]
		heads[next]++
		c.Apply(s.rec)
		if !visit(c, s) {
			return true, nil
		}
	}
}
