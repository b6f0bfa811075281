package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/manifest"
)

// The Job kubectl create job --from makes of a CronJob.
func TestJobFromCronJob(t *testing.T) {
	cj := fixtureCronJob(fixtureT0).Object
	job, err := jobFromCronJob(cj, "report-manual")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"report-manual","namespace":"default",
		"labels":{"team":"ops"},"annotations":{"cronjob.kubernetes.io/instantiate":"manual","note":"nightly"}},
		"spec":` + mustJSON(t, cj.CronJob().JobTemplate.Spec) + `}`
	sameJSON(t, mustJSON(t, job), want)
	// The Job's spec is a copy: changing it leaves the CronJob's.
	job.Job().BackoffLimit = ptrInt32(9)
	if *cj.CronJob().JobTemplate.Spec.BackoffLimit != 2 {
		t.Error("the Job shares the CronJob's spec")
	}
	if _, err := jobFromCronJob(fixtureJob(fixtureT0).Object, "x"); err == nil {
		t.Error("a Job is not a CronJob")
	}
}

func TestCreateJobFlags(t *testing.T) {
	cases := []struct{ from, image, want, wantErr string }{
		{from: "cronjob/report", want: "report"},
		{from: "cj/report", want: "report"},
		{from: "cronjobs.batch/report", want: "report"},
		{from: "deploy/hello", wantErr: "from must be of type cronjob"},
		{from: "widget/x", wantErr: "from must be of type cronjob"},
		{from: "report", wantErr: "--from=report: want TYPE/NAME, e.g. --from=cronjob/report"},
		{wantErr: "either --image or --from must be specified"},
		{image: "busybox", wantErr: "--image is not supported: give --from=cronjob/NAME, or apply a Job manifest (gantry apply -f FILE)"},
	}
	for _, tc := range cases {
		got, err := createJobFrom(tc.from, tc.image)
		if (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) || got != tc.want {
			t.Errorf("--from=%q --image=%q: %q, %v; want %q, %q", tc.from, tc.image, got, err, tc.want, tc.wantErr)
		}
	}
	url := clitest.ClosedPort(t)
	for args, want := range map[string]string{
		"create":                       "error: create: name what to create: gantry create job|secret|configmap NAME … (other objects: gantry apply -f FILE)\n",
		"create deployment hello":      "error: create deployment: not supported: gantry create has job, secret and configmap; apply a manifest instead (gantry apply -f FILE)\n",
		"create job x --from=deploy/y": "error: from must be of type cronjob\n",
		"create job --from=cj/y":       "error: accepts 1 arg(s), received 0\n",
	} {
		code, _, errOut := runGantry(append(strings.Fields(args), "--nats", url)...)
		if code != 1 || errOut != want {
			t.Errorf("gantry %s: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
}

// create job --from appends the intent of the Job and prints admission's
// verdict as apply does; an existing Job and a missing CronJob are refused
// before anything is appended.
func TestCreateJobAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	c.seedWorkloads(t, created)

	applied := c.acceptingApplies(t, "job-uid-9", 1) // admission's part

	code, out, errOut := c.gantry("create", "job", "report-manual", "--from=cronjob/report")
	if code != 0 || out != "job.batch/report-manual created\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if got := applied(); len(got) != 1 || got[0].Kind != "job" || got[0].Namespace != "default" || got[0].Name != "report-manual" {
		t.Errorf("intents %+v", got)
	} else {
		var job manifest.Object
		if err := json.Unmarshal(got[0].Object, &job); err != nil || job.Job() == nil ||
			job.Metadata.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" || job.Job().Template.Spec.Containers[0].Image != "perl:5.34" {
			t.Errorf("the Job: %v\n%s", err, got[0].Object)
		}
	}
	c.progress(t, 0) // the projector has applied the verdict

	for args, want := range map[string]string{
		"create job pi --from=cronjob/report":   "error: failed to create job: jobs.batch \"pi\" already exists\n",
		"create job x --from=cronjob/nope":      "error: cronjobs.batch \"nope\" not found\n",
		"create job x --from=cj/report -n shop": "error: cronjobs.batch \"report\" not found\n",
	} {
		code, _, errOut := c.gantry(strings.Fields(args)...)
		if code != 1 || errOut != want {
			t.Errorf("gantry %s: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
	if got := applied(); len(got) != 1 {
		t.Errorf("refused creations appended intents: %+v", got)
	}
}
