package node

import (
	"strings"
	"time"
)

// Backoff is the restart back-off of one container: how many times in a row
// it failed, when it may start again, and why it waits (the Waiting reason
// and message its status shows meanwhile).
type Backoff struct {
	Failures int
	Until    time.Time
	Reason   string
	Message  string
}

// backoffPolicy bounds restarts as Kubernetes does: the first restart of a
// crashed container is at once, each one after waits Base doubled per
// failure, at most Max; a container that ran Reset before it exited starts
// over (Config.BackoffBase, BackoffMax, BackoffReset).
type backoffPolicy struct {
	Base, Max, Reset time.Duration
}

// fail records a failed start or an exit at now and pushes the next start out.
func (p backoffPolicy) fail(bk Backoff, now time.Time, reason, msg string) Backoff {
	d := p.Base << min(bk.Failures, 16)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return Backoff{Failures: bk.Failures + 1, Until: now.Add(d), Reason: reason, Message: msg}
}

// after is the back-off of a container that exited after a run of ran:
// none once it ran Reset.
func (p backoffPolicy) after(bk Backoff, ran time.Duration) Backoff {
	if p.Reset > 0 && ran >= p.Reset {
		return Backoff{}
	}
	return bk
}

// holds says whether the back-off keeps a container from starting at now.
func (bk Backoff) holds(now time.Time) bool { return now.Before(bk.Until) }

// containerKey names one container of one pod uid: the key of the back-off
// and probe maps.
func containerKey(uid, container string) string { return uid + "/" + container }

// forgetPod drops the back-off of every container of pod uid.
func forgetPod(m map[string]Backoff, uid string) {
	for k := range m {
		if strings.HasPrefix(k, uid+"/") {
			delete(m, k)
		}
	}
}
