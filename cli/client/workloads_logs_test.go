package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
)

// kubectl's choice of the pod whose log `logs deploy/NAME` shows: bound,
// running, ready, fewer restarts, older, in that order of importance.
func TestPickPod(t *testing.T) {
	t0 := fixtureT0
	pod := func(name string, mutate func(p *projections.Pod)) *projections.Pod {
		p := fixturePod(t0)
		p.Name = name
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	unbound := func(p *projections.Pod) { p.Node, p.Status = "", nil }
	pending := func(p *projections.Pod) { p.Status.Phase = events.PhasePending }
	notReady := func(p *projections.Pod) { p.Status.Containers[0].Ready = false }
	restarted := func(p *projections.Pod) { p.Status.Containers[0].RestartCount = 9 }
	younger := func(p *projections.Pod) { p.CreatedAt = t0.Add(time.Minute) }
	cases := []struct {
		name string
		pods []*projections.Pod
		want string
	}{
		{"bound before unbound", []*projections.Pod{pod("a", unbound), pod("b", pending)}, "b"},
		{"running before pending", []*projections.Pod{pod("a", pending), pod("b", notReady)}, "b"},
		{"ready before not", []*projections.Pod{pod("a", notReady), pod("b", restarted)}, "b"},
		{"fewer restarts", []*projections.Pod{pod("a", restarted), pod("b", younger)}, "b"},
		{"older", []*projections.Pod{pod("a", younger), pod("b", nil)}, "b"},
		{"then by name", []*projections.Pod{pod("b", nil), pod("a", nil)}, "a"},
	}
	for _, tc := range cases {
		if got := pickPod(tc.pods).Name; got != tc.want {
			t.Errorf("%s: picked %s, want %s", tc.name, got, tc.want)
		}
	}
}

// logs job/NAME and deploy/NAME show the log of the object's first pod and
// say which on stderr when there were several, as kubectl.
func TestLogsOfWorkloadsAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	c.seedWorkloads(t, created)
	nc := c.conn.NC
	sub, err := nc.Subscribe(events.NodeRPCSubject("node-1", "logs"), func(m *nats.Msg) {
		var req api.LogsRequest
		_ = json.Unmarshal(m.Data, &req)
		_ = nc.Publish(m.Reply, []byte("log of "+req.Pod+"\n"))
		end := nats.NewMsg(m.Reply)
		end.Header.Set(api.HeaderEOF, "1")
		_ = nc.PublishMsg(end)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	rs := helloRSName()
	cases := []struct {
		args             []string
		code             int
		wantOut, wantErr string
	}{
		{[]string{"logs", "job/pi"}, 0, "log of pi-x1\n", "Found 2 pods, using pod/pi-x1\n"},
		{[]string{"logs", "jobs.batch/pi", "-c", "web"}, 0, "log of pi-x1\n", "Found 2 pods, using pod/pi-x1\n"},
		{[]string{"logs", "deploy/hello"}, 0, "log of " + rs + "-bbbbb\n", "Found 2 pods, using pod/" + rs + "-bbbbb\n"},
		{[]string{"logs", "rs/" + rs}, 0, "log of " + rs + "-bbbbb\n", "Found 2 pods, using pod/" + rs + "-bbbbb\n"},
		{[]string{"logs", "pod/pi-x2"}, 0, "log of pi-x2\n", ""},
		{[]string{"logs", "ds/agent"}, 1, "", "error: no pods found for daemonset.apps/agent\n"},
		{[]string{"logs", "job/nope"}, 1, "", "error: jobs.batch \"nope\" not found\n"},
		{[]string{"logs", "job/report-100"}, 1, "", "error: no pods found for job.batch/report-100\n"},
	}
	for _, tc := range cases {
		code, out, errOut := c.gantry(tc.args...)
		if code != tc.code || out != tc.wantOut || errOut != tc.wantErr {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, errOut, tc.code, tc.wantOut, tc.wantErr)
		}
	}
}
