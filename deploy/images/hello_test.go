package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHelloServer builds the demo app for this machine and runs it on a
// loopback port: it must answer / and /healthz, log each request, and exit
// with status 0 on SIGTERM.
func TestHelloServer(t *testing.T) {
	bin := buildHello(t)

	port := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "HOST=127.0.0.1", "PORT="+port, "POD_NAME=pod-a")
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hello: %v", err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})

	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	waitReady(t, base+"/healthz", exited, &logs)

	if code, body := get(t, base+"/"); code != http.StatusOK || body != "hello from pod-a\n" {
		t.Errorf("GET / = %d %q, want 200 %q", code, body, "hello from pod-a\n")
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("GET /healthz = %d %q, want 200 \"ok\"", code, body)
	}
	if code, _ := get(t, base+"/nope"); code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("hello exited with %v after SIGTERM; output:\n%s", waitErr, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("hello did not exit within 10s of SIGTERM; output:\n%s", logs.String())
	}

	out := logs.String()
	for _, want := range []string{"listening on 127.0.0.1:" + port, "GET / from 127.0.0.1:", "GET /healthz from", "stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// buildHello builds the demo app for this machine.
func buildHello(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hello")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./hello")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestHelloBehaviours runs the demo app with the environments batch tests
// use: each run exits by itself with the code its environment asks for and
// prints the lines package behaviour says.
func TestHelloBehaviours(t *testing.T) {
	bin := buildHello(t)
	for _, tc := range []struct {
		name   string
		env    []string
		code   int
		want   []string // lines the output holds, in order
		absent []string
	}{
		{name: "run for then exit with a code", code: 3,
			env: []string{"HELLO_RUN_FOR=1500ms", "HELLO_EXIT_CODE=3", "HELLO_TICK=500ms", "JOB_COMPLETION_INDEX=4"},
			want: []string{"hello: run 1, index 4: exits with 3 after 1.5s", "hello: tick 1, index 4", "hello: tick 2, index 4",
				"hello: exiting with code 3 after 1.5s", "hello: stopped"},
			absent: []string{"tick 3"}},
		{name: "exit code alone exits at once", code: 42, env: []string{"HELLO_EXIT_CODE=42"},
			want: []string{"hello: exiting with code 42 after 0s"}},
		{name: "first of two failing runs", code: 7,
			env:  []string{"HELLO_FAIL_TIMES=2", "HELLO_FAIL_CODE=7", "HELLO_EXIT_CODE=0", "GANTRY_RESTART_COUNT=1"},
			want: []string{"hello: run 2: failing run 2 of 2 (HELLO_FAIL_TIMES=2), exits with 7 after 0s"}},
		{name: "after the failing runs", code: 0,
			env:  []string{"HELLO_FAIL_TIMES=2", "HELLO_EXIT_CODE=0", "GANTRY_RESTART_COUNT=2"},
			want: []string{"hello: run 3: exits with 0 after 0s", "hello: exiting with code 0 after 0s"}},
		{name: "invalid variable", code: 2, env: []string{"HELLO_TICK=often"},
			want: []string{`hello: HELLO_TICK="often": not a duration`}, absent: []string{"listening"}},
		{name: "misspelt variable", code: 2, env: []string{"HELLO_EXITCODE=1"},
			want: []string{"hello: HELLO_EXITCODE: unknown variable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = append(cmd.Environ(), append([]string{"HOST=127.0.0.1", "PORT=0"}, tc.env...)...)
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			switch {
			case errors.As(err, &exit):
				code = exit.ExitCode()
			case err != nil:
				t.Fatalf("run hello: %v\n%s", err, out)
			}
			if code != tc.code {
				t.Errorf("exit code %d, want %d", code, tc.code)
			}
			rest := string(out)
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("output lacks %q after the lines before it:\n%s", w, out)
					continue
				}
				rest = rest[i+len(w):]
			}
			for _, a := range tc.absent {
				if strings.Contains(string(out), a) {
					t.Errorf("output holds %q:\n%s", a, out)
				}
			}
		})
	}
}

// A run that would end by itself but is stopped first exits 143, so a
// stopped Job pod never looks like a completion.
func TestHelloStoppedRunExits143(t *testing.T) {
	bin := buildHello(t)
	var logs syncBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "HOST=127.0.0.1", "PORT=0", "HELLO_RUN_FOR=1h")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "exits with 0 after 1h0m0s") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("hello did not start its run within 10 s:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 143 {
			t.Fatalf("stopped run: %v, want exit code 143\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("hello did not stop within 10 s of SIGTERM:\n%s", logs.String())
	}
}

