package manifest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	// Time zones work on hosts without /usr/share/zoneinfo (distroless
	// images, minimal containers): the IANA database is compiled in
	// (Go documents about 450 KB) and used when the system's is missing.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// MaxScheduleLength bounds spec.schedule. Kubernetes sets no limit; a
// schedule is five short fields, and 1024 bytes leaves room for long
// comma lists while keeping absurd input out of the parser.
const MaxScheduleLength = 1024

// Schedule is a CronJob's parsed spec.schedule in its spec.timeZone. The
// zero Schedule is not usable; make one with ParseSchedule.
type Schedule struct {
	sched cron.Schedule
	loc   *time.Location
}

// scheduleFields names the five fields of a standard schedule, in order.
var scheduleFields = [5]string{"minute", "hour", "day of month", "month", "day of week"}

// ParseSchedule parses a CronJob's schedule and time zone as Kubernetes
// accepts them (robfig/cron's ParseStandard, the parser Kubernetes uses):
// five fields (minute hour day-of-month month day-of-week) or a descriptor
// (@yearly @annually @monthly @weekly @daily @midnight @hourly, @every
// <duration>). A time zone inside the schedule (TZ=, CRON_TZ=) is refused,
// as Kubernetes does since timeZone became a field. A nil timeZone is UTC
// (Kubernetes uses the controller manager's local zone; Gantry's control
// plane has none to offer). An invalid schedule's error names the field at
// fault: `minute (field 1) "61": end of range (61) above maximum (59)`.
func ParseSchedule(schedule string, timeZone *string) (Schedule, error) {
	loc, err := loadTimeZone(timeZone)
	if err != nil {
		return Schedule{}, err
	}
	switch {
	case strings.TrimSpace(schedule) == "":
		return Schedule{}, errors.New("empty schedule")
	case len(schedule) > MaxScheduleLength:
		return Schedule{}, fmt.Errorf("must be no more than %d bytes, got %d", MaxScheduleLength, len(schedule))
	case strings.Contains(schedule, "TZ="):
		// Checked before robfig sees it: its own TZ= handling would load
		// the zone, and v3.0.1 panics on "TZ=UTC" without a space.
		return Schedule{}, errors.New("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	}
	sched, err := parseStandard(schedule)
	if err != nil {
		return Schedule{}, explainScheduleError(schedule, err)
	}
	s := Schedule{sched: sched, loc: loc}
	// A schedule can be well-formed and name no real date ("0 0 30 2 *");
	// robfig's Next then finds nothing within five years and returns the
	// zero time. From a fixed instant, so the answer never depends on the
	// clock: every real date, 29 February included, comes within five years.
	if s.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, errors.New("never fires: no date matches its day of month, month and day of week")
	}
	return s, nil
}

// parseStandard is cron.ParseStandard with a panic in the parser turned
// into an error: the schedule is user input, and admission must not crash
// on it.
func parseStandard(schedule string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("unparseable schedule: %v", r)
		}
	}()
	return cron.ParseStandard(schedule)
}

// loadTimeZone is spec.timeZone's location: UTC when unset; "" and "Local"
// are refused as Kubernetes refuses them (Local would be whatever zone the
// controller's host happens to have).
func loadTimeZone(timeZone *string) (*time.Location, error) {
	if timeZone == nil {
		return time.UTC, nil
	}
	switch tz := *timeZone; {
	case tz == "":
		return nil, errors.New("timeZone must be nil or non-empty string")
	case strings.EqualFold(tz, "Local"):
		return nil, errors.New("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
	default:
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, err
		}
		return loc, nil
	}
}

// explainScheduleError says which field of a five-field schedule is wrong.
// robfig's messages name the bad text but not its position, so each field
// is parsed on its own, with "*" in the other four; the first that fails is
// the one reported. Descriptors, and a wrong number of fields, keep
// robfig's message ("expected exactly 5 fields, found 6: [...]").
func explainScheduleError(schedule string, err error) error {
	fields := strings.Fields(schedule)
	if strings.HasPrefix(schedule, "@") || len(fields) != len(scheduleFields) {
		return err
	}
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, ferr := parseStandard(strings.Join(probe, " ")); ferr != nil {
			return fmt.Errorf("%s (field %d) %q: %s", scheduleFields[i], i+1, f, trimRangeSuffix(ferr.Error(), f))
		}
	}
	return err
}

// trimRangeSuffix drops robfig's trailing ": <range>" when the range is
// part of the field already quoted before it: "end of range (61) above
// maximum (59): 61" → "end of range (61) above maximum (59)".
func trimRangeSuffix(msg, field string) string {
	i := strings.LastIndex(msg, ": ")
	if i < 0 {
		return msg
	}
	for _, r := range strings.Split(field, ",") {
		if msg[i+2:] == r {
			return msg[:i]
		}
	}
	return msg
}

// Next is the first time the schedule fires strictly after t, reckoned in
// the schedule's zone and returned in UTC; the zero time if it never fires
// again (robfig looks five years ahead). An @every schedule fires its
// interval after t, so it is anchored wherever its caller starts counting.
//
// Across daylight-saving changes (robfig's behaviour, kept): a time that
// does not exist that day is skipped, not moved ("30 2 * * *" in
// America/New_York does not run on the spring-forward day), and a time that
// happens twice runs twice ("30 1 * * *" runs at 01:30 EDT and again at
// 01:30 EST on the fall-back day).
func (s Schedule) Next(t time.Time) time.Time {
	n := s.sched.Next(t.In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// Every is the interval of an @every schedule, and false for any other.
// Its times are a fixed step from wherever counting starts rather than a
// set fixed in the calendar, so arithmetic on them differs.
func (s Schedule) Every() (time.Duration, bool) {
	if e, ok := s.sched.(cron.ConstantDelaySchedule); ok {
		return e.Delay, true
	}
	return 0, false
}

// Location is the schedule's time zone (UTC when spec.timeZone is unset).
func (s Schedule) Location() *time.Location { return s.loc }

// validateSchedule checks a CronJob's spec.schedule and spec.timeZone; path
// is the spec's path ("spec"). Errors read
//
//	spec.schedule: invalid value "61 * * * *": minute (field 1) "61": end of range (61) above maximum (59)
//	spec.timeZone: invalid value "Mars/Olympus": unknown time zone Mars/Olympus
func validateSchedule(errs *FieldErrors, path string, s CronJobSpec) {
	spath, zpath := fieldPath(path, "schedule"), fieldPath(path, "timeZone")
	if s.TimeZone != nil {
		if _, err := loadTimeZone(s.TimeZone); err != nil {
			errs.addf(zpath, "invalid value %q: %v", *s.TimeZone, err)
		}
	}
	if strings.TrimSpace(s.Schedule) == "" {
		errs.add(spath, "required")
		return
	}
	if len(s.Schedule) > MaxScheduleLength {
		errs.addf(spath, "must be no more than %d bytes, got %d", MaxScheduleLength, len(s.Schedule))
		return
	}
	// The zone's error is reported above; parse the schedule in UTC so it
	// is judged on its own.
	if _, err := ParseSchedule(s.Schedule, nil); err != nil {
		errs.addf(spath, "invalid value %q: %v", s.Schedule, err)
	}
}
