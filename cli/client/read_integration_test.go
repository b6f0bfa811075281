package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
)

// readCluster is an in-process NATS with the log and the read models
// provisioned, written to directly as the services would.
type readCluster struct {
	url  string
	conn *bus.Conn
}

func newReadCluster(t *testing.T) *readCluster {
	t.Helper()
	conn, url := bustest.Start(t)
	return &readCluster{url: url, conn: conn}
}

func (c *readCluster) publish(t *testing.T, subject string, ev events.Event, source, object string, at time.Time) {
	t.Helper()
	env, err := events.Seal(ev, events.Meta{ID: events.NewID(), Source: source, Subject: object, Time: at})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.PublishOne(context.Background(), c.conn.JS, bus.Outgoing{Subject: subject, Envelope: env}); err != nil {
		t.Fatal(err)
	}
}

func (c *readCluster) put(t *testing.T, bucket, key string, v any) {
	t.Helper()
	kv, err := c.conn.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

func (c *readCluster) del(t *testing.T, bucket, key string) {
	t.Helper()
	kv, err := c.conn.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

// progress writes the projector's progress record; behind is subtracted
// from the decisions stream's last sequence.
func (c *readCluster) progress(t *testing.T, behind uint64) {
	t.Helper()
	applied := map[string]uint64{}
	for _, s := range []string{events.StreamDecisions, events.StreamObservations} {
		seq, err := bus.LastSeq(context.Background(), c.conn.JS, s)
		if err != nil {
			t.Fatal(err)
		}
		applied[s] = seq
	}
	applied[events.StreamDecisions] -= behind
	c.put(t, bus.BucketProjector, bus.KeyProgress, api.Progress{Applied: applied})
}

// gantry runs the CLI with args against the cluster.
func (c *readCluster) gantry(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"--nats", c.url}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// seed writes a small cluster: deployment hello with a running pod on
// node-1, an unschedulable pod, a pod in namespace shop, and their log.
func (c *readCluster) seed(t *testing.T, created time.Time) {
	t.Helper()
	hello, big := fixturePod(created), fixturePendingPod(created)
	shop := fixturePod(created)
	shop.Namespace, shop.Name, shop.UID, shop.Owner = "shop", "web-1", "pod-uid-3", nil
	at := created
	next := func() time.Time { at = at.Add(time.Second); return at }

	c.publish(t, events.IntentSubject("default", "deployment", "hello"),
		&events.IntentApplied{Kind: "deployment", Namespace: "default", Name: "hello", Object: json.RawMessage(`{}`)}, "cli", "default/hello", next())
	c.publish(t, events.AdmissionSubject("default", "deployment", "hello"),
		&events.AdmissionAccepted{Op: events.OpApply, Kind: "deployment", Namespace: "default", Name: "hello", UID: "dep-uid-1", Generation: 1},
		"admission", "default/hello", next())
	c.publish(t, events.ObsNodeSubject("node-1"), &events.NodeRegistered{Node: fixtureNode(created, created).Info},
		"node/node-1", "node-1", next())
	planned := events.PodPlanned{Namespace: "default", Name: hello.Name, UID: hello.UID, Owner: hello.Owner, Spec: hello.Spec}
	c.publish(t, events.PodDecisionSubject("default", hello.Name), &planned, "replica", "default/"+hello.Name, next())
	c.publish(t, events.PodDecisionSubject("default", hello.Name),
		&events.PodBound{Pod: planned, Node: "node-1", Epoch: 1, Filters: []string{"NodeReady"}, Feasible: 1},
		"scheduler", "default/"+hello.Name, next())
	c.publish(t, events.ObsPodSubject("node-1", "default", hello.Name), hello.Status, "node/node-1", "default/"+hello.Name, next())
	c.publish(t, events.PodDecisionSubject("default", big.Name),
		&events.PodUnschedulable{Namespace: "default", Name: big.Name, UID: big.UID, Message: big.Unschedulable},
		"scheduler", "default/"+big.Name, next())

	c.put(t, bus.BucketPods, "default."+hello.Name, hello)
	c.put(t, bus.BucketPods, "default."+big.Name, big)
	c.put(t, bus.BucketPods, "shop.web-1", shop)
	c.put(t, bus.BucketWorkloads, "deployment.default.hello", fixtureWorkload(created))
	deleted := fixtureWorkload(created)
	deleted.Name, deleted.Deleted = "gone", true
	c.put(t, bus.BucketWorkloads, "deployment.default.gone", deleted)
	c.put(t, bus.BucketNodes, "node-1", fixtureNode(created, time.Now()))
	c.progress(t, 0)
}

func TestReadCommandsAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)

	t.Run("get pods", func(t *testing.T) {
		code, out, errOut := c.gantry("get", "pods")
		want := "NAME          READY   STATUS    RESTARTS   AGE\n" +
			"big-xyz       0/1     Pending   0          3h\n" +
			"hello-abc12   1/1     Running   2          3h\n"
		if code != 0 || out != want || errOut != "" {
			t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out, want)
		}
	})
	t.Run("get pods in all namespaces, wide", func(t *testing.T) {
		_, out, _ := c.gantry("get", "pods", "-A", "-o", "wide")
		want := "NAMESPACE   NAME          READY   STATUS    RESTARTS   AGE   IP          NODE\n" +
			"default     big-xyz       0/1     Pending   0          3h    <none>      <none>\n" +
			"default     hello-abc12   1/1     Running   2          3h    10.42.0.7   node-1\n" +
			"shop        web-1         1/1     Running   2          3h    10.42.0.7   node-1\n"
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("empty namespace", func(t *testing.T) {
		code, out, errOut := c.gantry("get", "pods", "-n", "nothing")
		if code != 0 || out != "" || errOut != "No resources found in nothing namespace.\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
	t.Run("not found", func(t *testing.T) {
		code, _, errOut := c.gantry("get", "pod", "nope")
		if code != 1 || errOut != "error: pods \"nope\" not found\n" {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
		code, _, errOut = c.gantry("get", "deployment", "gone")
		if code != 1 || errOut != "error: deployments.apps \"gone\" not found\n" {
			t.Errorf("a deleted deployment is not found: exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("get pod as json", func(t *testing.T) {
		code, out, _ := c.gantry("get", "pod", "hello-abc12", "-o", "json")
		var pod struct {
			Kind     string
			Metadata struct {
				Name            string
				OwnerReferences []struct{ Kind, Name string }
			}
			Status struct {
				Phase, HostIP string
			}
		}
		if err := json.Unmarshal([]byte(out), &pod); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		if pod.Kind != "Pod" || pod.Metadata.Name != "hello-abc12" || pod.Status.Phase != "Running" ||
			pod.Status.HostIP != "10.0.0.1" || len(pod.Metadata.OwnerReferences) != 1 || pod.Metadata.OwnerReferences[0].Kind != "Deployment" {
			t.Errorf("unexpected pod:\n%s", out)
		}
	})
	t.Run("get pods as a json list", func(t *testing.T) {
		_, out, _ := c.gantry("get", "pods", "-o", "json")
		var list struct {
			APIVersion, Kind string
			Items            []struct{ Kind string }
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Kind != "Pod" {
			t.Errorf("unexpected list:\n%s", out)
		}
	})
	t.Run("get deployments", func(t *testing.T) {
		_, out, _ := c.gantry("get", "deploy")
		want := "NAME    READY   UP-TO-DATE   AVAILABLE   AGE\nhello   2/3     3            2           3h\n"
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
		_, out, _ = c.gantry("get", "deploy", "hello", "-o", "yaml")
		if !strings.HasPrefix(out, "apiVersion: apps/v1\nkind: Deployment\n") || !strings.Contains(out, "  readyReplicas: 2\n") {
			t.Errorf("yaml:\n%s", out)
		}
	})
	t.Run("get nodes", func(t *testing.T) {
		_, out, _ := c.gantry("get", "nodes", "-o", "wide")
		want := "NAME     STATUS   ROLES    AGE   VERSION   INTERNAL-IP   RUNTIME      CPU   MEMORY   PODS-CIDR\n" +
			"node-1   Ready    <none>   3h    v0.1.0    10.0.0.1      containerd   8     16Gi     10.42.0.0/24\n"
		if out != want {
			t.Errorf("got\n%s\nwant\n%s", out, want)
		}
	})
	t.Run("describe pod", func(t *testing.T) {
		code, out, errOut := c.gantry("describe", "pod", "hello-abc12")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		hasLine(t, out, "Node: node-1/10.0.0.1")
		for _, want := range []string{"AdmissionAccepted", "PodPlanned", "PodBound", "PodStatusObserved"} {
			if !strings.Contains(out, "  "+want+" ") && !strings.Contains(out, want+"  ") {
				t.Errorf("describe lacks %s:\n%s", want, out)
			}
		}
		if strings.Contains(out, "PodUnschedulable") || strings.Contains(out, "NodeRegistered") {
			t.Errorf("describe shows another object's events:\n%s", out)
		}
		i, j := strings.Index(out, "PodPlanned"), strings.Index(out, "PodStatusObserved")
		if i < 0 || j < i {
			t.Errorf("events are not oldest first:\n%s", out)
		}
	})
	t.Run("describe deployment and node", func(t *testing.T) {
		_, out, _ := c.gantry("describe", "deployment", "hello")
		hasLine(t, out, "Replicas: 3 desired | 3 updated | 3 total | 2 available | 1 unavailable")
		if !strings.Contains(out, "accepted apply of deployment default/hello: generation 1") {
			t.Errorf("deployment events:\n%s", out)
		}
		_, out, _ = c.gantry("describe", "node", "node-1")
		hasLine(t, out, "Non-terminated Pods: (2 in total)")
		if !strings.Contains(out, "registered: node-1 cpu 8") {
			t.Errorf("node events:\n%s", out)
		}
		code, _, errOut := c.gantry("describe", "pod", "nope")
		if code != 1 || !strings.Contains(errOut, `pods "nope" not found`) {
			t.Errorf("exit %d, stderr %q", code, errOut)
		}
	})
	t.Run("events", func(t *testing.T) {
		code, out, errOut := c.gantry("events")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 7 {
			t.Fatalf("exit %d, stderr %q, %d lines:\n%s", code, errOut, len(lines), out)
		}
		order := []string{"IntentApplied", "AdmissionAccepted", "NodeRegistered", "PodPlanned", "PodBound", "PodStatusObserved", "PodUnschedulable"}
		for i, typ := range order {
			if !strings.Contains(lines[i], "  "+typ+" ") {
				t.Errorf("line %d is not %s: %s", i, typ, lines[i])
			}
		}
		if !strings.Contains(lines[0], "  intents/1 ") || !strings.Contains(lines[5], "  observations/2 ") {
			t.Errorf("stream/seq columns:\n%s", out)
		}
		_, out, _ = c.gantry("events", "--stream", "decisions", "-o", "json")
		lines = strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 {
			t.Fatalf("%d decisions:\n%s", len(lines), out)
		}
		for _, l := range lines {
			if _, err := events.Parse([]byte(l)); err != nil {
				t.Errorf("not an envelope: %v: %s", err, l)
			}
		}
		_, out, _ = c.gantry("events", "--since", "1m")
		if out != "" {
			t.Errorf("nothing happened in the last minute, got\n%s", out)
		}
		_, out, _ = c.gantry("events", "--since", "4h", "--stream", "observations")
		if n := strings.Count(out, "\n"); n != 2 {
			t.Errorf("%d observations in the last 4h:\n%s", n, out)
		}
	})
	t.Run("logs", func(t *testing.T) { testLogs(t, c) })
	t.Run("read your writes", func(t *testing.T) { testReadYourWrites(t, c, created) })
	t.Run("watch", func(t *testing.T) { testWatch(t, c, created) })
	t.Run("events follow", func(t *testing.T) { testEventsFollow(t, c) })
}

func testLogs(t *testing.T, c *readCluster) {
	code, _, errOut := c.gantry("logs", "big-xyz")
	if code != 1 || errOut != "error: pod big-xyz is not scheduled yet\n" {
		t.Errorf("unbound: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = c.gantry("logs", "nope")
	if code != 1 || errOut != "error: pods \"nope\" not found\n" {
		t.Errorf("missing: exit %d, stderr %q", code, errOut)
	}
	start := time.Now()
	code, _, errOut = c.gantry("logs", "hello-abc12")
	if code != 1 || errOut != "error: node node-1 did not answer (is its agent running?)\n" {
		t.Errorf("no agent: exit %d, stderr %q", code, errOut)
	}
	t.Logf("no agent noticed after %s", time.Since(start))

	// A node agent's side of the protocol.
	nc := c.conn.NC
	var mu sync.Mutex
	var reqs []api.LogsRequest
	sub, err := nc.Subscribe(events.NodeRPCSubject("node-1", "logs"), func(m *nats.Msg) {
		var req api.LogsRequest
		_ = json.Unmarshal(m.Data, &req)
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		if req.Follow {
			go followLogs(nc, m.Reply)
			return
		}
		end := nats.NewMsg(m.Reply)
		end.Header.Set(api.HeaderEOF, "1")
		if req.Container == "nope" {
			end.Header.Set(api.HeaderError, `container "nope" is not in pod default/hello-abc12`)
		} else {
			_ = nc.Publish(m.Reply, []byte("hello\n"))
			_ = nc.Publish(m.Reply, []byte("world\n"))
		}
		_ = nc.PublishMsg(end)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The server has the subscription once a flush comes back; before, a
	// request from another connection can find no responder.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := c.gantry("logs", "pod/hello-abc12", "-c", "web")
	if code != 0 || out != "hello\nworld\n" || errOut != "" {
		t.Errorf("logs: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	mu.Lock()
	if len(reqs) != 1 || reqs[0] != (api.LogsRequest{Namespace: "default", Pod: "hello-abc12", Container: "web"}) {
		t.Errorf("requests %+v", reqs)
	}
	mu.Unlock()
	code, _, errOut = c.gantry("logs", "hello-abc12", "-c", "nope")
	if code != 1 || errOut != "error: container \"nope\" is not in pod default/hello-abc12\n" {
		t.Errorf("node error: exit %d, stderr %q", code, errOut)
	}

	// Following: the client keeps the stream alive until interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	var followed clitest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runLogs(ctx, c.conn, logsOptions{namespace: "default", follow: true}, "hello-abc12", &followed, io.Discard)
	}()
	clitest.Eventually(t, "a keepalive answered", func() bool { return followed.String() == "first\nkeepalive seen\n" })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("an interrupted follow ends cleanly, got %v", err)
	}
}

// followLogs plays a node following a log: one line, then another once the
// client's keepalive arrives.
func followLogs(nc *nats.Conn, reply string) {
	alive, err := nc.SubscribeSync(reply + ".alive")
	if err != nil {
		return
	}
	defer func() { _ = alive.Unsubscribe() }()
	_ = nc.Publish(reply, []byte("first\n"))
	if _, err := alive.NextMsg(3 * api.LogsKeepAlive); err == nil {
		_ = nc.Publish(reply, []byte("keepalive seen\n"))
	}
}

// testReadYourWrites: a read waits for the projector to apply what is in the
// log, and warns when it does not.
func testReadYourWrites(t *testing.T, c *readCluster, created time.Time) {
	old := readModelWait
	defer func() { readModelWait = old }()

	late := fixturePendingPod(created)
	late.Name, late.UID = "late-1", "pod-uid-9"
	c.publish(t, events.PodDecisionSubject("default", late.Name),
		&events.PodPlanned{Namespace: "default", Name: late.Name, UID: late.UID, Spec: late.Spec}, "replica", "default/late-1", time.Now())
	// The projector has not applied it yet; it will, while get waits.
	done := make(chan struct{})
	var code int
	var out, errOut string
	go func() {
		defer close(done)
		code, out, errOut = c.gantry("get", "pods")
	}()
	c.put(t, bus.BucketPods, "default.late-1", late)
	c.progress(t, 0)
	<-done
	if code != 0 || !strings.Contains(out, "late-1") || errOut != "" {
		t.Errorf("exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}

	readModelWait = 100 * time.Millisecond
	c.progress(t, 1)
	code, out, errOut = c.gantry("get", "pods")
	if code != 0 || !strings.Contains(out, "late-1") ||
		!strings.Contains(errOut, "warning: the read model has not caught up with the log after 100ms (GANTRY_DECISIONS applied up to") {
		t.Errorf("exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	c.progress(t, 0)
}

func testWatch(t *testing.T, c *readCluster, created time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut clitest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runGet(ctx, c.conn.JS, getOptions{kind: "pod", namespace: "default", watch: true}, &out, &errOut)
	}()
	clitest.Eventually(t, "the initial table", func() bool { return strings.Contains(out.String(), "hello-abc12") })
	crashing := fixturePod(created)
	crashing.Status.Phase = events.PhaseRunning
	crashing.Status.Containers[0].State, crashing.Status.Containers[0].Reason = events.ContainerWaiting, "CrashLoopBackOff"
	crashing.Status.Containers[0].Ready, crashing.Status.Containers[0].RestartCount = false, 3
	c.put(t, bus.BucketPods, "default.hello-abc12", crashing)
	clitest.Eventually(t, "the changed row", func() bool { return strings.Contains(out.String(), "CrashLoopBackOff") })
	c.put(t, bus.BucketPods, "shop.web-1", crashing) // another namespace: not shown
	c.del(t, bus.BucketPods, "default.big-xyz")
	clitest.Eventually(t, "the deleted row", func() bool { return strings.Count(out.String(), "big-xyz") == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"NAME          READY   STATUS    RESTARTS   AGE",
		"big-xyz       0/1     Pending   0          3h",
		"hello-abc12   1/1     Running   2          3h",
		"late-1        0/1     Pending   0          3h",
		"hello-abc12   0/1     CrashLoopBackOff   3          3h",
		"big-xyz       0/1     Terminating        0          3h", // gone: its last row; columns never narrow, as with kubectl
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch printed\n%s\nwant\n%s", out.String(), strings.Join(want, "\n"))
	}
	c.put(t, bus.BucketPods, "default.hello-abc12", fixturePod(created))
	c.put(t, bus.BucketPods, "default.big-xyz", fixturePendingPod(created))
}

func testEventsFollow(t *testing.T, c *readCluster) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut clitest.Buffer
	done := make(chan error, 1)
	streams, _ := eventStreams("all")
	go func() {
		done <- runEvents(ctx, c.conn.JS, streams, eventsOptions{follow: true}, &out, &errOut)
	}()
	clitest.Eventually(t, "the log so far", func() bool { return strings.Contains(out.String(), "PodUnschedulable") })
	c.publish(t, events.ObsPodSubject("node-1", "default", "hello-abc12"),
		&events.PodRemoved{Namespace: "default", Name: "hello-abc12", UID: "pod-uid-1", Node: "node-1", Epoch: 1},
		"node/node-1", "default/hello-abc12", time.Now())
	if _, err := c.conn.JS.Publish(ctx, events.ObsPodSubject("node-1", "default", "junk"), []byte("not json")); err != nil {
		t.Fatal(err)
	}
	clitest.Eventually(t, "the new event", func() bool { return strings.Contains(out.String(), "removed from node-1 (epoch 1)") })
	clitest.Eventually(t, "the warning", func() bool { return strings.Contains(errOut.String(), "warning: observations/") })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// admitting stands in for admission until the test ends: every intent
// appended is decoded and handed to verdict, and the verdict it returns
// (nil: none) is published on the intent's admission subject.
func (c *readCluster) admitting(t *testing.T, verdict func(intentID string, ev events.Event) *events.AdmissionAccepted) {
	t.Helper()
	sub, err := c.conn.NC.Subscribe("gantry.intent.>", func(m *nats.Msg) {
		env, err := events.Parse(m.Data)
		if err != nil {
			return
		}
		ev, err := env.Decode()
		if err != nil {
			return
		}
		if v := verdict(env.ID, ev); v != nil {
			c.publish(t, events.AdmissionSubject(v.Namespace, v.Kind, v.Name), v, "admission", v.Namespace+"/"+v.Name, time.Now())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := c.conn.NC.Flush(); err != nil {
		t.Fatal(err)
	}
}