// The probe behaviours: a slow start, /healthz and /ready turning bad,
// /status as JSON, `hello probe` checking the server, and SIGTERM ignored
// until SIGKILL.
func TestHelloProbeBehaviours(t *testing.T) {
	bin := buildHello(t)
	port := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(bin)
	env := append(cmd.Environ(), "HOST=127.0.0.1", "PORT="+port, "POD_NAME=pod-p", "HELLO_START_DELAY=300ms",
		"HELLO_UNHEALTHY_AFTER=1s", "HELLO_UNREADY_AFTER=0s", "HELLO_QUEUE_DEPTH=9", "HELLO_IGNORE_SIGTERM=true")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })

	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	waitReady(t, base+"/", exited, &logs)
	if code, body := get(t, base+"/status"); code != 200 || !strings.Contains(body, `"queue_depth":9`) {
		t.Errorf("GET /status = %d %q", code, body)
	}
	if code, _ := get(t, base+"/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /ready = %d, want 503", code)
	}
	probe := func(path string) int {
		c := exec.Command(bin, "probe", path)
		c.Env = env
		out, err := c.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return exit.ExitCode()
		case err != nil:
			t.Fatalf("hello probe: %v\n%s", err, out)
		}
		return 0
	}
	if code := probe("/ready"); code != 1 {
		t.Errorf("hello probe /ready exited %d, want 1", code)
	}
	// /healthz turns 500 one second into the run.
	deadline := time.Now().Add(10 * time.Second)
	for probe("/healthz") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still healthy after 10 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get(t, base+"/healthz"); code != 500 || body != "unhealthy" {
		t.Errorf("GET /healthz = %d %q, want 500 unhealthy", code, body)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "hello: SIGTERM ignored (HELLO_IGNORE_SIGTERM=true)") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the ignored SIGTERM:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(t, base+"/"); code != 200 {
		t.Errorf("after SIGTERM GET / = %d, want it still serving", code)
	}
	cmd.Process.Kill()
	<-exited
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) || exit.ExitCode() != -1 {
		t.Errorf("after SIGKILL: %v, want killed", waitErr)
	}
	for _, w := range []string{"hello: pod pod-p listens in 300ms (HELLO_START_DELAY)", "listening on 127.0.0.1:" + port} {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, logs.String())
		}
	}
}

// The readiness switch: POST /ready/on makes /ready pass even against
// HELLO_UNREADY_AFTER, POST /ready/off makes it answer 503 and /status
// say not ready; each flip is a line of the log. GET on the switch's
// paths is no switch.
func TestHelloReadinessSwitch(t *testing.T) {
	bin := buildHello(t)
	port := freePort(t)
	var logs syncBuffer
	cmd := exec.Command(bin)
	cmd.Env = append(cmd.Environ(), "HOST=127.0.0.1", "PORT="+port, "POD_NAME=pod-s", "HELLO_UNREADY_AFTER=0s")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })

	base := "http://" + net.JoinHostPort("127.0.0.1", port)
	waitReady(t, base+"/", exited, &logs)
	post := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Post(base+path, "text/plain", nil)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i, step := range []struct {
		post  string // "" for none
		ready int
	}{{"", 503}, {"/ready/on", 200}, {"/ready/off", 503}, {"/ready/off", 503}, {"/ready/on", 200}} {
		if step.post != "" {
			want := "ready " + strings.TrimPrefix(step.post, "/ready/") + "\n"
			if code, body := post(step.post); code != 200 || body != want {
				t.Fatalf("step %d: POST %s = %d %q, want 200 %q", i, step.post, code, body, want)
			}
		}
		if code, _ := get(t, base+"/ready"); code != step.ready {
			t.Errorf("step %d: GET /ready = %d, want %d", i, code, step.ready)
		}
		if _, body := get(t, base+"/status"); !strings.Contains(body, fmt.Sprintf(`"ready":%v`, step.ready == 200)) {
			t.Errorf("step %d: GET /status = %q", i, body)
		}
	}
	if code, _ := get(t, base+"/ready/off"); code != http.StatusNotFound {
		t.Errorf("GET /ready/off = %d, want 404", code)
	}
	if code, _ := get(t, base+"/ready"); code != 200 {
		t.Errorf("after GET /ready/off, GET /ready = %d, want 200", code)
	}
	if n := strings.Count(logs.String(), "hello: readiness switched off"); n != 2 {
		t.Errorf("%d lines of readiness switched off, want 2:\n%s", n, logs.String())
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitReady polls url until it answers, the process exits, or 10 s pass.
func waitReady(t *testing.T, url string, exited <-chan struct{}, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("hello exited early; output:\n%s", logs.String())
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("hello did not answer %s within 10s; output:\n%s", url, logs.String())
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the test's
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
