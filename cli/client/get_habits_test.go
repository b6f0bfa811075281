package client

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
)

// kubectl habits of get (issue 11): label selectors, get with no type and
// api-resources, short names in every verb, several kinds at once, label
// columns, --sort-by, -o name and jsonpath, and a watch that shows a pod
// terminating and gone.
func TestGetHabitsAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)

	expect := func(t *testing.T, args []string, wantCode int, wantOut, wantErr string) {
		t.Helper()
		code, out, errOut := c.gantry(args...)
		if code != wantCode || out != wantOut || errOut != wantErr {
			t.Errorf("gantry %s: exit %d, stdout\n%s\nstderr %q\nwant exit %d, stdout\n%s\nstderr %q",
				strings.Join(args, " "), code, out, errOut, wantCode, wantOut, wantErr)
		}
	}
	args := func(s string) []string { return strings.Fields(s) }

	t.Run("label selectors", func(t *testing.T) {
		header := "NAME          READY   STATUS    RESTARTS   AGE\n"
		expect(t, args("get pods -l app=hello"), 0, header+"hello-abc12   1/1     Running   2          3h\n", "")
		expect(t, args("get po --selector app!=hello"), 0, "NAME      READY   STATUS    RESTARTS   AGE\n"+
			"big-xyz   0/1     Pending   0          3h\n", "")
		expect(t, []string{"get", "pods", "-l", "app in (other, more)"}, 0, "", "No resources found in default namespace.\n")
		expect(t, args("get pods -A -l app -o name"), 0, "pod/hello-abc12\npod/web-1\n", "")
		expect(t, []string{"get", "pods", "-A", "-l", "app,pod-template-hash notin (abc12)"}, 0, "", "No resources found\n")
		expect(t, args("get pods -l !app -o name"), 0, "pod/big-xyz\n", "")
		expect(t, args("get deploy -l team=web -o name"), 0, "deployment.apps/hello\n", "")
		expect(t, args("get deploy -l team=db -o name"), 0, "", "No resources found in default namespace.\n")
		expect(t, args("get nodes -l zone=a -o name"), 0, "node/node-1\n", "")
		expect(t, args("get no -l zone=b"), 0, "", "No resources found\n")
		expect(t, args("get pods -l app=hello,-x"), 1, "",
			"error: selector \"app=hello,-x\": term 2: at column 11: invalid key \"-x\": name part must consist of letters, digits, '-', '_' or '.', "+
				"and start and end with a letter or digit (e.g. \"app.kubernetes.io/name\")\n")
		expect(t, args("get pods hello-abc12 -l app=hello"), 1, "", "error: name cannot be provided when a selector is specified\n")
	})

	apiResources := apiResourcesTable
	t.Run("get with no type lists the types", func(t *testing.T) {
		expect(t, args("get"), 1, "", "You must specify the type of resource to get. "+
			"Use \"gantry api-resources\" for a complete list of supported resources.\n\n"+apiResources+"\n"+
			"error: required resource not specified\n")
	})
	t.Run("api-resources", func(t *testing.T) {
		expect(t, args("api-resources"), 0, apiResources, "")
		expect(t, args("api-resources -o name"), 0, "configmaps\nnamespaces\nnodes\npersistentvolumeclaims\npersistentvolumes\npods\nresourcequotas\nsecrets\nservices\nvalidatingadmissionpolicies.admissionregistration.k8s.io\nvalidatingadmissionpolicybindings.admissionregistration.k8s.io\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\ncronjobs.batch\njobs.batch\nendpointslices.discovery.k8s.io\npoddisruptionbudgets.policy\nclusterrolebindings.rbac.authorization.k8s.io\nclusterroles.rbac.authorization.k8s.io\nrolebindings.rbac.authorization.k8s.io\nroles.rbac.authorization.k8s.io\nstorageclasses.storage.k8s.io\n", "")
		expect(t, args("api-resources --namespaced=false"), 0, "NAME                                SHORTNAMES   APIVERSION                        NAMESPACED   KIND\n"+
			"namespaces                          ns           v1                                false        Namespace\n"+
			"nodes                               no           v1                                false        Node\n"+
			"persistentvolumes                   pv           v1                                false        PersistentVolume\n"+
			"validatingadmissionpolicies                      admissionregistration.k8s.io/v1   false        ValidatingAdmissionPolicy\n"+
			"validatingadmissionpolicybindings                admissionregistration.k8s.io/v1   false        ValidatingAdmissionPolicyBinding\n"+
			"clusterrolebindings                              rbac.authorization.k8s.io/v1      false        ClusterRoleBinding\n"+
			"clusterroles                                     rbac.authorization.k8s.io/v1      false        ClusterRole\n"+
			"storageclasses                      sc           storage.k8s.io/v1                 false        StorageClass\n", "")
	})

	t.Run("short names in every verb", func(t *testing.T) {
		for _, a := range []string{"describe po hello-abc12", "describe deploy/hello", "describe no node-1", "describe deployments.apps hello"} {
			if code, out, errOut := c.gantry(args(a)...); code != 0 || !strings.HasPrefix(out, "Name:") {
				t.Errorf("gantry %s: exit %d, stderr %q, stdout\n%s", a, code, errOut, out)
			}
		}
		for _, a := range []string{"describe ing x", "delete ing x", "logs ing/x", "get ing"} {
			code, _, errOut := c.gantry(args(a)...)
			want := `error: unknown resource type "ing": want configmaps (cm), namespaces (ns), nodes (no), persistentvolumeclaims (pvc), persistentvolumes (pv), pods (po), resourcequotas (quota), secrets, services (svc), validatingadmissionpolicies, validatingadmissionpolicybindings, daemonsets (ds), deployments (deploy), replicasets (rs), statefulsets (sts), cronjobs (cj), jobs, endpointslices, poddisruptionbudgets (pdb), clusterrolebindings, clusterroles, rolebindings, roles, storageclasses (sc) (see gantry api-resources)` + "\n"
			if code != 1 || errOut != want {
				t.Errorf("gantry %s: exit %d, stderr %q, want %q", a, code, errOut, want)
			}
		}
	})

	t.Run("several kinds", func(t *testing.T) {
		deployTable := "NAME                    READY   UP-TO-DATE   AVAILABLE   AGE\n" +
			"deployment.apps/hello   2/3     3            2           3h\n"
		expect(t, args("get deploy,po"), 0, deployTable+"\n"+
			"NAME              READY   STATUS    RESTARTS   AGE\n"+
			"pod/big-xyz       0/1     Pending   0          3h\n"+
			"pod/hello-abc12   1/1     Running   2          3h\n", "")
		expect(t, args("get deploy/hello pod/hello-abc12"), 0, deployTable+"\n"+
			"NAME              READY   STATUS    RESTARTS   AGE\n"+
			"pod/hello-abc12   1/1     Running   2          3h\n", "")
		// A kind with nothing to show prints no table; names carry their
		// kind since several kinds were asked for (kubectl's get all prints
		// service/kubernetes alone so).
		expect(t, args("get po,deploy -l app=hello"), 0, "NAME              READY   STATUS    RESTARTS   AGE\n"+
			"pod/hello-abc12   1/1     Running   2          3h\n", "")
		expect(t, args("get deploy,nodes,po -o name"), 0, "deployment.apps/hello\nnode/node-1\npod/big-xyz\npod/hello-abc12\n", "")
		// What is there is printed, what is not is an error, as kubectl.
		expect(t, args("get pods hello-abc12 nope"), 1, "NAME          READY   STATUS    RESTARTS   AGE\n"+
			"hello-abc12   1/1     Running   2          3h\n", "error: pods \"nope\" not found\n")
		expect(t, args("get pods nope -o json"), 1, "", "error: pods \"nope\" not found\n")

		_, out, _ := c.gantry(args("get deploy,po -o json")...)
		var list struct {
			Kind  string
			Items []struct{ Kind string }
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		if list.Kind != "List" || len(list.Items) != 3 || list.Items[0].Kind != "Deployment" || list.Items[2].Kind != "Pod" {
			t.Errorf("several kinds as json:\n%s", out)
		}
	})

	t.Run("label columns", func(t *testing.T) {
		expect(t, args("get pods --show-labels"), 0,
			"NAME          READY   STATUS    RESTARTS   AGE   LABELS\n"+
				"big-xyz       0/1     Pending   0          3h    <none>\n"+
				"hello-abc12   1/1     Running   2          3h    app=hello,pod-template-hash=abc12\n", "")
		expect(t, args("get pods -L app -L pod-template-hash,tier"), 0,
			"NAME          READY   STATUS    RESTARTS   AGE   APP     POD-TEMPLATE-HASH   TIER\n"+
				"big-xyz       0/1     Pending   0          3h                                \n"+
				"hello-abc12   1/1     Running   2          3h    hello   abc12               \n", "")
		expect(t, args("get nodes --label-columns zone --show-labels"), 0,
			"NAME     STATUS   ROLES    AGE   VERSION   ZONE   LABELS\n"+
				"node-1   Ready    <none>   3h    v0.1.0    a      zone=a\n", "")
	})

	t.Run("sort by", func(t *testing.T) {
		byUID := "NAME          READY   STATUS    RESTARTS   AGE\n" +
			"hello-abc12   1/1     Running   2          3h\n" +
			"big-xyz       0/1     Pending   0          3h\n"
		expect(t, args("get pods --sort-by=.metadata.uid"), 0, byUID, "")
		expect(t, args("get pods --sort-by={.metadata.uid}"), 0, byUID, "")
		expect(t, args("get pods --sort-by=metadata.name -o name"), 0, "pod/big-xyz\npod/hello-abc12\n", "")
		// big-xyz has never started: no startTime, so it comes first.
		expect(t, args("get pods --sort-by=.status.startTime -o name"), 0, "pod/big-xyz\npod/hello-abc12\n", "")
		expect(t, args("get pods --sort-by=.metadata.uid -o jsonpath={.items[*].metadata.name}"), 0, "hello-abc12 big-xyz", "")
		expect(t, args("get pods --sort-by=.metadata.nothing"), 1, "",
			"error: couldn't find any field with path \"{.metadata.nothing}\" in the list of objects\n")
	})

	t.Run("output name and jsonpath", func(t *testing.T) {
		expect(t, args("get pods -o name"), 0, "pod/big-xyz\npod/hello-abc12\n", "")
		expect(t, args("get deploy hello -o name"), 0, "deployment.apps/hello\n", "")
		expect(t, args("get pods -o jsonpath={.items[*].metadata.name}"), 0, "big-xyz hello-abc12", "")
		expect(t, []string{"get", "pods", "-A", "-o", `jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}`}, 0,
			"default/big-xyz\ndefault/hello-abc12\nshop/web-1\n", "")
		// One object asked for by name is the object itself, not a List.
		expect(t, args("get pod hello-abc12 -o jsonpath={.status.hostIP}"), 0, "10.0.0.1", "")
		expect(t, args("get deploy/hello -o jsonpath={.spec.replicas}/{.status.readyReplicas}"), 0, "3/2", "")
		file := filepath.Join(t.TempDir(), "template")
		if err := os.WriteFile(file, []byte(`{range .items[*]}{.metadata.name} {.status.capacity.cpu}{"\n"}{end}`), 0o600); err != nil {
			t.Fatal(err)
		}
		expect(t, args("get nodes -o jsonpath-file="+file), 0, "node-1 8\n", "")
		expect(t, args("get pods -o jsonpath={.items[*}"), 1, "",
			"error: error parsing jsonpath {.items[*}: unterminated array\n")
	})

	t.Run("watch a pod terminate", func(t *testing.T) { testWatchTerminating(t, c, created) })
}

