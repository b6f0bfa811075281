package logcheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// LossError is a start-up refusal: the log lost what the control plane had
// acted on.
type LossError struct {
	Findings []Finding
	Command  string // how the operator started: "gantry up --data-dir /var/lib/gantry"
}

func (e *LossError) Error() string {
	var b strings.Builder
	b.WriteString("the log has lost messages the control plane had already acted on; not starting:\n")
	for _, f := range e.Findings {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	b.WriteString("what you can do (docs/operations.md, \"Start-up refusals\"):\n")
	b.WriteString("  - restore the newest backup into a fresh data dir: gantry restore BACKUP-DIR --data-dir NEW-DIR, and start on NEW-DIR;\n")
	fmt.Fprintf(&b, "  - or accept the loss: %s --accept-log-loss (the loss is recorded in the log with your name; the lost sequences are reused by new messages);\n", e.Command)
	b.WriteString("  - for a full report (every message read and decoded): gantry log verify, with the cluster stopped")
	return b.String()
}

// GuardOptions say how the control plane starts.
type GuardOptions struct {
	Store   Store
	Accept  bool   // --accept-log-loss
	Actor   string // who accepts (user@host)
	Source  string // the writer of the event: "gantry up"
	Command string // for the refusal's advice
}

// Guard checks the log before the control plane starts on it. When the log
// lost messages it returns a *LossError, or with Accept records the loss
// (one LogLossAccepted per stream), resets the readers that saw the lost
// sequences and starts a new watermark. It returns the watermark Keep goes
// on from.
func Guard(ctx context.Context, js jetstream.JetStream, opts GuardOptions, log zerolog.Logger) (*Watermark, error) {
	wm, err := opts.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	in, err := Gather(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("check the log: %w", err)
	}
	findings := Check(events.Streams(), in.States, wm, in.Floors)
	if len(findings) == 0 {
		return wm, nil
	}
	for _, f := range findings {
		log.Error().Str("stream", f.Stream).Str("lost", Ranges(f.Lost)).Str("reason", f.Reason).Msg("log lost messages")
	}
	if !opts.Accept {
		return nil, &LossError{Findings: findings, Command: opts.Command}
	}
	if err := accept(ctx, js, findings, in, opts, log); err != nil {
		return nil, fmt.Errorf("accept the log's loss: %w", err)
	}
	in, err = Gather(ctx, js)
	if err != nil {
		return nil, fmt.Errorf("check the log: %w", err)
	}
	fresh := Watermark{At: time.Now().UTC(), Streams: Marks(in)}
	if err := opts.Store.Save(ctx, fresh); err != nil {
		return nil, err
	}
	return &fresh, nil
}

// accept resets every reader that saw lost sequences, then records the
// loss. Resetting first: should recording fail, the next start still finds
// the loss (the watermark is untouched) and resets nothing twice.
func accept(ctx context.Context, js jetstream.JetStream, findings []Finding, in Inputs, opts GuardOptions, log zerolog.Logger) error {
	byStream := map[string]*events.LogLossAccepted{}
	var order []string
	readModels := false
	for _, f := range findings {
		ev := byStream[f.Stream]
		if ev == nil {
			ev = &events.LogLossAccepted{Stream: f.Stream}
			byStream[f.Stream] = ev
			order = append(order, f.Stream)
		}
		ev.Lost = append(ev.Lost, f.Lost...)
		ev.Reasons = append(ev.Reasons, f.Reason)
		// nats-server pulls a consumer's floors back to a cut stream's end
		// when it recovers (consumer.reconcileStateWithStream), without a
		// word, so a node consumer that acted on lost decisions cannot be
		// told from one that did not: every node consumer of a damaged
		// decisions stream is reset.
		consumers := slices.Clone(f.Consumers)
		if f.Stream == events.StreamDecisions {
			for _, fl := range in.Floors {
				if fl.Stream == f.Stream && fl.Consumer != "" {
					consumers = append(consumers, fl.Consumer)
				}
			}
		}
		slices.Sort(consumers)
		for _, c := range slices.Compact(consumers) {
			if slices.Contains(ev.ResetReaders, "node consumer "+c+" deleted") {
				continue
			}
			err := js.DeleteConsumer(ctx, f.Stream, c)
			if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return fmt.Errorf("reset node consumer %s: %w", c, err)
			}
			log.Warn().Str("consumer", c).Str("stream", f.Stream).
				Msg("node consumer had seen lost sequences: deleted; its agent makes it again and reads the newest decision of each of its pods")
			ev.ResetReaders = append(ev.ResetReaders, "node consumer "+c+" deleted")
		}
		if f.Stream != events.StreamIntents {
			readModels = true // the projector folds decisions and observations
		}
	}
	if readModels {
		for _, b := range []string{bus.BucketProjector, bus.BucketPods, bus.BucketNodes, bus.BucketWorkloads} {
			err := js.DeleteKeyValue(ctx, b)
			if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
				return fmt.Errorf("reset read model %s: %w", b, err)
			}
		}
		log.Warn().Msg("read models deleted: the projector rebuilds them from the log")
		for _, s := range order {
			if s != events.StreamIntents {
				byStream[s].ResetReaders = append(byStream[s].ResetReaders, "read models (gantry_projector, gantry_pods, gantry_nodes, gantry_workloads) deleted, rebuilt by replay")
			}
		}
	}
	// The streams exist for the record (one may have been lost whole).
	if err := bus.Provision(ctx, js, 1); err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, s := range order {
		ev := byStream[s]
		ev.Lost = merge(ev.Lost)
		last, err := bus.LastSeq(ctx, js, s)
		if err != nil {
			return err
		}
		ev.LastSeq = last
		key := fmt.Sprintf("lossaccepted/%s/%d/%s", s, last, Ranges(ev.Lost))
		env, err := events.Seal(ev, events.Meta{ID: events.DeriveID(key), Source: opts.Source, Subject: s,
			Time: now, Actor: opts.Actor})
		if err != nil {
			return err
		}
		b, err := env.Marshal()
		if err != nil {
			return err
		}
		m := nats.NewMsg(events.LogSubject(s))
		m.Data = b
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(key)); err != nil {
			return fmt.Errorf("record the loss of %s: %w", s, err)
		}
		log.Warn().Str("stream", s).Str("lost", Ranges(ev.Lost)).Str("actor", opts.Actor).
			Msg("log loss accepted and recorded in the log (" + events.TypeLogLossAccepted + ")")
	}
	return nil
}

// merge sorts ranges and joins those that overlap or touch.
func merge(rs []events.SeqRange) []events.SeqRange {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b events.SeqRange) int { return cmp.Compare(a.From, b.From) })
	var out []events.SeqRange
	for _, r := range rs {
		if n := len(out); n > 0 && r.From <= out[n-1].To+1 {
			out[n-1].To = max(out[n-1].To, r.To)
			continue
		}
		out = append(out, r)
	}
	return out
}
