package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

func TestParseWaitFor(t *testing.T) {
	cases := []struct {
		in      string
		want    waitFor
		wantErr string
	}{
		{in: "delete", want: waitFor{delete: true}},
		{in: "condition=complete", want: waitFor{condition: "complete", value: "True"}},
		{in: "condition=Available=False", want: waitFor{condition: "Available", value: "False"}},
		{in: "", wantErr: "--for must be specified: --for=delete or --for=condition=NAME[=VALUE]"},
		{in: "condition=", wantErr: "--for=condition=: a condition name is required (e.g. --for=condition=complete)"},
		{in: "condition=Ready=", wantErr: "--for=condition=Ready=: a condition value is required after the second '=' (True, False)"},
		{in: "jsonpath={.status.phase}=Running", wantErr: "--for=jsonpath={.status.phase}=Running: not supported; use --for=delete or --for=condition=NAME[=VALUE]"},
		{in: "complete", wantErr: `unrecognized condition: "complete" (want --for=delete or --for=condition=NAME[=VALUE])`},
	}
	for _, tc := range cases {
		got, err := parseWaitFor(tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestWaitTargets(t *testing.T) {
	cases := []struct {
		args     []string
		selected bool
		want     []getTarget
		wantErr  string
	}{
		{args: []string{"job/pi", "deploy/hello"}, want: []getTarget{{"job", "pi"}, {"deployment", "hello"}}},
		{args: []string{"jobs", "a", "b"}, want: []getTarget{{"job", "a"}, {"job", "b"}}},
		{args: []string{"po"}, selected: true, want: []getTarget{{"pod", ""}}},
		{args: []string{"jobs"}, wantErr: "resource(s) were provided, but no name was specified: name them (jobs NAME) or select them with -l"},
		{args: []string{"job/pi"}, selected: true, wantErr: "name cannot be provided when a selector is specified"},
		{args: []string{"job/pi", "x"}, wantErr: "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form"},
		{args: nil, wantErr: "you must provide one or more resources by argument or filename (e.g. gantry wait --for=condition=complete job/pi)"},
	}
	for _, tc := range cases {
		got, err := waitTargets(tc.args, tc.selected)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%v: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%v: %v, %v; want %v", tc.args, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%v: %v; want %v", tc.args, got, tc.want)
			}
		}
	}
}

// wait watches the read model: met at once, met when the record changes,
// timed out with kubectl's message, and a deletion.
func TestWaitAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	c.seedWorkloads(t, created)
	expect := func(t *testing.T, line string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		code, out, errOut := c.gantry(strings.Fields(line)...)
		if code != wantCode || out != wantOut || errOut != wantErr {
			t.Errorf("gantry %s: exit %d, stdout %q, stderr %q; want %d, %q, %q", line, code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	expect(t, "wait --for=condition=complete job/report-100", 0, "job.batch/report-100 condition met\n", "")
	expect(t, "wait --for=condition=complete jobs -l team=ops", 0, "job.batch/report-100 condition met\n", "")
	expect(t, "wait --for=condition=Complete=False job/report-100 --timeout=200ms", 1, "",
		"error: timed out waiting for the condition on jobs/report-100\n")
	expect(t, "wait --for=condition=complete job/pi --timeout=200ms", 1, "", "error: timed out waiting for the condition on jobs/pi\n")
	expect(t, "wait --for=condition=failed job/nope", 1, "", "error: jobs.batch \"nope\" not found\n")
	// --timeout=0 looks once.
	expect(t, "wait --for=condition=complete job/report-100 --timeout=0", 0, "job.batch/report-100 condition met\n", "")
	expect(t, "wait --for=condition=complete job/pi --timeout=0", 1, "", "error: timed out waiting for the condition on jobs/pi\n")
	expect(t, "wait --for=delete job/nope --timeout=0", 0, "job.batch/nope condition met\n", "")
	expect(t, "wait --for=condition=complete jobs -l team=none", 1, "", "error: no matching resources found\n")
	expect(t, "wait --for=condition=Available deploy/hello --timeout=200ms", 1, "", "error: timed out waiting for the condition on deployments/hello\n")
	expect(t, "wait --for=condition=Ready pod/pi-x1", 0, "pod/pi-x1 condition met\n", "")
	expect(t, "wait --for=delete pod/nope", 0, "pod/nope condition met\n", "")
	expect(t, "wait --for=complete job/pi", 1, "", "error: unrecognized condition: \"complete\" (want --for=delete or --for=condition=NAME[=VALUE])\n")

	// The Job completes while wait watches: report-100's line is printed
	// before wait watches pi.
	var out, errOut clitest.Buffer
	errc := make(chan error, 1)
	go func() {
		o := waitOptions{for_: waitFor{condition: "complete", value: "True"}, namespace: "default", timeout: 20 * time.Second}
		errc <- runWait(context.Background(), c.conn.JS, o, []getTarget{{"job", "report-100"}, {"job", "pi"}}, &out, &errOut)
	}()
	clitest.Eventually(t, "the first object met", func() bool { return out.String() != "" })
	pi := fixtureJob(created)
	pi.Status.Conditions = []manifest.Condition{{Type: manifest.JobComplete, Status: manifest.ConditionTrue}}
	c.put(t, bus.BucketWorkloads, "job.default.pi", pi)
	if err := <-errc; err != nil || out.String() != "job.batch/report-100 condition met\njob.batch/pi condition met\n" {
		t.Errorf("wait for a Job that completes: %v, %q", err, out.String())
	}

	done := make(chan [3]string, 1)
	// A pod goes while wait watches.
	go func() {
		code, out, errOut := c.gantry("wait", "--for=delete", "pod/pi-x2", "--timeout=20s")
		done <- [3]string{string(rune('0' + code)), out, errOut}
	}()
	c.del(t, bus.BucketPods, "default.pi-x2")
	if got := <-done; got != [3]string{"0", "pod/pi-x2 condition met\n", ""} {
		t.Errorf("wait for a pod's deletion: %q", got)
	}
}
