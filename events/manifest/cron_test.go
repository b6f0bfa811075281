package manifest

import (
	"strings"
	"testing"
	"time"
)

func TestParseScheduleValid(t *testing.T) {
	from := time.Date(2025, 6, 15, 10, 20, 0, 0, time.UTC) // a Sunday
	for _, tc := range []struct {
		schedule string
		next     time.Time
	}{
		{"* * * * *", time.Date(2025, 6, 15, 10, 21, 0, 0, time.UTC)},
		{"*/15 * * * *", time.Date(2025, 6, 15, 10, 30, 0, 0, time.UTC)},
		{"0 9-17 * * 1-5", time.Date(2025, 6, 16, 9, 0, 0, 0, time.UTC)},
		{"0 0 1,15 * *", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"30 6 * jan-mar,dec mon", time.Date(2025, 12, 1, 6, 30, 0, 0, time.UTC)},
		{"0 12 * * ?", time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)},
		{"  5\t4 * * sun  ", time.Date(2025, 6, 22, 4, 5, 0, 0, time.UTC)},
		{"0 0 29 2 *", time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"@yearly", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"@annually", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"@monthly", time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)},
		{"@weekly", time.Date(2025, 6, 22, 0, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)},
		{"@midnight", time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)},
		{"@hourly", time.Date(2025, 6, 15, 11, 0, 0, 0, time.UTC)},
		{"@every 90m", time.Date(2025, 6, 15, 11, 50, 0, 0, time.UTC)},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			s, err := ParseSchedule(tc.schedule, nil)
			if err != nil {
				t.Fatalf("ParseSchedule: %v", err)
			}
			if got := s.Next(from); !got.Equal(tc.next) || got.Location() != time.UTC {
				t.Errorf("Next(%v) = %v, want %v in UTC", from, got, tc.next)
			}
			var errs FieldErrors
			validateSchedule(&errs, "spec", CronJobSpec{Schedule: tc.schedule})
			if len(errs) != 0 {
				t.Errorf("validateSchedule: %v", errs)
			}
		})
	}
}

func TestParseScheduleEvery(t *testing.T) {
	s, err := ParseSchedule("@every 1h30m", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := s.Every(); !ok || d != 90*time.Minute {
		t.Errorf("Every() = %v, %v; want 1h30m, true", d, ok)
	}
	h, _ := ParseSchedule("@hourly", nil)
	if _, ok := h.Every(); ok {
		t.Error("@hourly: Every() is true")
	}
}

// Each of the five fields is named, with its position and text, when it is
// the one at fault.
func TestValidateScheduleNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		schedule, want string
	}{
		{"61 * * * *", `spec.schedule: invalid value "61 * * * *": minute (field 1) "61": end of range (61) above maximum (59)`},
		{"0 24 * * *", `spec.schedule: invalid value "0 24 * * *": hour (field 2) "24": end of range (24) above maximum (23)`},
		{"0 0 0 * *", `spec.schedule: invalid value "0 0 0 * *": day of month (field 3) "0": beginning of range (0) below minimum (1)`},
		{"0 0 1 13 *", `spec.schedule: invalid value "0 0 1 13 *": month (field 4) "13": end of range (13) above maximum (12)`},
		{"0 0 * * 8", `spec.schedule: invalid value "0 0 * * 8": day of week (field 5) "8": end of range (8) above maximum (6)`},
		{"0 0 * * 1,9", `spec.schedule: invalid value "0 0 * * 1,9": day of week (field 5) "1,9": end of range (9) above maximum (6)`},
		{"0 5-2 * * *", `spec.schedule: invalid value "0 5-2 * * *": hour (field 2) "5-2": beginning of range (5) beyond end of range (2)`},
		{"*/0 * * * *", `spec.schedule: invalid value "*/0 * * * *": minute (field 1) "*/0": step of range should be a positive number`},
		{"0 0 * foo *", `spec.schedule: invalid value "0 0 * foo *": month (field 4) "foo": failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax`},
		// The first bad field is the one reported.
		{"99 99 * * *", `spec.schedule: invalid value "99 99 * * *": minute (field 1) "99": end of range (99) above maximum (59)`},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			var errs FieldErrors
			validateSchedule(&errs, "spec", CronJobSpec{Schedule: tc.schedule})
			if got := errs.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestValidateScheduleInvalid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		schedule string
		want     string // substring of the one error, at spec.schedule
	}{
		{"empty", "", "spec.schedule: required"},
		{"blank", "   ", "spec.schedule: required"},
		{"six fields", "0 0 * * * *", "expected exactly 5 fields, found 6"},
		{"four fields", "0 0 * *", "expected exactly 5 fields, found 4"},
		{"unknown descriptor", "@fortnightly", "unrecognized descriptor: @fortnightly"},
		{"bad every", "@every soon", "failed to parse duration @every soon"},
		{"never fires", "0 0 30 2 *", "never fires"},
		{"too long", "0 0 * * " + strings.Repeat("1,", 600) + "1", "must be no more than 1024 bytes"},
		{"CRON_TZ", "CRON_TZ=UTC 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		{"TZ", "TZ=Europe/Paris 0 * * * *", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		// robfig v3.0.1 panics on this one (no space after the zone).
		{"TZ without space", "TZ=UTC", "cannot use TZ or CRON_TZ in schedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs FieldErrors
			validateSchedule(&errs, "spec", CronJobSpec{Schedule: tc.schedule})
			if len(errs) != 1 || errs[0].Path != "spec.schedule" || !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors %v, want one at spec.schedule containing %q", errs, tc.want)
			}
			if _, err := ParseSchedule(tc.schedule, nil); err == nil {
				t.Error("ParseSchedule accepted it")
			}
		})
	}
}

