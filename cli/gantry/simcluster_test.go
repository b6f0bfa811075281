package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/node"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/runner"
)

// simCluster is the whole control plane in process, on an in-process NATS,
// and node agents on the simulated runtime, until the test ends.
type simCluster struct {
	t     *testing.T
	ctx   context.Context
	conn  *bus.Conn
	url   string
	log   zerolog.Logger
	done  []chan error
	conns []*bus.Conn
}

func newSimCluster(t *testing.T) *simCluster {
	t.Helper()
	conn, url := bustest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	plane, err := services.Start(ctx, conn, nil, services.Config{Runner: runner.Config{Resync: 100 * time.Millisecond}}, log)
	if err != nil {
		t.Fatal(err)
	}
	c := &simCluster{t: t, ctx: ctx, conn: conn, url: url, log: log}
	t.Cleanup(func() {
		cancel()
		for _, d := range c.done {
			if err := <-d; err != nil {
				t.Errorf("agent: %v", err)
			}
		}
		for _, nc := range c.conns {
			nc.Close()
		}
		plane.Wait()
	})
	if err := plane.WaitReady(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// addNode starts a node agent named name on a simulated runtime; sc and nc
// are the runtime's and the agent's settings, their pod CIDR and name
// filled in. It returns once the node has registered.
func (c *simCluster) addNode(name string, sc sim.Config, nc node.Config) *sim.Runtime {
	c.t.Helper()
	sc.PodCIDR = fmt.Sprintf("10.42.%d.0/24", len(c.done))
	nc.Name, nc.PodCIDR = name, sc.PodCIDR
	rt, err := sim.New(sc)
	if err != nil {
		c.t.Fatal(err)
	}
	conn, err := bus.Connect(c.url, "node-"+name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.conns = append(c.conns, conn)
	agent := node.New(nc, rt, conn, c.log)
	d := make(chan error, 1)
	c.done = append(c.done, d)
	go func() { d <- agent.Run(c.ctx) }()
	clitest.Eventually(c.t, "node "+name+" registered", func() bool {
		for _, n := range kvAll[projections.Node](c.t, c.conn, bus.BucketNodes) {
			if n.Info.Name == name {
				return true
			}
		}
		return false
	})
	return rt
}

// gantry runs the CLI against the cluster.
func (c *simCluster) gantry(args ...string) (code int, stdout, stderr string) {
	return runGantry(append([]string{"--nats", c.url}, args...)...)
}

// apply applies a manifest given as text.
func (c *simCluster) apply(yaml string) {
	c.t.Helper()
	if code, out, errOut := c.gantry("apply", "-f", writeManifest(c.t, "m.yaml", yaml)); code != 0 {
		c.t.Fatalf("apply: %d %s %s", code, out, errOut)
	}
}
