package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// reportTimeout bounds how long one reconcile waits for the log to store its
// reports; what is not stored by then is reported again, with the same ids,
// by the next reconcile.
const reportTimeout = 10 * time.Second

// StatusID is the envelope id and Nats-Msg-Id of a pod status report. It is
// derived from what the report says, not from when it is made: the node, the
// pod's uid and binding epoch, a hash of the status, and the id of the report
// it follows (after: the last report of the pod the log stored, "" for the
// first). A report made again because the first attempt timed out is
// therefore the same message, and the stream's duplicate window drops it.
// after keeps a status that comes back (A, then B, then A again) from being
// taken for a retry of the first A.
func StatusID(node string, st *events.PodStatusObserved, after string) (string, error) {
	b, err := events.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("status of %s/%s: %w", st.Namespace, st.Name, err)
	}
	return statusID(node, st.UID, st.Epoch, b, after), nil
}

func statusID(node, uid string, epoch int64, status []byte, after string) string {
	return events.DeriveID(fmt.Sprintf("status/%s/%s/%d/%x/%s", node, uid, epoch, sha256.Sum256(status), after))
}

// RemovalID is the envelope id and Nats-Msg-Id of the report that a node
// removed a pod: a pod's uid is removed from a node once.
func RemovalID(node, uid string, epoch int64) string {
	return events.DeriveID(fmt.Sprintf("removed/%s/%s/%d", node, uid, epoch))
}

// reported is the last report of a pod the log stored.
type reported struct {
	status string // JSON of the PodStatusObserved
	id     string
}

// report is one observation a reconcile wants stored, and what the agent
// remembers once it is.
type report struct {
	out bus.Outgoing
	key string // ns/name
	uid string
	// status is the JSON of a PodStatusObserved; empty for a PodRemoved.
	status string
	// forget, on a removal, is the deleted binding to drop once the
	// removal is stored.
	forget *binding
	// phase and ip are for the log.
	phase, ip string
}

// statusReport returns the report of a pod's status, or false when the log
// already holds this status as the pod's newest.
func (a *Agent) statusReport(b *binding, st *events.PodStatusObserved) (report, bool, error) {
	k := key(st.Namespace, st.Name)
	js, err := events.Marshal(st)
	if err != nil {
		return report{}, false, fmt.Errorf("status of %s: %w", k, err)
	}
	a.rmu.Lock()
	last := a.published[k]
	a.rmu.Unlock()
	if last.status == string(js) {
		return report{}, false, nil
	}
	id := statusID(a.cfg.Name, st.UID, st.Epoch, js, last.id)
	out, err := a.outgoing(events.ObsPodSubject(a.cfg.Name, st.Namespace, st.Name), st, b.env, k, id)
	if err != nil {
		return report{}, false, err
	}
	return report{out: out, key: k, uid: st.UID, status: string(js), phase: st.Phase, ip: st.PodIP}, true, nil
}

// removalReport returns the report that a pod was removed.
func (a *Agent) removalReport(ns, name, uid string, epoch int64, cause events.Envelope, forget *binding) (report, error) {
	k := key(ns, name)
	out, err := a.outgoing(events.ObsPodSubject(a.cfg.Name, ns, name),
		&events.PodRemoved{Namespace: ns, Name: name, UID: uid, Node: a.cfg.Name, Epoch: epoch}, cause, k, RemovalID(a.cfg.Name, uid, epoch))
	if err != nil {
		return report{}, err
	}
	return report{out: out, key: k, uid: uid, forget: forget}, nil
}

// outgoing seals an observation caused by cause under id.
func (a *Agent) outgoing(subject string, ev events.Event, cause events.Envelope, object, id string) (bus.Outgoing, error) {
	m := cause.Caused(id, "node/"+a.cfg.Name, object, a.cfg.Clock())
	if cause.ID == "" {
		m.CorrelationID = ""
	}
	env, err := events.Seal(ev, m)
	if err != nil {
		return bus.Outgoing{}, err
	}
	return bus.Outgoing{Subject: subject, Envelope: env, MsgID: id}, nil
}

