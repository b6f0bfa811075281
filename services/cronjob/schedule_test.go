package cronjob

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events/manifest"
)

func schedule(t testing.TB, spec string, zone *string) manifest.Schedule {
	t.Helper()
	s, err := manifest.ParseSchedule(spec, zone)
	if err != nil {
		t.Fatalf("ParseSchedule(%q): %v", spec, err)
	}
	return s
}

func utc(y int, mo time.Month, d, h, mi, sec int) time.Time {
	return time.Date(y, mo, d, h, mi, sec, 0, time.UTC)
}

func TestDue(t *testing.T) {
	ny, kolkata := "America/New_York", "Asia/Kolkata"
	for _, tc := range []struct {
		name          string
		spec          string
		zone          *string
		earliest, now time.Time
		deadline      time.Duration // 0: none
		wantAt        time.Time     // zero: nothing due
		wantMissed    int
		wantTooLate   bool
	}{
		// Hourly, last run 09:00. At 09:30 nothing is due; at 10:00 sharp
		// the 10:00 run is (the window is (earliest, now]).
		{name: "hourly, between runs", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 9, 30, 0)},
		{name: "hourly, on the hour", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 10, 0, 0),
			wantAt: utc(2025, 6, 15, 10, 0, 0), wantMissed: 1},
		{name: "nothing after earliest == now", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 10, 0, 0), now: utc(2025, 6, 15, 10, 0, 0)},
		// Created at 09:59:59.5: the 10:00 run is the first.
		{name: "created just before", spec: "0 * * * *",
			earliest: time.Date(2025, 6, 15, 9, 59, 59, 5e8, time.UTC), now: utc(2025, 6, 15, 10, 0, 1),
			wantAt: utc(2025, 6, 15, 10, 0, 0), wantMissed: 1},
		// Down from 09:30 to 12:40 on an hourly schedule: 10:00, 11:00 and
		// 12:00 were due; one catch-up (12:00), missed = 3.
		{name: "down 3 hours, one catch-up", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 12, 40, 0),
			wantAt: utc(2025, 6, 15, 12, 0, 0), wantMissed: 3},
		// Same, deadline 30 m: 12:00 is 40 m late, so it is recorded as
		// missed and nothing runs.
		{name: "starting deadline exceeded", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 12, 40, 0), deadline: 30 * time.Minute,
			wantAt: utc(2025, 6, 15, 12, 0, 0), wantMissed: 3, wantTooLate: true},
		// Deadline 1 h: 12:00 still starts; 10:00 and 11:00 are behind the
		// deadline (12:40 - 1 h = 11:40) and not counted.
		{name: "within the starting deadline", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 12, 40, 0), deadline: time.Hour,
			wantAt: utc(2025, 6, 15, 12, 0, 0), wantMissed: 1},
		// Deadline 3 h reaches back to 09:40: all three count.
		{name: "deadline wider than the gap", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 12, 40, 0), deadline: 3 * time.Hour,
			wantAt: utc(2025, 6, 15, 12, 0, 0), wantMissed: 3},
		// Exactly deadline late (12:00 + 40 m = now): behind the window
		// (now-deadline, now], too late.
		{name: "exactly at the deadline", spec: "0 * * * *",
			earliest: utc(2025, 6, 15, 11, 0, 0), now: utc(2025, 6, 15, 12, 40, 0), deadline: 40 * time.Minute,
			wantAt: utc(2025, 6, 15, 12, 0, 0), wantMissed: 1, wantTooLate: true},
		// @every 90m counts from the creation time (09:10:30.7, truncated
		// to the second): 10:40:30, 12:10:30, 13:40:30 …; at 13:00 the
		// 12:10:30 run is due and 10:40:30 was missed.
		{name: "@every", spec: "@every 90m",
			earliest: time.Date(2025, 6, 15, 9, 10, 30, 7e8, time.UTC), now: utc(2025, 6, 15, 13, 0, 0),
			wantAt: utc(2025, 6, 15, 12, 10, 30), wantMissed: 2},
		{name: "@every, deadline exceeded", spec: "@every 90m",
			earliest: utc(2025, 6, 15, 9, 10, 30), now: utc(2025, 6, 15, 13, 0, 0), deadline: 30 * time.Minute,
			wantAt: utc(2025, 6, 15, 12, 10, 30), wantMissed: 2, wantTooLate: true},
		// @every 10m from 09:00: 09:10 … 10:00 were due by 10:05; a
		// 25-minute deadline reaches back to 09:40 (excluded), so 09:50
		// and 10:00 count.
		{name: "@every, within deadline", spec: "@every 10m",
			earliest: utc(2025, 6, 15, 9, 0, 0), now: utc(2025, 6, 15, 10, 5, 0), deadline: 25 * time.Minute,
			wantAt: utc(2025, 6, 15, 10, 0, 0), wantMissed: 2},
		// 09:00 daily in Kolkata (+05:30) is 03:30 UTC. Created 14 June
		// 00:00 UTC, looked at 15 June 04:00 UTC: 14 and 15 June 03:30 UTC
		// were due.
		{name: "Asia/Kolkata", spec: "0 9 * * *", zone: &kolkata,
			earliest: utc(2025, 6, 14, 0, 0, 0), now: utc(2025, 6, 15, 4, 0, 0),
			wantAt: utc(2025, 6, 15, 3, 30, 0), wantMissed: 2},
		// New York springs forward on 9 March 2025: 02:00 EST becomes
		// 03:00 EDT, so 02:30 does not exist that day. robfig skips it (it
		// neither runs at 03:00 nor at 03:30): from 8 March 02:30 EST
		// (07:30 UTC) to 10 March 03:00 EDT (07:00 UTC) only 10 March
		// 02:30 EDT (06:30 UTC) was due.
		{name: "DST spring-forward skips a time that does not exist", spec: "30 2 * * *", zone: &ny,
			earliest: utc(2025, 3, 8, 7, 30, 0), now: utc(2025, 3, 10, 7, 0, 0),
			wantAt: utc(2025, 3, 10, 6, 30, 0), wantMissed: 1},
		// New York falls back on 2 November 2025: 02:00 EDT becomes 01:00
		// EST, so 01:30 happens twice. robfig runs both: 01:30 EDT (05:30
		// UTC) and 01:30 EST (06:30 UTC), an hour apart.
		{name: "DST fall-back runs a repeated time twice", spec: "30 1 * * *", zone: &ny,
			earliest: utc(2025, 11, 1, 5, 30, 0), now: utc(2025, 11, 2, 7, 0, 0),
			wantAt: utc(2025, 11, 2, 6, 30, 0), wantMissed: 2},
		// A year of downtime on "every minute": 525,600 times were due.
		// Counting stops past MaxMissed (reported as 101) and the most
		// recent is found by bisection.
		{name: "a year down, every minute", spec: "* * * * *",
			earliest: utc(2025, 1, 1, 0, 0, 0), now: utc(2026, 1, 1, 0, 0, 30),
			wantAt: utc(2026, 1, 1, 0, 0, 0), wantMissed: MaxMissed + 1},
		{name: "a year down, every minute, deadline 5 m", spec: "* * * * *",
			earliest: utc(2025, 1, 1, 0, 0, 0), now: utc(2026, 1, 1, 0, 0, 30), deadline: 5 * time.Minute,
			wantAt: utc(2026, 1, 1, 0, 0, 0), wantMissed: 5},
		{name: "a year down, every minute, deadline 10 s", spec: "* * * * *",
			earliest: utc(2025, 1, 1, 0, 0, 0), now: utc(2026, 1, 1, 0, 0, 30), deadline: 10 * time.Second,
			wantAt: utc(2026, 1, 1, 0, 0, 0), wantMissed: MaxMissed + 1, wantTooLate: true},
		{name: "a year down, @every 1m", spec: "@every 1m",
			earliest: utc(2025, 1, 1, 0, 0, 0), now: utc(2026, 1, 1, 0, 0, 30),
			wantAt: utc(2026, 1, 1, 0, 0, 0), wantMissed: MaxMissed + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var deadline *time.Duration
			if tc.deadline != 0 {
				deadline = &tc.deadline
			}
			at, missed, tooLate := Due(schedule(t, tc.spec, tc.zone), tc.earliest, tc.now, deadline)
			if !at.Equal(tc.wantAt) || missed != tc.wantMissed || tooLate != tc.wantTooLate {
				t.Errorf("Due = %v, %d, %v; want %v, %d, %v", at, missed, tooLate, tc.wantAt, tc.wantMissed, tc.wantTooLate)
			}
			if !at.IsZero() && at.Location() != time.UTC {
				t.Errorf("at %v is not in UTC", at)
			}
		})
	}
}