func TestScheduleTimeZone(t *testing.T) {
	from := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		zone *string
		want time.Time // next "0 9 * * *"
	}{
		{nil, time.Date(2025, 6, 15, 9, 0, 0, 0, time.UTC)},
		{new("UTC"), time.Date(2025, 6, 15, 9, 0, 0, 0, time.UTC)},
		{new("Asia/Kolkata"), time.Date(2025, 6, 15, 3, 30, 0, 0, time.UTC)},      // 09:00 +05:30
		{new("America/New_York"), time.Date(2025, 6, 15, 13, 0, 0, 0, time.UTC)},  // 09:00 EDT (-4)
		{new("Pacific/Chatham"), time.Date(2025, 6, 15, 20, 15, 0, 0, time.UTC)},  // 09:00 +12:45 on the 16th
		{new("America/St_Johns"), time.Date(2025, 6, 15, 11, 30, 0, 0, time.UTC)}, // 09:00 -02:30
	} {
		name := "nil"
		if tc.zone != nil {
			name = *tc.zone
		}
		t.Run(name, func(t *testing.T) {
			s, err := ParseSchedule("0 9 * * *", tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(from); !got.Equal(tc.want) {
				t.Errorf("Next = %v, want %v", got, tc.want)
			}
			var errs FieldErrors
			validateSchedule(&errs, "spec", CronJobSpec{Schedule: "0 9 * * *", TimeZone: tc.zone})
			if len(errs) != 0 {
				t.Errorf("validateSchedule: %v", errs)
			}
		})
	}
}

func TestValidateTimeZoneInvalid(t *testing.T) {
	for _, tc := range []struct {
		zone, want string
	}{
		{"", `spec.timeZone: invalid value "": timeZone must be nil or non-empty string`},
		{"Local", `spec.timeZone: invalid value "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`},
		{"local", `spec.timeZone: invalid value "local": timeZone must be an explicit time zone`},
		{"Mars/Olympus_Mons", `spec.timeZone: invalid value "Mars/Olympus_Mons": unknown time zone Mars/Olympus_Mons`},
		{"Europe/Pariss", `unknown time zone Europe/Pariss`},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			var errs FieldErrors
			validateSchedule(&errs, "spec", CronJobSpec{Schedule: "0 * * * *", TimeZone: &tc.zone})
			if len(errs) != 1 || errs[0].Path != "spec.timeZone" || !strings.Contains(errs.Error(), tc.want) {
				t.Errorf("errors %v, want one at spec.timeZone containing %q", errs, tc.want)
			}
			if _, err := ParseSchedule("0 * * * *", &tc.zone); err == nil {
				t.Error("ParseSchedule accepted it")
			}
		})
	}
}

// Both fields wrong: both reported, each at its own path.
func TestValidateScheduleBothFields(t *testing.T) {
	var errs FieldErrors
	validateSchedule(&errs, "spec", CronJobSpec{Schedule: "61 * * * *", TimeZone: new("Nowhere/Land")})
	if len(errs) != 2 || errs[0].Path != "spec.timeZone" || errs[1].Path != "spec.schedule" {
		t.Errorf("errors %v, want spec.timeZone then spec.schedule", errs)
	}
}

// The parser never panics on user input, whatever it is given.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "TZ=UTC", "CRON_TZ=UTC 0 * * * *", "@every 1s", "1-2/3,4 * * * *", "@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSchedule(s, nil)
		var errs FieldErrors
		validateSchedule(&errs, "spec", CronJobSpec{Schedule: s})
	})
}
