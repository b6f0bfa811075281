package client

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRelaxedJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		".metadata.name":                "{.metadata.name}",
		"metadata.name":                 "{.metadata.name}",
		"{.metadata.creationTimestamp}": "{.metadata.creationTimestamp}",
		"{status.startTime}":            "{.status.startTime}",
		".spec.containers[0].image":     "{.spec.containers[0].image}",
	} {
		if got, err := relaxedJSONPath(in); err != nil || got != want {
			t.Errorf("relaxedJSONPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "{.a}{.b}", "{.a"} {
		if got, err := relaxedJSONPath(in); err == nil {
			t.Errorf("relaxedJSONPath(%q) = %q, want an error", in, got)
		}
	}
}

func TestNaturalLess(t *testing.T) {
	ordered := []string{"", "a", "hello-2", "hello-10", "hello-010", "hello-x", "hello2", "web"}
	for i := range ordered {
		for j := range ordered {
			if got := naturalLess(ordered[i], ordered[j]); got != (i < j) {
				t.Errorf("naturalLess(%q, %q) = %v", ordered[i], ordered[j], got)
			}
		}
	}
}

func TestLessValue(t *testing.T) {
	tests := []struct {
		a, b any
		want bool
	}{
		{int64(2), int64(10), true},
		{int64(10), 2.5, false},
		{"2024-05-01T12:00:00Z", "2024-05-01T12:00:01Z", true},
		{false, true, true},
		{true, false, false},
	}
	for _, tt := range tests {
		if got := lessValue(tt.a, tt.b); got != tt.want {
			t.Errorf("lessValue(%v, %v) = %v", tt.a, tt.b, got)
		}
	}
}

func TestSortByJSONPath(t *testing.T) {
	mk := func(name string, restarts int32, started time.Time) resource {
		p := fixturePod(fixtureT0)
		p.Name = name
		p.Status.Containers[0].RestartCount = restarts
		p.BoundAt = &started
		return resource{pod: p}
	}
	unbound := resource{pod: fixturePendingPod(fixtureT0)} // no startTime
	rs := []resource{mk("web-10", 3, fixtureT0.Add(time.Minute)), mk("web-2", 12, fixtureT0), unbound, mk("web-1", 0, fixtureT0.Add(time.Hour))}
	names := func(rs []resource) string {
		var ns []string
		for _, r := range rs {
			ns = append(ns, r.name())
		}
		return strings.Join(ns, " ")
	}
	tests := []struct{ by, want string }{
		{".metadata.name", "big-xyz web-1 web-2 web-10"},
		{"{.status.containerStatuses[0].restartCount}", "big-xyz web-1 web-10 web-2"},
		{"status.startTime", "big-xyz web-2 web-10 web-1"},
	}
	for _, tt := range tests {
		expr, err := relaxedJSONPath(tt.by)
		if err != nil {
			t.Fatal(err)
		}
		j, err := parseJSONPath("sort", expr)
		if err != nil {
			t.Fatal(err)
		}
		got := append([]resource(nil), rs...)
		objs := make([]any, len(got))
		for i, r := range got {
			objs[i] = k8sObjectOf(r, nil, fixtureT0)
		}
		if err := sortByJSONPath(j, tt.by, got, objs); err != nil {
			t.Fatalf("%s: %v", tt.by, err)
		}
		if names(got) != tt.want {
			t.Errorf("--sort-by %s: %s, want %s", tt.by, names(got), tt.want)
		}
		for i := range got { // objects move with their resources
			if !strings.Contains(mustJSON(t, objs[i]), `"name": "`+got[i].name()+`"`) {
				t.Errorf("--sort-by %s: object %d is not %s", tt.by, i, got[i].name())
			}
		}
	}
	j, _ := parseJSONPath("sort", "{.nothing}")
	objs := []any{k8sObjectOf(rs[0], nil, fixtureT0)}
	if err := sortByJSONPath(j, "{.nothing}", rs[:1], objs); err == nil || !strings.Contains(err.Error(), `couldn't find any field with path "{.nothing}"`) {
		t.Errorf("a field no object has: %v", err)
	}
}

func TestPrintJSONPath(t *testing.T) {
	list := k8sListOf([]any{k8sPod(fixturePod(fixtureT0), "10.0.0.1"), k8sPod(fixturePendingPod(fixtureT0), "")})
	tests := []struct {
		template string
		v        any
		want     string
	}{
		{"{.items[*].metadata.name}", list, "hello-abc12 big-xyz"},
		{`{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}`, list, "hello-abc12\tRunning\nbig-xyz\tPending\n"},
		{"{.items[0].status.containerStatuses[0].restartCount}", list, "2"},
		{"{.metadata.name} on {.spec.nodeName}", k8sPod(fixturePod(fixtureT0), ""), "hello-abc12 on node-1"},
		{"{.metadata.missing}", k8sPod(fixturePod(fixtureT0), ""), ""},
	}
	for _, tt := range tests {
		j, err := parseJSONPath("output", tt.template)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := printJSONPath(&buf, j, tt.v); err != nil {
			t.Errorf("%s: %v", tt.template, err)
		}
		if buf.String() != tt.want {
			t.Errorf("%s: %q, want %q", tt.template, buf.String(), tt.want)
		}
	}
}
