// Command hello is Gantry's demo workload: a tiny HTTP server that says which
// pod answered.
//
//	GET /        -> "hello from <POD_NAME>\n"
//	GET /healthz -> 200 "ok" (500 from HELLO_UNHEALTHY_AFTER on)
//	GET /ready   -> 200 "ready" (503 from HELLO_UNREADY_AFTER on)
//	GET /status  -> 200 {"pod", "healthy", "ready", "queue_depth", "uptime_seconds"}
//	POST /ready/off, POST /ready/on -> /ready answers 503, or 200, from then on
//
// It listens on :8080 (override the port with PORT, and the interface with
// HOST, e.g. HOST=127.0.0.1), after HELLO_START_DELAY when set, and shuts
// down cleanly on SIGTERM (unless HELLO_IGNORE_SIGTERM=true).
//
// As a command in its container (exec probes and hooks), `hello log MSG`
// writes a line to the container's log, `hello fetch URL` prints what a
// GET of URL answers, `hello write FILE TEXT` writes a file (an init
// container preparing a volume; the server serves FILES_DIR under /files/),
// and `hello probe PATH` checks the server in the container.
//
// For batch tests it also runs for a while and exits with a code, fails its
// first runs and prints a line per tick, as its environment asks
// (HELLO_RUN_FOR, HELLO_EXIT_CODE, HELLO_FAIL_TIMES, HELLO_FAIL_CODE,
// HELLO_TICK, HELLO_ALLOCATE; see package behaviour and docs/demo-image.md). An invalid
// variable stops it at once with code 2 and a line naming the variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gantry-sh/gantry/deploy/images/hello/behaviour"
)

// exitStopped is the code of a run that would have ended by itself but was
// stopped first (128 + SIGTERM, as a shell reports it), so a stopped Job pod
// never looks like a completion.
const exitStopped = 128 + int(syscall.SIGTERM)

func main() {
	log.SetOutput(os.Stdout)
	log.SetFlags(log.LstdFlags | log.LUTC)
	if cmd, args := behaviour.Command(os.Args); cmd != "" {
		os.Exit(command(cmd, args))
	}
	spec, err := behaviour.Parse(os.Environ())
	if err != nil {
		log.Printf("hello: %v", err)
		os.Exit(behaviour.ExitInvalid)
	}
	code, err := run(spec)
	if err != nil {
		log.Printf("hello: %v", err)
		os.Exit(1)
	}
	os.Exit(code)
}

// run serves until it is stopped or the spec's run ends, and returns the
// code to exit with.
func run(spec behaviour.Spec) (int, error) {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	name := podName()
	started := time.Now()

	srv := &http.Server{
		Addr:              net.JoinHostPort(os.Getenv("HOST"), port),
		Handler:           logRequests(routes(name, spec, started)),
		ReadHeaderTimeout: 10 * time.Second,
	}

	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigc)

	errc := make(chan error, 1)
	serving := false
	serve := func() {
		serving = true
		go func() { errc <- srv.ListenAndServe() }()
		log.Printf("hello: pod %s listening on %s", name, srv.Addr)
	}
	// A slow start (HELLO_START_DELAY) listens only once its delay is over.
	var listen <-chan time.Time
	if spec.StartDelay > 0 {
		t := time.NewTimer(spec.StartDelay)
		defer t.Stop()
		listen = t.C
		log.Printf("hello: pod %s listens in %s (%s)", name, spec.StartDelay, behaviour.EnvStartDelay)
	} else {
		serve()
	}

	outcome := spec.Outcome()
	printed := 0
	if spec.Active() {
		log.Print(spec.StartLine())
	}
	held := allocate(spec.Allocate)
	defer runtime.KeepAlive(held)
	var end, tick <-chan time.Time
	if outcome.Ends {
		t := time.NewTimer(outcome.After)
		defer t.Stop()
		end = t.C
	}
	if spec.Tick > 0 {
		t := time.NewTicker(spec.Tick)
		defer t.Stop()
		tick = t.C
	}

	code := 0
	for done := false; !done; {
		select {
		case err := <-errc:
			return 0, fmt.Errorf("serve: %w", err)
		case <-listen:
			serve()
		case sig := <-sigc:
			if sig == syscall.SIGTERM && spec.IgnoreSIGTERM {
				log.Printf("hello: SIGTERM ignored (%s=true)", behaviour.EnvIgnoreSIGTERM)
				continue
			}
			log.Printf("hello: shutting down")
			if outcome.Ends {
				code = exitStopped
			}
			done = true
		case <-end:
			log.Print(outcome.ExitLine())
			code, done = outcome.Code, true
		case <-tick:
			// The rule of which ticks print is the behaviour package's, so
			// the simulated runtime prints the same lines.
			for n := printed + 1; n <= spec.Ticks(time.Since(started)); n++ {
				log.Print(spec.TickLine(n))
				printed = n
			}
		}
	}

	if serving {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return 0, fmt.Errorf("shutdown: %w", err)
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return 0, fmt.Errorf("serve: %w", err)
		}
	}
	log.Printf("hello: stopped")
	return code, nil
}

