package client

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/cli/clitest"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
)

func TestParseCascade(t *testing.T) {
	cases := []struct{ in, want, warning, err string }{
		{in: "background", want: "Background"},
		{in: "Foreground", want: "Foreground"},
		{in: "orphan", want: "Orphan"},
		{in: "true", want: "Background", warning: "warning: --cascade=true is deprecated (boolean value) and can be replaced with --cascade=background."},
		{in: "false", want: "Orphan", warning: "warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan."},
		{in: "sideways", err: `invalid cascade value (sideways). Must be "background", "foreground", or "orphan".`},
	}
	for _, tc := range cases {
		got, warning, err := parseCascade(tc.in)
		if got != tc.want || warning != tc.warning || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%q: %q, %q, %v; want %q, %q, %q", tc.in, got, warning, err, tc.want, tc.warning, tc.err)
		}
	}
	code, _, errOut := runGantry("delete", "deploy", "hello", "--cascade=sideways", "--nats", clitest.ClosedPort(t))
	if code != 1 || errOut != "error: invalid cascade value (sideways). Must be \"background\", \"foreground\", or \"orphan\".\n" {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// delete --cascade carries the propagation in the intent; foreground waits
// for the ReplicaSets to be deleted and their pods gone, orphan for nothing.
func TestDeleteCascadeAgainstNATS(t *testing.T) {
	c := newReadCluster(t)
	created := time.Now().Add(-3 * time.Hour)
	c.seed(t, created)
	c.seedWorkloads(t, created)
	var mu sync.Mutex
	var got []events.IntentDeleted
	c.admitting(t, func(id string, ev events.Event) *events.AdmissionAccepted {
		del, ok := ev.(*events.IntentDeleted)
		if !ok {
			return nil
		}
		mu.Lock()
		got = append(got, *del)
		mu.Unlock()
		return &events.AdmissionAccepted{IntentID: id, Op: events.OpDelete, Kind: del.Kind, Namespace: del.Namespace, Name: del.Name,
			Propagation: del.Propagation}
	})

	// Orphan: done once admitted, the pods stay.
	code, out, errOut := c.gantry("delete", "ds", "agent", "--cascade=false")
	if code != 0 || out != "daemonset.apps/agent deleted\n" ||
		errOut != "warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan.\n" {
		t.Errorf("orphan: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Foreground: waits while the ReplicaSets and their pods are there.
	done := make(chan [3]string, 1)
	go func() {
		code, out, errOut := c.gantry("delete", "deploy", "hello", "--cascade=foreground")
		done <- [3]string{string(rune('0' + code)), out, errOut}
	}()
	clitest.Eventually(t, "the deletion admitted", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	select {
	case r := <-done:
		t.Fatalf("foreground returned while the ReplicaSets live: %q", r)
	case <-time.After(300 * time.Millisecond): // a check that it is still waiting, not a synchronization
	}
	rs := helloRSName()
	for _, name := range []string{rs, "hello-6d8f7b9c4x"} {
		r := fixtureRS(created, name, 0, projections.WorkloadStatus{})
		r.Deleted = true
		c.put(t, bus.BucketWorkloads, "replicaset.default."+name, r)
	}
	c.del(t, bus.BucketPods, "default.hello-abc12")
	c.del(t, bus.BucketPods, "default."+rs+"-aaaaa")
	c.del(t, bus.BucketPods, "default."+rs+"-bbbbb")
	if r := <-done; r != [3]string{"0", "deployment.apps/hello deleted\n", ""} {
		t.Errorf("foreground: %q", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Propagation != "Orphan" || got[1].Propagation != "Foreground" {
		t.Errorf("intents %+v", got)
	}
	if !strings.Contains(got[1].Kind, "deployment") {
		t.Errorf("intents %+v", got)
	}
}

func TestDeletionGrace(t *testing.T) {
	for _, c := range []struct {
		grace int64
		force bool
		want  string
	}{
		{-1, false, "<nil>"}, {-1, true, "0"}, {0, true, "0"}, {0, false, "1"}, {30, false, "30"}, {5, true, "5"},
		{-2, false, "error"}, {manifest.MaxGracePeriodSeconds + 1, false, "error"},
	} {
		got, err := deletionGrace(c.grace, c.force)
		s := "<nil>"
		switch {
		case err != nil:
			s = "error"
		case got != nil:
			s = fmt.Sprint(*got)
		}
		if s != c.want {
			t.Errorf("--grace-period=%d --force=%v: %s (%v), want %s", c.grace, c.force, s, err, c.want)
		}
	}
}
