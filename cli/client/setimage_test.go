package client

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/manifest"
)

// set image changes the named containers' images in the kind's pod
// template (so its hash), and nothing else.
func TestSetImages(t *testing.T) {
	dep := fixtureWorkload(fixtureT0).Object
	two := fixtureWorkload(fixtureT0).Object
	two.Deployment().Template.Spec.Containers = append(two.Deployment().Template.Spec.Containers,
		manifest.Container{Name: "sidecar", Image: "envoy:1.30"})
	cases := []struct {
		name    string
		obj     manifest.Object
		images  []containerImage
		want    []string // the template's images after, in order
		wantErr string
	}{
		{name: "one container", obj: dep, images: []containerImage{{"web", "nginx:1.27"}}, want: []string{"nginx:1.27"}},
		{name: "one of two", obj: two, images: []containerImage{{"sidecar", "envoy:1.31"}}, want: []string{"nginx:1.25", "envoy:1.31"}},
		{name: "every container", obj: two, images: []containerImage{{"*", "busybox:1.36"}}, want: []string{"busybox:1.36", "busybox:1.36"}},
		{name: "in order given", obj: two, images: []containerImage{{"*", "a:1"}, {"web", "b:2"}}, want: []string{"b:2", "a:1"}},
		{name: "a replicaset", obj: fixtureRS(fixtureT0, helloRSName(), 3, fixtureWorkload(fixtureT0).Status).Object,
			images: []containerImage{{"web", "nginx:1.27"}}, want: []string{"nginx:1.27"}},
		{name: "a daemonset", obj: fixtureDS(fixtureT0).Object, images: []containerImage{{"agent", "agent:v3"}}, want: []string{"agent:v3"}},
		{name: "a cronjob's job template", obj: fixtureCronJob(fixtureT0).Object, images: []containerImage{{"pi", "perl:5.40"}}, want: []string{"perl:5.40"}},
		{name: "an unknown container", obj: two, images: []containerImage{{"db", "postgres"}},
			wantErr: `unable to find container named "db" in spec.template: its containers are web, sidecar`},
		{name: "an empty image", obj: dep, images: []containerImage{{"web", " "}}, wantErr: `image for container "web" must not be empty`},
		{name: "a job", obj: fixtureJob(fixtureT0).Object, images: []containerImage{{"pi", "perl:5.40"}},
			wantErr: "jobs.batch: spec.template: field is immutable: a Job's pod template cannot change; delete the Job and create it again, or set the image of its CronJob"},
	}
	for _, tc := range cases {
		before := mustJSON(t, tc.obj)
		got, err := setImages(tc.obj, tc.images)
		if mustJSON(t, tc.obj) != before {
			t.Errorf("%s: the given object was changed", tc.name)
		}
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: %v; want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var images []string
		for _, c := range got.PodTemplate().Spec.Containers {
			images = append(images, c.Image)
		}
		if strings.Join(images, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: images %v, want %v", tc.name, images, tc.want)
		}
		if manifest.TemplateHash(*got.PodTemplate()) == manifest.TemplateHash(*tc.obj.PodTemplate()) {
			t.Errorf("%s: the template hash did not change", tc.name)
		}
		// Outside the template, nothing changed.
		*got.PodTemplate() = *tc.obj.PodTemplate()
		sameJSON(t, mustJSON(t, got), before)
	}
}

func TestSetImageArgs(t *testing.T) {
	url := clitest.ClosedPort(t)
	for args, want := range map[string]string{
		"set image deploy/web":               "error: at least one image update is required\n",
		"set image web=nginx":                "error: one or more resources must be specified as <resource> <name> or <resource>/<name>\n",
		"set image deploy/web web=":          "error: \"web=\": image for container \"web\" must not be empty\n",
		"set image deploy/web =nginx":        "error: \"=nginx\": a container name is required before '=' (CONTAINER=IMAGE, or *=IMAGE for every container)\n",
		"set image job/pi pi=perl":           "error: jobs.batch: spec.template: field is immutable: a Job's pod template cannot change; delete the Job and create it again, or set the image of its CronJob\n",
		"set image pod web-1 web=nginx":      "error: pods: spec: pod updates may not change the spec; set the image of the pod's Deployment, or delete the pod and create it again\n",
		"set image ns/default x=y":           "error: namespaces have no pod template: kinds whose image can be set: daemonsets.apps, deployments.apps, replicasets.apps, statefulsets.apps, cronjobs.batch\n",
		"set image deploy web extra x=nginx": "error: one object at a time: TYPE/NAME or TYPE NAME, not deploy web extra\n",
		"set image deploy/web extra x=nginx": "error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form\n",
	} {
		code, _, errOut := runGantry(append(strings.Fields(args), "--nats", url)...)
		if code != 1 || errOut != want {
			t.Errorf("gantry %s: exit %d, stderr %q; want %q", args, code, errOut, want)
		}
	}
}
