package client

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/manifest"
)

// scale sets spec.replicas and nothing else: the pod template, and so its
// hash (the ReplicaSet's name), is the same.
func TestScaleObject(t *testing.T) {
	dep := fixtureWorkload(fixtureT0).Object
	rs := fixtureRS(fixtureT0, helloRSName(), 3, fixtureWorkload(fixtureT0).Status).Object
	cases := []struct {
		name              string
		obj               manifest.Object
		replicas, current int32
		want              int32
		wantErr           string
	}{
		{name: "deployment up", obj: dep, replicas: 5, current: -1, want: 5},
		{name: "deployment to zero", obj: dep, replicas: 0, current: -1, want: 0},
		{name: "replicaset", obj: rs, replicas: 1, current: -1, want: 1},
		{name: "precondition holds", obj: dep, replicas: 4, current: 3, want: 4},
		{name: "precondition fails", obj: dep, replicas: 4, current: 2, wantErr: "Expected replicas to be 2, was 3"},
		{name: "a daemonset", obj: fixtureDS(fixtureT0).Object, replicas: 2, current: -1,
			wantErr: "a DaemonSet cannot be scaled: kinds that scale: deployments.apps, replicasets.apps, statefulsets.apps"},
		{name: "a job", obj: fixtureJob(fixtureT0).Object, replicas: 2, current: -1,
			wantErr: "a Job cannot be scaled: kinds that scale: deployments.apps, replicasets.apps, statefulsets.apps"},
	}
	for _, tc := range cases {
		got, err := scaleObject(tc.obj, tc.replicas, tc.current)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: %v; want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if n, _ := got.Info().Pods(got); n != tc.want {
			t.Errorf("%s: replicas %d, want %d", tc.name, n, tc.want)
		}
		if manifest.TemplateHash(*got.PodTemplate()) != manifest.TemplateHash(*tc.obj.PodTemplate()) {
			t.Errorf("%s: the pod template changed", tc.name)
		}
		if n, _ := tc.obj.Info().Pods(tc.obj); n != 3 {
			t.Errorf("%s: the given object was changed (replicas %d)", tc.name, n)
		}
		// Only spec.replicas differs.
		back, err := scaleObject(got, 3, -1)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, mustJSON(t, back), mustJSON(t, tc.obj))
	}
}

// The flags are checked before the cluster is dialed.
func TestScaleFlags(t *testing.T) {
	url := clitest.ClosedPort(t)
	for args, want := range map[string]string{
		"scale deploy/web":                                    "error: required flag(s) \"replicas\" not set\n",
		"scale deploy/web --replicas=-1":                      "error: --replicas=-1: the replica count must be zero or more\n",
		"scale deploy/web --replicas=1 --current-replicas=-3": "error: --current-replicas=-3: must be zero or more (-1: no precondition)\n",
		"scale ds/agent --replicas=2":                         "error: daemonsets.apps cannot be scaled: kinds that scale: deployments.apps, replicasets.apps, statefulsets.apps\n",
		"scale jobs pi --replicas=2":                          "error: jobs.batch cannot be scaled: kinds that scale: deployments.apps, replicasets.apps, statefulsets.apps\n",
		"scale deploy --replicas=2":                           "error: resource name may not be empty: give TYPE/NAME or TYPE NAME\n",
		"scale widget/x --replicas=2":                         "",
	} {
		code, _, errOut := runGantry(append(strings.Fields(args), "--nats", url)...)
		if code != 1 || (want != "" && errOut != want) || (want == "" && !strings.HasPrefix(errOut, "error: unknown resource type \"widget\"")) {
			t.Errorf("gantry %s: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
}
