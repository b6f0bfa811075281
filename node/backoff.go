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

// backoffPolicy bounds restarts: Base doubled per failure, at most Max
// (Config.BackoffBase, Config.BackoffMax).
type backoffPolicy struct {
	Base, Max time.Duration
}

// fail records a failed start or an exit at now and pushes the next start out.
func (p backoffPolicy) fail(bk Backoff, now time.Time, reason, msg string) Backoff {
	d := p.Base << min(bk.Failures, 16)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	return Backoff{Failures: bk.Failures + 1, Until: now.Add(d), Reason: reason, Message: msg}
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