// publishReports stores one reconcile's reports, each run of up to
// bus.MaxBatch at once. It hands them to the control plane's ingest
// (services/ingest), which stores many nodes' reports in one write. When no
// ingest runs, the agent stores them itself, in one atomic batch (one round
// trip, one fsync). A batch the
// server refuses whole because one of its ids is already stored (an earlier
// attempt that landed after its publisher gave up) or because it has too
// many batches open goes out message by message instead, and the duplicate
// window drops what is stored. A report is remembered only once stored;
// the rest are made again, with the same ids, by the next reconcile.
//
// It returns the deleted bindings whose removal is now stored, for the
// reconcile to drop (it owns the desired state).
func (a *Agent) publishReports(ctx context.Context, rs []report) (forget []report) {
	if len(rs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	for len(rs) > 0 {
		chunk := rs[:min(len(rs), bus.MaxBatch)]
		rs = rs[len(chunk):]
		out := make([]bus.Outgoing, len(chunk))
		for i, r := range chunk {
			out[i] = r.out
		}
		// The control plane's ingest stores many nodes' reports in one
		// write; without one, the agent stores its own.
		res, err := bus.Ingest(ctx, a.conn.NC, events.IngestSubject(a.cfg.Name), out)
		if err == nil {
			forget = append(forget, a.results(chunk, res)...)
			continue
		}
		if !errors.Is(err, bus.ErrNoIngest) {
			a.log.Warn().Err(err).Int("reports", len(chunk)).Msg("reports not stored; will report again")
			continue
		}
		if len(chunk) >= bus.MinAtomicBatch {
			_, _, err = bus.PublishAtomic(ctx, a.conn.JS, out)
			if err == nil {
				for _, r := range chunk {
					if a.stored(r) {
						forget = append(forget, r)
					}
				}
				continue
			}
			if !errors.Is(err, bus.ErrDuplicate) && !errors.Is(err, bus.ErrBusy) {
				a.log.Warn().Err(err).Int("reports", len(chunk)).Msg("reports not stored; will report again")
				continue
			}
			a.log.Debug().Err(err).Int("reports", len(chunk)).Msg("batch refused; reporting one by one")
		}
		// A few reports, or a refused batch: one by one, asynchronously
		// (their ids make a retry harmless).
		res, err = bus.Publish(ctx, a.conn.JS, out)
		if err != nil {
			a.log.Warn().Err(err).Int("reports", len(chunk)).Msg("reports not stored; will report again")
		}
		forget = append(forget, a.results(chunk, res)...)
	}
	return forget
}

// results remembers the reports the log stored (now or before) and returns
// the removals among them.
func (a *Agent) results(chunk []report, res []bus.Result) (forget []report) {
	for i, x := range res {
		switch {
		case x.Err == nil && x.Seq > 0:
			if a.stored(chunk[i]) {
				forget = append(forget, chunk[i])
			}
		case x.Err != nil:
			a.log.Warn().Err(x.Err).Str("pod", chunk[i].key).Msg("report not stored; will report again")
		}
	}
	return forget
}

// reportQueue group-commits one reconcile's reports: one writer publishes
// whatever has gathered while its previous write was in flight, or within
// Config.ReportGather of the first.
type reportQueue struct {
	a      *Agent
	ctx    context.Context
	once   sync.Once
	ch     chan report
	done   chan struct{}
	forget []report // removals stored: their deleted bindings go (see close)
}

// startReports makes the queue of one reconcile's reports; its writer
// starts with the first report (most reconciles have none).
func (a *Agent) startReports(ctx context.Context) *reportQueue {
	return &reportQueue{a: a, ctx: ctx}
}

func (q *reportQueue) write() {
	defer close(q.done)
	for r := range q.ch {
		// Gather what comes within ReportGather of the first report (a
		// burst of pods coming up together), then write it.
		batch := []report{r}
		window := time.NewTimer(q.a.cfg.ReportGather)
	gather:
		for len(batch) < bus.MaxBatch {
			select {
			case r, ok := <-q.ch:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-window.C:
				break gather
			}
		}
		window.Stop()
		q.forget = append(q.forget, q.a.publishReports(q.ctx, batch)...)
	}
}

// send hands a report to the writer. Workers call it concurrently.
func (q *reportQueue) send(r report) {
	q.once.Do(func() {
		q.ch, q.done = make(chan report, 16), make(chan struct{})
		go q.write()
	})
	q.ch <- r
}

// close waits until every report sent is written (or given up on) and
// returns the removals stored. Called once, after the last send.
func (q *reportQueue) close() []report {
	if q.ch == nil {
		return nil
	}
	close(q.ch)
	<-q.done
	return q.forget
}

// stored remembers a report the log holds; forget says the report removes
// a deleted binding the reconcile should now drop.
func (a *Agent) stored(r report) (forget bool) {
	a.rmu.Lock()
	if r.status != "" {
		a.published[r.key] = reported{status: r.status, id: r.out.MsgID}
		delete(a.removed, r.key)
	} else {
		a.removed[r.key] = r.uid
		delete(a.published, r.key)
	}
	a.rmu.Unlock()
	if r.status != "" {
		a.log.Info().Str("pod", r.key).Str("phase", r.phase).Str("ip", r.ip).Msg("pod status")
	} else {
		a.log.Info().Str("pod", r.key).Str("uid", r.uid).Msg("pod removed")
	}
	return r.forget != nil
}