// NextAfter from what Due returned is after now: the requeue time.
func TestNextAfter(t *testing.T) {
	ny := "America/New_York"
	for _, tc := range []struct {
		name string
		spec string
		zone *string
		from time.Time
		want time.Time
	}{
		{"hourly", "0 * * * *", nil, utc(2025, 6, 15, 12, 0, 0), utc(2025, 6, 15, 13, 0, 0)},
		// From 8 March 02:30 EST the next 02:30 is on the 10th: none on the 9th.
		{"spring-forward", "30 2 * * *", &ny, utc(2025, 3, 8, 7, 30, 0), utc(2025, 3, 10, 6, 30, 0)},
		// From 01:30 EDT on 2 November the next is 01:30 EST, an hour later.
		{"fall-back", "30 1 * * *", &ny, utc(2025, 11, 2, 5, 30, 0), utc(2025, 11, 2, 6, 30, 0)},
		{"@every", "@every 90m", nil, utc(2025, 6, 15, 12, 10, 30), utc(2025, 6, 15, 13, 40, 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextAfter(schedule(t, tc.spec, tc.zone), tc.from); !got.Equal(tc.want) {
				t.Errorf("NextAfter = %v, want %v", got, tc.want)
			}
		})
	}
}

// Due agrees with walking every time one by one, for schedules regular and
// not, across DST changes, with and without deadlines; the walk is the
// definition, Due's bisection and division the shortcut.
func TestDueMatchesWalk(t *testing.T) {
	ny, kolkata, chatham := "America/New_York", "Asia/Kolkata", "Pacific/Chatham"
	specs := []struct {
		spec string
		zone *string
	}{
		{"*/7 * * * *", &ny},
		{"15 * * * *", &ny},        // hourly across DST changes, often past MaxMissed
		{"30 6-16/4 * * 1-5", nil}, // irregular gaps: Kubernetes' example
		{"30 1 * * *", &ny},
		{"30 2 * * *", &ny},
		{"0 9 * * *", &kolkata},
		{"45 2 * * 0", &chatham},
		{"0 0 1,15 * *", nil},
		{"@every 13m", nil},
		{"@every 25h", &ny},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := utc(2024, 1, 1, 0, 0, 0)
	for _, sp := range specs {
		s := schedule(t, sp.spec, sp.zone)
		for range 100 {
			earliest := base.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour))))
			// Gaps from a minute to 90 days, log-uniform: most short,
			// some long enough for more than MaxMissed.
			now := earliest.Add(time.Duration(math.Exp(rng.Float64()*math.Log(float64(90*24*time.Hour)/float64(time.Minute))) * float64(time.Minute)))
			var deadline *time.Duration
			if rng.IntN(2) == 0 {
				d := time.Duration(rng.Int64N(int64(48 * time.Hour)))
				deadline = &d
			}
			at, missed, tooLate := Due(s, earliest, now, deadline)
			wAt, wMissed, wTooLate := walk(s, earliest, now, deadline)
			if !at.Equal(wAt) || missed != wMissed || tooLate != wTooLate {
				t.Fatalf("%s: Due(%v, %v, %v) = %v, %d, %v; walking gives %v, %d, %v",
					sp.spec, earliest, now, deadline, at, missed, tooLate, wAt, wMissed, wTooLate)
			}
		}
	}
}

