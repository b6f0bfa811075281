// Package cronjob decides when a CronJob's Jobs are due. This file is its
// time arithmetic, done as Kubernetes' CronJob controller (v2) does it: pure,
// with the current time passed in, never read.
package cronjob

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// MaxMissed bounds the counting of missed times: Due reports MaxMissed+1
// for "more than MaxMissed", and the caller warns as Kubernetes does ("too
// many missed start times: set or decrease startingDeadlineSeconds or check
// clock skew"). A controller down over a weekend misses about 60 hourly
// runs; more than 100 means a long outage, a wrong clock or a schedule too
// fine for its deadline, and counting them exactly is not worth the work.
const MaxMissed = 100

// MaxNameLength is the longest CronJob name. A Job is named
// <cronjob>-<minutes since the epoch> and must be a DNS-1123 label of at
// most 63 characters; the suffix is a dash and up to 10 digits (minutes
// since 1970 stay below 10^10 until the year 20983), so the CronJob keeps
// 63 - 11 = 52, the limit Kubernetes sets for the same reason. Raising it
// lets a valid CronJob stamp out Jobs whose names are refused. Admission
// refuses a longer name (manifest.MaxCronJobNameLength is the one number).
const MaxNameLength = manifest.MaxCronJobNameLength

// Due is the time a CronJob should start a Job for, if any.
//
// earliest is the later of the CronJob's creation time and its last
// scheduled time: times at or before it are done. at is the most recent
// scheduled time t with earliest < t <= now, or the zero time if there is
// none. missed is how many scheduled times fall in (earliest, now]: only
// at runs, so missed-1 are skipped (at most one catch-up, as in
// Kubernetes); it stops at MaxMissed+1. The cost is bounded whatever the
// gap: past MaxMissed times the most recent one is found by bisection, not
// by walking through a year of minutes.
//
// With a starting deadline, only times after now-deadline may still start,
// and missed counts only those. If at is older than that (at <=
// now-deadline), tooLate is true: at is reported so the caller records it
// as missed (and as the last scheduled time), not run; missed then counts
// every time in (earliest, now], all of them lost.
//
// Worked example, hourly ("0 * * * *"), last scheduled 09:00, the
// controller down from 09:30 to 12:40: now = 12:40, times in (09:00,
// 12:40] are 10:00, 11:00 and 12:00, so at = 12:00, missed = 3: the 12:00
// Job runs, 10:00 and 11:00 are skipped. With a 30-minute deadline, 12:00
// is 40 minutes late: at = 12:00, missed = 3, tooLate, nothing runs and the
// next chance is 13:00. With a 1-hour deadline, 12:00 still starts, and
// missed = 1 (10:00 and 11:00 fell behind the deadline uncounted).
func Due(s manifest.Schedule, earliest, now time.Time, startingDeadline *time.Duration) (at time.Time, missed int, tooLate bool) {
	at, missed = latest(s, earliest, now)
	if at.IsZero() || startingDeadline == nil {
		return at, missed, false
	}
	cutoff := now.Add(-*startingDeadline)
	if !at.After(cutoff) {
		return at, missed, true
	}
	if cutoff.After(earliest) {
		missed = min(missed, countAfter(s, cutoff, at))
	}
	return at, missed, false
}

// NextAfter is the first scheduled time after t, in UTC, for requeueing:
// pass at from Due, or earliest when Due found nothing, and the result is
// after now. (An @every schedule counts its interval from t, so t must be
// a scheduled time or the creation time, never now.) The zero time means
// the schedule never fires again.
func NextAfter(s manifest.Schedule, t time.Time) time.Time {
	return s.Next(t)
}

// JobName is the Job a CronJob starts for a scheduled time, named as
// Kubernetes names it: <cronjob>-<minutes since the epoch>. Equal inputs
// give equal names, so a Job is never created twice for one time.
func JobName(cronJobName string, scheduled time.Time) string {
	return cronJobName + "-" + strconv.FormatInt(minutes(scheduled), 10)
}

// RunID identifies one run of a CronJob: its uid and the scheduled minute,
// so a controller restarted mid-decision derives the same id and the log
// refuses the duplicate instead of running one schedule twice. Minutes, like
// JobName, so ids and names correspond one to one; an @every schedule
// finer than a minute therefore runs at most once a minute (in Kubernetes
// the second Job of a minute fails to create, its name taken).
func RunID(cronJobUID string, scheduled time.Time) string {
	return events.DeriveID(fmt.Sprintf("cronjob/%s/run/%d", cronJobUID, minutes(scheduled)))
}

func minutes(t time.Time) int64 { return t.Unix() / 60 }

// latest is the most recent scheduled time in (after, upTo] and how many
// there are, the count stopping at MaxMissed+1; zero and 0 if none.
func latest(s manifest.Schedule, after, upTo time.Time) (time.Time, int) {
	if !upTo.After(after) {
		return time.Time{}, 0
	}
	if d, ok := s.Every(); ok {
		return latestEvery(s.Next(after), d, upTo)
	}
	var last time.Time
	n := 0
	for t := s.Next(after); fires(t, upTo); t = s.Next(t) {
		if n == MaxMissed {
			return bisect(s, last, upTo), MaxMissed + 1
		}
		last, n = t, n+1
	}
	return last, n
}

// fires reports whether t, a result of Next, is a time at or before upTo
// (Next's zero time means never).
func fires(t, upTo time.Time) bool { return !t.IsZero() && !t.After(upTo) }

// bisect is the most recent scheduled time at or before upTo, given lo
// with a scheduled time after it and at or before upTo. Next is monotonic,
// so "Next(x) <= upTo" holds for x below the answer and fails from it on;
// halving [lo, upTo] in whole seconds (scheduled times are whole seconds)
// takes about 25 calls of Next for a year, 35 for a millennium.
func bisect(s manifest.Schedule, lo, upTo time.Time) time.Time {
	l, h := lo.Unix(), upTo.Unix()
	for h-l > 1 {
		m := l + (h-l)/2
		if fires(s.Next(time.Unix(m, 0)), upTo) {
			l = m
		} else {
			h = m
		}
	}
	// The answer A fires after l and Next(h) does not fire, so l < A <= h;
	// with h-l = 1 s, A is the first whole second after l: Next(l).
	return s.Next(time.Unix(l, 0))
}

// latestEvery is latest for an @every schedule, whose times are a chain
// first, first+d, first+2d, … from the first time after earliest (as
// Kubernetes anchors it): counted by division, not by walking.
func latestEvery(first time.Time, d time.Duration, upTo time.Time) (time.Time, int) {
	if first.IsZero() || first.After(upTo) {
		return time.Time{}, 0
	}
	k := int64(upTo.Sub(first) / d)
	return first.Add(time.Duration(k) * d), int(min(k+1, MaxMissed+1))
}

// countAfter is how many scheduled times lie in (cutoff, at], at being a
// scheduled time after cutoff; stops at MaxMissed+1.
func countAfter(s manifest.Schedule, cutoff, at time.Time) int {
	if d, ok := s.Every(); ok {
		// The chain through at, back to cutoff: at, at-d, … > cutoff.
		k := int64((at.Sub(cutoff) - 1) / d)
		return int(min(k+1, MaxMissed+1))
	}
	_, n := latest(s, cutoff, at)
	return n
}
