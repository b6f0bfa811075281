// Command gantry is Gantry's one binary: the control plane (up, serve), the
// node agent (node) and the kubectl-shaped client (apply, get, describe,
// delete, logs, events, image).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// defaultNATS is where clients look for the cluster unless told otherwise.
const defaultNATS = "nats://127.0.0.1:4222"

func main() {
	// Durations in logs carry their unit (replay=39.6ms), not a bare number.
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// globals are the flags every command shares.
type globals struct {
	nats     string
	logLevel string
	in       io.Reader
	out      io.Writer
	errOut   io.Writer
}

// exitError carries an exit code through cobra. A reported error was
// already printed object by object (as kubectl does), so run adds no
// summary line.
type exitError struct {
	code     int
	err      error
	reported bool
}

func (e exitError) Error() string { return e.err.Error() }

func run(args []string, in io.Reader, out, errOut io.Writer) int {
	g := &globals{in: in, out: out, errOut: errOut}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	if err := root.Execute(); err != nil {
		var ee exitError
		isExit := errors.As(err, &ee)
		if !isExit || !ee.reported {
			fmt.Fprintf(errOut, "error: %v\n", err)
		}
		if isExit {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Gantry: a container orchestrator whose control plane is an event log on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	def := os.Getenv("GANTRY_NATS")
	if def == "" {
		def = defaultNATS
	}
	root.PersistentFlags().StringVar(&g.nats, "nats", def, "NATS URL of the cluster (env GANTRY_NATS)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	var profile string
	var stopProfile func()
	root.PersistentFlags().StringVar(&profile, "cpu-profile", "", "write a Go CPU profile of this process to `FILE` (for `go tool pprof`) until it exits")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if profile == "" {
			return nil
		}
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		var once sync.Once
		stopProfile = func() { once.Do(func() { pprof.StopCPUProfile(); f.Close() }) }
		// A long-running command is ended by a signal; the profile is
		// complete as soon as the signal arrives, however shutdown goes.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() { <-sigs; stopProfile() }()
		return nil
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if stopProfile != nil {
			stopProfile()
		}
	}
	root.AddCommand(newUpCmd(g), newServeCmd(g), newNodeCmd(g), newApplyCmd(g), newGetCmd(g), newDescribeCmd(g),
		newDeleteCmd(g), newLogsCmd(g), newEventsCmd(g), newImageCmd(g), newSimCmd(g), newVersionCmd(g), newAPIResourcesCmd(g), newStatusCmd(g))
	root.AddCommand(newLogCmd(g), newBackupCmd(g), newRestoreCmd(g))
	return root
}

// connect dials the cluster's NATS; when nothing answers there, or the server
// holds no Gantry log, the error says what to do (see dialCluster).
func (g *globals) connect(role string) (*bus.Conn, error) {
	return dialCluster(g.nats, "gantry-"+role, role != "serve")
}

// logger is the one structured logger passed down to every part.
func (g *globals) logger() (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(g.logLevel)
	if err != nil || g.logLevel == "" {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	w := zerolog.ConsoleWriter{Out: g.errOut, TimeFormat: time.TimeOnly, NoColor: true}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// actor names the person behind a client command until authentication lands.
func actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	return name + "@" + host
}