// walk is Due by brute force: every time in (earliest, now], one by one.
func walk(s manifest.Schedule, earliest, now time.Time, deadline *time.Duration) (time.Time, int, bool) {
	var times []time.Time
	for t := s.Next(earliest); !t.IsZero() && !t.After(now); t = s.Next(t) {
		times = append(times, t)
	}
	if len(times) == 0 {
		return time.Time{}, 0, false
	}
	at := times[len(times)-1]
	n := len(times)
	if deadline != nil {
		cutoff := now.Add(-*deadline)
		if !at.After(cutoff) {
			return at, min(n, MaxMissed+1), true
		}
		n = 0
		for _, t := range times {
			if t.After(cutoff) {
				n++
			}
		}
	}
	return at, min(n, MaxMissed+1), false
}

// Decades of downtime on the finest schedule stay cheap: no walk through
// millions of minutes.
func TestDueBounded(t *testing.T) {
	s := schedule(t, "* * * * *", nil)
	start := time.Now()
	at, missed, _ := Due(s, utc(1990, 1, 1, 0, 0, 0), utc(2030, 6, 1, 12, 34, 56), nil)
	if !at.Equal(utc(2030, 6, 1, 12, 34, 0)) || missed != MaxMissed+1 {
		t.Errorf("Due = %v, %d", at, missed)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestJobName(t *testing.T) {
	// 2025-06-15 10:00 UTC is Unix 1749981600, 29166360 minutes.
	at := utc(2025, 6, 15, 10, 0, 0)
	if got := JobName("backup", at); got != "backup-29166360" {
		t.Errorf("JobName = %q", got)
	}
	// The same instant in another zone, or seconds later in the minute: same name.
	kolkata, _ := time.LoadLocation("Asia/Kolkata")
	if JobName("backup", at.In(kolkata)) != JobName("backup", at.Add(59*time.Second)) {
		t.Error("the name depends on the zone or the second")
	}
	// The longest CronJob name, scheduled as late as 10 digits of minutes
	// allow, still gives a 63-character label.
	long := strings.Repeat("a", MaxNameLength)
	if n := len(JobName(long, time.Unix(9_999_999_999*60, 0))); n != 63 {
		t.Errorf("len = %d, want 63", n)
	}
}

func TestRunID(t *testing.T) {
	at := utc(2025, 6, 15, 10, 0, 0)
	id := RunID("c0ffee", at)
	if id != RunID("c0ffee", at.Add(30*time.Second)) {
		t.Error("a run's id changes within its minute")
	}
	if id == RunID("c0ffee", at.Add(time.Minute)) || id == RunID("decaf", at) {
		t.Error("distinct runs share an id")
	}
	if len(id) != 36 {
		t.Errorf("id %q is not uuid-shaped", id)
	}
}
