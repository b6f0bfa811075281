package client

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{-time.Second, "0s"},
		{0, "0s"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{10 * time.Minute, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{5*time.Hour + 10*time.Minute, "5h10m"},
		{8 * time.Hour, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{76 * time.Hour, "3d4h"},
		{4 * 24 * time.Hour, "4d"},
		{8 * 24 * time.Hour, "8d"},
		{400 * 24 * time.Hour, "400d"},
		{2 * 365 * 24 * time.Hour, "2y"},
		{(2*365 + 10) * 24 * time.Hour, "2y10d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := age(fixtureT0, time.Time{}); got != "<unknown>" {
		t.Errorf("age of zero time = %q", got)
	}
}

func TestPodStatusColumn(t *testing.T) {
	with := func(phase string, cs ...events.ContainerStatus) *projections.Pod {
		p := fixturePod(fixtureT0)
		p.Status.Phase = phase
		p.Status.Containers = cs
		return p
	}
	running := events.ContainerStatus{Name: "a", State: events.ContainerRunning, Ready: true}
	waiting := func(reason string) events.ContainerStatus {
		return events.ContainerStatus{Name: "b", State: events.ContainerWaiting, Reason: reason}
	}
	tests := []struct {
		name string
		pod  *projections.Pod
		want string
	}{
		{"unbound", func() *projections.Pod { p := fixturePendingPod(fixtureT0); p.Unschedulable = ""; return p }(), "Pending"},
		{"unschedulable stays Pending", fixturePendingPod(fixtureT0), "Pending"},
		{"bound, no report yet", func() *projections.Pod { p := fixturePod(fixtureT0); p.Status = nil; return p }(), "Pending"},
		{"running", fixturePod(fixtureT0), "Running"},
		{"creating", with(events.PhasePending, waiting("ContainerCreating")), "ContainerCreating"},
		{"image pull", with(events.PhasePending, waiting("ErrImagePull")), "ErrImagePull"},
		{"image pull backoff", with(events.PhasePending, waiting("ImagePullBackOff")), "ImagePullBackOff"},
		{"crash loop", with(events.PhaseRunning, running, waiting("CrashLoopBackOff")), "CrashLoopBackOff"},
		{"first container wins", with(events.PhasePending, waiting("ErrImagePull"), waiting("ContainerCreating")), "ErrImagePull"},
		{"completed", with(events.PhaseSucceeded, events.ContainerStatus{State: events.ContainerTerminated, Reason: "Completed", ExitCode: ptrInt32(0)}), "Completed"},
		{"exit code without reason", with(events.PhaseFailed, events.ContainerStatus{State: events.ContainerTerminated, ExitCode: ptrInt32(2)}), "ExitCode:2"},
		{"completed with a running sidecar", with(events.PhaseRunning, events.ContainerStatus{State: events.ContainerTerminated, Reason: "Completed"}, running), "NotReady"},
		{"pod reason", func() *projections.Pod {
			p := with(events.PhasePending)
			p.Status.Reason = "SandboxCreateError"
			return p
		}(), "SandboxCreateError"},
		{"deleting", func() *projections.Pod { p := fixturePod(fixtureT0); p.Deleting = true; return p }(), "Terminating"},
		{"node not ready", func() *projections.Pod { p := fixturePod(fixtureT0); p.NodeNotReadySince = &fixtureT0; return p }(), "Unknown"},
		{"ended on a node not ready", func() *projections.Pod {
			p := with(events.PhaseSucceeded, events.ContainerStatus{State: events.ContainerTerminated, Reason: "Completed", ExitCode: ptrInt32(0)})
			p.NodeNotReadySince = &fixtureT0
			return p
		}(), "Completed"},
	}
	for _, tt := range tests {
		if got := podStatusColumn(tt.pod); got != tt.want {
			t.Errorf("%s: status %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestTableRows(t *testing.T) {
	now := fixtureT0.Add(3 * time.Hour)
	pending := fixturePendingPod(fixtureT0)
	tests := []struct {
		name   string
		r      resource
		wide   bool
		withNS bool
		want   []string
	}{
		{"pod", resource{pod: fixturePod(fixtureT0)}, false, false, []string{"hello-abc12", "1/1", "Running", "2", "3h"}},
		{"pod wide", resource{pod: fixturePod(fixtureT0)}, true, true,
			[]string{"default", "hello-abc12", "1/1", "Running", "2", "3h", "10.42.0.7", "node-1"}},
		{"pending pod wide", resource{pod: pending}, true, false, []string{"big-xyz", "0/1", "Pending", "0", "3h", "<none>", "<none>"}},
		{"deployment", resource{workload: fixtureWorkload(fixtureT0)}, false, false, []string{"hello", "2/3", "3", "2", "3h"}},
		{"deployment wide", resource{workload: fixtureWorkload(fixtureT0)}, true, false,
			[]string{"hello", "2/3", "3", "2", "3h", "web", "nginx:1.25", "app=hello"}},
		{"node", resource{node: fixtureNode(fixtureT0, now)}, false, false, []string{"node-1", "Ready", "<none>", "3h", "v0.1.0"}},
		{"lost node wide", resource{node: fixtureNode(fixtureT0, now.Add(-time.Minute))}, true, false,
			[]string{"node-1", "NotReady", "<none>", "3h", "v0.1.0", "10.0.0.1", "containerd", "8", "16Gi", "10.42.0.0/24"}},
		{"never heard from", resource{node: fixtureNode(fixtureT0, time.Time{})}, false, false, []string{"node-1", "NotReady", "<none>", "3h", "v0.1.0"}},
		// Decided by the health service: the decision, not the clock.
		{"decided not ready", resource{node: decidedNode(now, false)}, false, false, []string{"node-1", "NotReady", "<none>", "3h", "v0.1.0"}},
		{"decided ready", resource{node: decidedNode(now.Add(-time.Hour), true)}, false, false, []string{"node-1", "Ready", "<none>", "3h", "v0.1.0"}},
	}
	for _, tt := range tests {
		if got := tableRow(tt.r, now, tt.wide, tt.withNS); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: row %q, want %q", tt.name, got, tt.want)
		}
	}
}

// decidedNode is the fixture node heard from at heartbeat and decided ready.
func decidedNode(heartbeat time.Time, ready bool) *projections.Node {
	n := fixtureNode(fixtureT0, heartbeat)
	n.State = &projections.NodeState{Ready: ready, Since: heartbeat}
	return n
}

func TestTableLayoutIsKubectls(t *testing.T) {
	var buf bytes.Buffer
	tw := newTableWriter(&buf)
	writeRow(tw, tableHeader("pod", false, false))
	writeRow(tw, []string{"hello-abc12", "1/1", "Running", "0", "5s"})
	writeRow(tw, []string{"a", "0/1", "ErrImagePull", "12", "4d"})
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME          READY   STATUS         RESTARTS   AGE\n" +
		"hello-abc12   1/1     Running        0          5s\n" +
		"a             0/1     ErrImagePull   12         4d\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	// A watch lays out rows one by one and keeps the columns it had.
	buf.Reset()
	rt := &rememberingTable{out: &buf}
	rt.grow(tableHeader("pod", false, false), []string{"hello-abc12", "1/1", "Running", "0", "5s"})
	rt.write(tableHeader("pod", false, false))
	rt.write([]string{"hello-abc12", "1/1", "Running", "0", "5s"})
	rt.write([]string{"a", "0/1", "ErrImagePull", "12", "4d"})
	want = "NAME          READY   STATUS    RESTARTS   AGE\n" +
		"hello-abc12   1/1     Running   0          5s\n" +
		"a             0/1     ErrImagePull   12         4d\n"
	if buf.String() != want {
		t.Errorf("watch rows: got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestResourceKeys(t *testing.T) {
	tests := []struct {
		kind, ns, name, key, pattern, all string
	}{
		{"pod", "default", "hello-abc", "default.hello-abc", "default.>", ">"},
		{"deployment", "shop", "web", "deployment.shop.web", "deployment.shop.>", "deployment.>"},
		{"node", "", "node-1", "node-1", ">", ">"},
	}
	for _, tt := range tests {
		rk := resourceKinds[tt.kind]
		if got := rk.key(tt.ns, tt.name); got != tt.key {
			t.Errorf("%s key = %q, want %q", tt.kind, got, tt.key)
		}
		if got := rk.pattern(tt.ns); got != tt.pattern {
			t.Errorf("%s pattern = %q, want %q", tt.kind, got, tt.pattern)
		}
		if got := rk.pattern(""); got != tt.all {
			t.Errorf("%s pattern for all = %q, want %q", tt.kind, got, tt.all)
		}
	}
}

func TestGetParse(t *testing.T) {
	pod, deploy, node := func(n string) getTarget { return getTarget{"pod", n} },
		func(n string) getTarget { return getTarget{"deployment", n} }, func(n string) getTarget { return getTarget{"node", n} }
	tests := []struct {
		args    []string
		o       getOptions
		want    []getTarget
		wantErr string
	}{
		{args: []string{"pods"}, want: []getTarget{pod("")}},
		{args: []string{"deploy", "hello"}, want: []getTarget{deploy("hello")}},
		{args: []string{"deployment.apps/hello"}, want: []getTarget{deploy("hello")}},
		{args: []string{"no"}, want: []getTarget{node("")}},
		{args: []string{"deploy,po"}, want: []getTarget{deploy(""), pod("")}},
		{args: []string{"po,deploy", "a", "b"}, want: []getTarget{pod("a"), pod("b"), deploy("a"), deploy("b")}},
		{args: []string{"deploy/hello", "pod/hello-x"}, want: []getTarget{deploy("hello"), pod("hello-x")}},
		{args: []string{"pods"}, o: getOptions{output: "name"}, want: []getTarget{pod("")}},
		{args: []string{"pods"}, o: getOptions{output: "jsonpath={.items[*].metadata.name}"}, want: []getTarget{pod("")}},
		{args: []string{"pods"}, o: getOptions{sortBy: "{.metadata.creationTimestamp}"}, want: []getTarget{pod("")}},
		{args: nil, wantErr: "required resource not specified"},
		{args: []string{"pod/x", "y"}, wantErr: "resource/name form"},
		{args: []string{"pod", "x/y"}, wantErr: "resource/name form"},
		{args: []string{"pod/"}, wantErr: "a name is required"},
		{args: []string{"ingresses"}, wantErr: `unknown resource type "ingresses": want configmaps (cm), namespaces (ns), nodes (no), persistentvolumeclaims (pvc), persistentvolumes (pv), pods (po), resourcequotas (quota), secrets, services (svc), validatingadmissionpolicies, validatingadmissionpolicybindings, daemonsets (ds), deployments (deploy), replicasets (rs), statefulsets (sts), cronjobs (cj), jobs, endpointslices, poddisruptionbudgets (pdb), clusterrolebindings, clusterroles, rolebindings, roles, storageclasses (sc)`},
		{args: []string{"svc", "web"}, want: []getTarget{{kind: "service", name: "web"}}},
		{args: []string{"pods,"}, wantErr: `unknown resource type ""`},
		{args: []string{"pods"}, o: getOptions{output: "table"}, wantErr: `output format "table"`},
		{args: []string{"pods"}, o: getOptions{output: "json=x"}, wantErr: `output format "json=x"`},
		{args: []string{"pods"}, o: getOptions{output: "jsonpath"}, wantErr: "no template given"},
		{args: []string{"pods"}, o: getOptions{output: "jsonpath={.items[*}"}, wantErr: "error parsing jsonpath {.items[*}"},
		{args: []string{"pods"}, o: getOptions{output: "jsonpath-file=/nonexistent/t"}, wantErr: "-o jsonpath-file: open /nonexistent/t"},
		{args: []string{"pods"}, o: getOptions{sortBy: "{.a}{.b}"}, wantErr: "--sort-by: unexpected path string"},
		{args: []string{"pods", "x"}, o: getOptions{allNamespaces: true}, wantErr: "across all namespaces"},
		{args: []string{"pods", "x"}, o: getOptions{hasSelector: true}, wantErr: "name cannot be provided when a selector is specified"},
		{args: []string{"pods,deploy"}, o: getOptions{watch: true}, wantErr: "watch is only supported on individual resources"},
	}
	for _, tt := range tests {
		o := tt.o
		err := o.parse(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(o.targets, tt.want) || o.namespace != "default" {
			t.Errorf("%v: got %+v, %v; want targets %v", tt.args, o.targets, err, tt.want)
		}
	}
}

// Every name kubectl users type for a kind reaches the one kind, whatever the case.
func TestKindOf(t *testing.T) {
	want := map[string]string{
		"pod": "pod", "pods": "pod", "po": "pod", "Pod": "pod", "PODS": "pod",
		"deployment": "deployment", "deployments": "deployment", "deploy": "deployment",
		"deployment.apps": "deployment", "deployments.apps": "deployment", "Deployment": "deployment",
		"node": "node", "nodes": "node", "no": "node",
		"service": "service", "services": "service", "svc": "service", "Service": "service",
		"endpointslice": "endpointslice", "endpointslices": "endpointslice", "endpointslices.discovery.k8s.io": "endpointslice",
	}
	for in, kind := range want {
		if got, err := kindOf(in); err != nil || got != kind {
			t.Errorf("kindOf(%q) = %q, %v; want %q", in, got, err, kind)
		}
	}
	for _, in := range []string{"", "service.apps", "ep", "pod.apps", "deploy.apps", "ingress", "ing"} {
		if got, err := kindOf(in); err == nil {
			t.Errorf("kindOf(%q) = %q, want an error", in, got)
		}
	}
	for _, k := range kindTable {
		if resourceKinds[k.kind].bucket == "" || kindTitle(k.kind) != k.title {
			t.Errorf("%s: incomplete in the table: %+v", k.kind, k)
		}
	}
	if displayKind("deployment") != "deployment.apps" || displayKind("pod") != "pod" {
		t.Errorf("displayKind: %q, %q", displayKind("deployment"), displayKind("pod"))
	}
}

// apiResourcesTable is what `gantry api-resources` prints.
const apiResourcesTable = "NAME                                SHORTNAMES   APIVERSION                        NAMESPACED   KIND\n" +
	"configmaps                          cm           v1                                true         ConfigMap\n" +
	"namespaces                          ns           v1                                false        Namespace\n" +
	"nodes                               no           v1                                false        Node\n" +
	"persistentvolumeclaims              pvc          v1                                true         PersistentVolumeClaim\n" +
	"persistentvolumes                   pv           v1                                false        PersistentVolume\n" +
	"pods                                po           v1                                true         Pod\n" +
	"resourcequotas                      quota        v1                                true         ResourceQuota\n" +
	"secrets                                          v1                                true         Secret\n" +
	"services                            svc          v1                                true         Service\n" +
	"validatingadmissionpolicies                      admissionregistration.k8s.io/v1   false        ValidatingAdmissionPolicy\n" +
	"validatingadmissionpolicybindings                admissionregistration.k8s.io/v1   false        ValidatingAdmissionPolicyBinding\n" +
	"daemonsets                          ds           apps/v1                           true         DaemonSet\n" +
	"deployments                         deploy       apps/v1                           true         Deployment\n" +
	"replicasets                         rs           apps/v1                           true         ReplicaSet\n" +
	"statefulsets                        sts          apps/v1                           true         StatefulSet\n" +
	"cronjobs                            cj           batch/v1                          true         CronJob\n" +
	"jobs                                             batch/v1                          true         Job\n" +
	"endpointslices                                   discovery.k8s.io/v1               true         EndpointSlice\n" +
	"poddisruptionbudgets                pdb          policy/v1                         true         PodDisruptionBudget\n" +
	"clusterrolebindings                              rbac.authorization.k8s.io/v1      false        ClusterRoleBinding\n" +
	"clusterroles                                     rbac.authorization.k8s.io/v1      false        ClusterRole\n" +
	"rolebindings                                     rbac.authorization.k8s.io/v1      true         RoleBinding\n" +
	"roles                                            rbac.authorization.k8s.io/v1      true         Role\n" +
	"storageclasses                      sc           storage.k8s.io/v1                 false        StorageClass\n"

func TestAPIResourcesTable(t *testing.T) {
	var buf bytes.Buffer
	if err := printAPIResources(&buf, nil); err != nil {
		t.Fatal(err)
	}
	want := apiResourcesTable
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestLabelColumns(t *testing.T) {
	now := fixtureT0.Add(3 * time.Hour)
	pod := resource{pod: fixturePod(fixtureT0)}
	pod.pod.Labels["app.kubernetes.io/name"] = "hello"
	tests := []struct {
		name   string
		cols   tableColumns
		header []string
		row    []string
	}{
		{"show labels", tableColumns{kind: "pod", showLabels: true},
			[]string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"},
			[]string{"hello-abc12", "1/1", "Running", "2", "3h", "app=hello,app.kubernetes.io/name=hello,pod-template-hash=abc12"}},
		{"label columns, one absent, a prefixed key by its last segment", tableColumns{kind: "pod", labelColumns: []string{"app", "tier", "app.kubernetes.io/name"}},
			[]string{"NAME", "READY", "STATUS", "RESTARTS", "AGE", "APP", "TIER", "NAME"},
			[]string{"hello-abc12", "1/1", "Running", "2", "3h", "hello", "", "hello"}},
		{"kind prefix after the namespace, label columns after wide ones", tableColumns{kind: "pod", withNS: true, withKind: true, wide: true, labelColumns: []string{"app"}, showLabels: true},
			[]string{"NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "APP", "LABELS"},
			[]string{"default", "pod/hello-abc12", "1/1", "Running", "2", "3h", "10.42.0.7", "node-1", "hello", "app=hello,app.kubernetes.io/name=hello,pod-template-hash=abc12"}},
		{"deployment", tableColumns{kind: "deployment", withKind: true, showLabels: true},
			[]string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "LABELS"},
			[]string{"deployment.apps/hello", "2/3", "3", "2", "3h", "team=web"}},
		{"node without the label", tableColumns{kind: "node", labelColumns: []string{"app"}},
			[]string{"NAME", "STATUS", "ROLES", "AGE", "VERSION", "APP"},
			[]string{"node-1", "Ready", "<none>", "3h", "v0.1.0", ""}},
	}
	for _, tt := range tests {
		r := pod
		switch tt.cols.kind {
		case "deployment":
			r = resource{workload: fixtureWorkload(fixtureT0)}
		case "node":
			r = resource{node: fixtureNode(fixtureT0, now)}
		}
		if got := tt.cols.header(); !reflect.DeepEqual(got, tt.header) {
			t.Errorf("%s: header %q, want %q", tt.name, got, tt.header)
		}
		if got := tt.cols.row(r, now); !reflect.DeepEqual(got, tt.row) {
			t.Errorf("%s: row %q, want %q", tt.name, got, tt.row)
		}
	}
	unlabelled := resource{pod: fixturePendingPod(fixtureT0)}
	if got := (tableColumns{kind: "pod", showLabels: true}).row(unlabelled, now); got[len(got)-1] != "<none>" {
		t.Errorf("a pod without labels: %q", got)
	}
}

// A pod being deleted shows no container ready, as kubectl shows it once the
// kubelet has stopped them: 0/1 Terminating, not 1/1.
func TestTerminatingPodRow(t *testing.T) {
	p := fixturePod(fixtureT0)
	p.Deleting = true
	want := []string{"hello-abc12", "0/1", "Terminating", "2", "3h"}
	if got := tableRow(resource{pod: p}, fixtureT0.Add(3*time.Hour), false, false); !reflect.DeepEqual(got, want) {
		t.Errorf("row %q, want %q", got, want)
	}
}

func TestLagging(t *testing.T) {
	want := map[string]uint64{events.StreamDecisions: 10, events.StreamObservations: 4}
	tests := []struct {
		got  map[string]uint64
		want string
	}{
		{map[string]uint64{events.StreamDecisions: 10, events.StreamObservations: 4, events.StreamHeartbeats: 99}, ""},
		{map[string]uint64{events.StreamDecisions: 12, events.StreamObservations: 5}, ""},
		{map[string]uint64{events.StreamDecisions: 9, events.StreamObservations: 4}, "GANTRY_DECISIONS applied up to 9 of 10"},
		{map[string]uint64{}, "GANTRY_DECISIONS applied up to 0 of 10"},
		{map[string]uint64{events.StreamDecisions: 10}, "GANTRY_OBSERVATIONS applied up to 0 of 4"},
	}
	for _, tt := range tests {
		if got := lagging(tt.got, want); got != tt.want {
			t.Errorf("lagging(%v) = %q, want %q", tt.got, got, tt.want)
		}
	}
}

// A running pod on a node decided NotReady is Unknown and 0/1 ready.
func TestPodOnANodeNotReadyRow(t *testing.T) {
	p := fixturePod(fixtureT0)
	if ready, total := podReadyCount(p); ready != total {
		t.Fatalf("running pod: %d/%d ready", ready, total)
	}
	p.NodeNotReadySince = &fixtureT0
	row := podRow(p, fixtureT0, false)
	if row[1] != "0/1" || row[2] != "Unknown" {
		t.Errorf("row %q, want READY 0/1 and STATUS Unknown", row)
	}
}
