package node_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
)

// askLogs plays the client of the logs protocol: it returns the log and the
// node's error header.
func askLogs(t *testing.T, nc *nats.Conn, nodeName string, req api.LogsRequest) (log, errHeader string) {
	t.Helper()
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest(events.NodeRPCSubject(nodeName, "logs"), inbox, data); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("logs of %+v: %v", req, err)
		}
		if m.Header.Get(api.HeaderEOF) != "" {
			return b.String(), m.Header.Get(api.HeaderError)
		}
		b.Write(m.Data)
	}
}

// After a restart the agent serves the previous instance's log when asked
// for it, and answers kubectl's error for a container never restarted.
func TestPreviousLogServed(t *testing.T) {
	conn, url := bustest.Start(t)
	bind(t, conn.JS, "n1", 0)
	bind(t, conn.JS, "n1", 1)
	rt := runSimAgent(t, url, node.Config{Name: "n1", PodCIDR: "10.42.0.0/24", ResyncEvery: 20 * time.Millisecond,
		HeartbeatEvery: 50 * time.Millisecond, BackoffBase: time.Millisecond},
		zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	web := func(uid string) node.ContainerState {
		p, ok, err := rt.Pod(context.Background(), uid)
		if err != nil || !ok || len(p.Containers) != 1 {
			return node.ContainerState{}
		}
		return p.Containers[0]
	}
	eventually(t, "both pods running", func() bool {
		return web("uid-00000000").Running && web("uid-00000001").Running
	})
	rt.Exit("uid-00000000", "web", 1)
	eventually(t, "web-00 restarted", func() bool {
		c := web("uid-00000000")
		return c.Running && c.Restarts == 1
	})

	log, e := askLogs(t, conn.NC, "n1", api.LogsRequest{Namespace: "default", Pod: "web-00", Previous: true, Follow: true})
	if want := "simulated container web of default/web-00 started\nsimulated container web exited with code 1\n"; log != want || e != "" {
		t.Errorf("previous log of web-00: %q, error %q; want %q", log, e, want)
	}
	log, e = askLogs(t, conn.NC, "n1", api.LogsRequest{Namespace: "default", Pod: "web-00"})
	if want := "simulated container web of default/web-00 started (restart 1)\n"; log != want || e != "" {
		t.Errorf("current log of web-00: %q, error %q; want %q", log, e, want)
	}
	_, e = askLogs(t, conn.NC, "n1", api.LogsRequest{Namespace: "default", Pod: "web-01", Container: "web", Previous: true})
	if want := `previous terminated container "web" in pod "web-01" not found`; e != want {
		t.Errorf("previous log of a container never restarted: error %q, want %q", e, want)
	}
}