// testWatchTerminating: a pod being deleted shows 0/1 Terminating; when its
// record goes, its last row is printed once more, as Terminating even when
// no Terminating row came first; a pod that comes to match -l appears.
func testWatchTerminating(t *testing.T, c *readCluster, created time.Time) {
	sel, err := manifest.ParseLabelSelector("app=hello")
	if err != nil {
		t.Fatal(err)
	}
	o := getOptions{namespace: "default", watch: true, selector: sel, hasSelector: true}
	if err := o.parse([]string{"po"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut clitest.Buffer
	done := make(chan error, 1)
	go func() { done <- runGet(ctx, c.conn.JS, o, &out, &errOut) }()
	clitest.Eventually(t, "the initial table", func() bool { return strings.Contains(out.String(), "hello-abc12") })

	deleting := fixturePod(created)
	deleting.Deleting = true // the node has not reported the container stopped yet
	c.put(t, bus.BucketPods, "default.hello-abc12", deleting)
	clitest.Eventually(t, "the terminating row", func() bool { return strings.Contains(out.String(), "Terminating") })
	c.del(t, bus.BucketPods, "default.hello-abc12")
	clitest.Eventually(t, "the last row", func() bool { return strings.Count(out.String(), "Terminating") == 2 })
	// A pod whose deletion and removal reach the read model in one write:
	// its last row says Terminating all the same.
	c.put(t, bus.BucketPods, "default.hello-abc12", fixturePod(created))
	clitest.Eventually(t, "the pod back", func() bool { return strings.Count(out.String(), "Running") == 2 })
	c.del(t, bus.BucketPods, "default.hello-abc12")
	clitest.Eventually(t, "its last row", func() bool { return strings.Count(out.String(), "Terminating") == 3 })
	labelled := fixturePendingPod(created)
	labelled.Labels = map[string]string{"app": "hello"}
	c.put(t, bus.BucketPods, "default.big-xyz", labelled)
	clitest.Eventually(t, "the pod that came to match", func() bool { return strings.Contains(out.String(), "big-xyz") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"NAME          READY   STATUS    RESTARTS   AGE",
		"hello-abc12   1/1     Running   2          3h",
		"hello-abc12   0/1     Terminating   2          3h",
		"hello-abc12   0/1     Terminating   2          3h",
		"hello-abc12   1/1     Running       2          3h",
		"hello-abc12   0/1     Terminating   2          3h",
		"big-xyz       0/1     Pending       0          3h",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch printed\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
	if errOut.String() != "" {
		t.Errorf("stderr %q", errOut.String())
	}
}
