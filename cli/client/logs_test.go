package client

import (
	"strings"
	"sync"
	"testing"

	"github.com/gantry-sh/gantry/cli/clitest"
)

// Mistakes are refused before dialing (the cluster URL is a closed port).
func TestLogsArguments(t *testing.T) {
	url := clitest.ClosedPort(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "error: logs: name a pod (gantry logs POD), or select pods by label (gantry logs -l app=hello)\n"},
		{[]string{"logs", "p", "-l", "app=web"}, "error: logs: name a pod or select pods with -l, not both\n"},
		{[]string{"logs", "-l", "app=web", "-c", "web", "--all-containers"}, "error: logs: --all-containers shows every container; it cannot be combined with -c web\n"},
		{[]string{"logs", "-l", "app=web", "--max-log-requests", "0"}, "error: --max-log-requests 0: want at least 1\n"},
		{[]string{"logs", "cj/web"}, "error: cannot get the logs from cronjobs.batch: a pod, deployment, replicaset, daemonset or job has logs\n"},
		{[]string{"logs", "job/"}, "error: \"job/\": a name is required after the '/'\n"},
		{[]string{"logs", "job/pi", "-l", "app=pi"}, "error: logs: name a pod or select pods with -l, not both\n"},
	}
	for _, tc := range cases {
		code, _, errOut := runGantry(append(tc.args, "--nats", url)...)
		if code != 1 || errOut != tc.want {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
	code, _, errOut := runGantry("logs", "-l", "app in (web", "--nats", url)
	if code != 1 || !strings.Contains(errOut, `selector "app in (web"`) {
		t.Errorf("a bad selector: exit %d, stderr %q", code, errOut)
	}
}

// A lineWriter writes whole lines, each after its prefix, however the log
// comes in chunks; a last line without its end is ended at flush.
func TestLineWriter(t *testing.T) {
	cases := []struct {
		prefix string
		chunks []string
		want   string
	}{
		{"", []string{"a\nb", "c\n", "d"}, "a\nbc\nd\n"},
		{"[pod/p/c] ", []string{"one\ntw", "o\nthree\n"}, "[pod/p/c] one\n[pod/p/c] two\n[pod/p/c] three\n"},
		{"[x] ", []string{"no end"}, "[x] no end\n"},
		{"[x] ", nil, ""},
		{"[x] ", []string{strings.Repeat("y", lineWriteMax), "z\n"}, "[x] " + strings.Repeat("y", lineWriteMax) + "\n[x] z\n"},
	}
	for _, tc := range cases {
		var out strings.Builder
		var mu sync.Mutex
		w := &lineWriter{mu: &mu, out: &out, prefix: tc.prefix}
		for _, c := range tc.chunks {
			if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", c, n, err)
			}
		}
		if err := w.flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%q %q: wrote %q, want %q", tc.prefix, tc.chunks, out.String(), tc.want)
		}
	}
}