// allocate returns n bytes with every page written, so they count against
// the container's memory (an untouched page costs nothing).
func allocate(n int64) []byte {
	if n <= 0 {
		return nil
	}
	b := make([]byte, n)
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	return b
}

// podName is POD_NAME, or the hostname when it is unset.
func podName() string {
	if n := os.Getenv("POD_NAME"); n != "" {
		return n
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

// routes answer every GET as package behaviour says, after the run has
// lasted since started and with the readiness switch where the last POST
// to it left it.
func routes(name string, spec behaviour.Spec, started time.Time) http.Handler {
	var sw atomic.Int32 // a behaviour.Switch
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		code, ctype, body := spec.AnswerWith(name, r.URL.Path, time.Since(started), behaviour.Switch(sw.Load()))
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(code)
		w.Write(body)
	})
	if dir := os.Getenv(behaviour.FilesDirEnv); dir != "" {
		mux.Handle("GET /files/", http.StripPrefix("/files/", http.FileServer(http.Dir(dir))))
	}
	for _, p := range []string{behaviour.PathReadyOff, behaviour.PathReadyOn} {
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) {
			to, _ := behaviour.SwitchFor(r.URL.Path)
			sw.Store(int32(to))
			log.Printf("hello: readiness switched %s", to)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "ready %s\n", to)
		})
	}
	return mux
}

// logRequests writes one line per request to stdout.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}

// command runs one of the image's commands (hello log …, hello probe …),
// as an exec in a running container does, and returns its exit code.
func command(cmd string, args []string) int {
	switch cmd {
	case behaviour.CmdLog:
		// The container's log is its first process's standard output.
		f, err := os.OpenFile("/proc/1/fd/1", os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello log: %v\n", err)
			return 1
		}
		defer f.Close()
		if _, err := io.WriteString(f, behaviour.Stamp(time.Now(), "hello: "+strings.Join(args, " "))); err != nil {
			fmt.Fprintf(os.Stderr, "hello log: %v\n", err)
			return 1
		}
		return 0
	case behaviour.CmdWrite:
		if len(args) < 1 {
			fmt.Fprintln(os.Stderr, "hello write: want a file and its text")
			return 1
		}
		text := strings.Join(args[1:], " ") + "\n"
		if err := os.WriteFile(args[0], []byte(text), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "hello write: %v\n", err)
			return 1
		}
		log.Printf("hello: wrote %d bytes to %s", len(text), args[0])
		return 0
	case behaviour.CmdProbe:
		p := "/"
		if len(args) > 0 {
			p = args[0]
		}
		host := os.Getenv("HOST")
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		port := os.Getenv("PORT")
		if port == "" {
			port = "8080"
		}
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get("http://" + net.JoinHostPort(host, port) + p)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		resp.Body.Close()
		fmt.Printf("GET %s: %s\n", p, resp.Status)
		if resp.StatusCode < 200 || resp.StatusCode > 399 {
			return 1
		}
		return 0
	}
	if cmd == behaviour.CmdFetch {
		return fetch(args)
	}
	fmt.Fprintf(os.Stderr, "hello: unknown command %q\n", cmd)
	return 2
}

// fetch GETs args[0] and prints the body: a client inside a pod, whose
// names resolve through the pod's resolv.conf (Go's resolver reads it).
func fetch(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: hello fetch URL")
		return 2
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Print(string(body))
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return 1
	}
	return 0
}
