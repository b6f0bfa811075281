// Command hello is Gantry's demo workload: a tiny HTTP server that says which
// pod answered.
//
//	GET /        -> "hello from <POD_NAME>\n"
//	GET /healthz -> 200 "ok"
//
// It listens on :8080 (override the port with PORT, and the interface with
// HOST, e.g. HOST=127.0.0.1) and shuts down cleanly on SIGTERM.
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
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
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

	srv := &http.Server{
		Addr:              net.JoinHostPort(os.Getenv("HOST"), port),
		Handler:           logRequests(routes(name)),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("hello: pod %s listening on %s", name, srv.Addr)

	outcome := spec.Outcome()
	started, printed := time.Now(), 0
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
		case <-ctx.Done():
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

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return 0, fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return 0, fmt.Errorf("serve: %w", err)
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

func routes(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	return mux
}

// logRequests writes one line per request to stdout.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s from %s", r.Method, r.URL.Path, r.RemoteAddr)
		next.ServeHTTP(w, r)
	})
}
