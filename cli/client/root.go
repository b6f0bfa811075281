// Package client is the kubectl-shaped side of the gantry command: the verbs
// that read and write a running cluster (apply, get, describe, delete, logs,
// scale, set image, rollout, events, api-resources, status, version) and the
// root they share. It talks to the cluster only through the log, the read
// models and the node RPC subjects, so it imports no service and no node
// agent: their wire types are in package api. Package main (cli/gantry) adds the
// commands that run the cluster (up, serve, node, sim, image, log, backup,
// restore).
package client

import (
	"cmp"
	"context"
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

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events/bus"
)

// defaultNATS is where clients look for the cluster unless told otherwise.
const defaultNATS = "nats://127.0.0.1:4222"

// Globals are the flags every command shares, and where it reads and writes.
type Globals struct {
	NATS     string // --nats / GANTRY_NATS; empty: the current context's server
	Creds    string // --creds / GANTRY_CREDS; empty: the current context's credentials
	LogLevel string
	Version  string // the binary's, set at build time
	In       io.Reader
	Out      io.Writer
	ErrOut   io.Writer
}

// ExitError carries an exit code through cobra. A Reported error was
// already printed object by object (as kubectl does), so Execute adds no
// summary line.
type ExitError struct {
	Code     int
	Err      error
	Reported bool
}

func (e ExitError) Error() string { return e.Err.Error() }

// Execute runs root with args and returns the process's exit code: 0, an
// ExitError's code, or 1 after printing "error: …".
func Execute(g *Globals, root *cobra.Command, args []string) int {
	root.SetArgs(args)
	root.SetIn(g.In)
	root.SetOut(g.Out)
	root.SetErr(g.ErrOut)
	if err := root.Execute(); err != nil {
		var ee ExitError
		isExit := errors.As(err, &ee)
		if !isExit || !ee.Reported {
			fmt.Fprintf(g.ErrOut, "error: %v\n", err)
		}
		if isExit {
			return ee.Code
		}
		return 1
	}
	return 0
}

// NewRoot makes the gantry command with the flags every command shares and
// no command yet: the caller adds Commands and its own.
func NewRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "gantry",
		Short:         "Gantry: a container orchestrator whose control plane is an event log on NATS JetStream",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       g.Version,
	}
	root.PersistentFlags().StringVar(&g.NATS, "nats", os.Getenv("GANTRY_NATS"),
		"NATS URL of the cluster (env GANTRY_NATS; default: the current context's server, else "+defaultNATS+")")
	root.PersistentFlags().StringVar(&g.Creds, "creds", os.Getenv("GANTRY_CREDS"),
		"NATS credentials `FILE` (env GANTRY_CREDS; default: the current context's)")
	root.PersistentFlags().StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
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
	return root
}

// Commands are the client's verbs, to add to NewRoot's command.
func Commands(g *Globals) []*cobra.Command {
	return []*cobra.Command{newApplyCmd(g), newGetCmd(g), newDescribeCmd(g), newDeleteCmd(g), newLogsCmd(g),
		newEventsCmd(g), newVersionCmd(g), newAPIResourcesCmd(g), newStatusCmd(g), newCreateCmd(g), newWaitCmd(g),
		newScaleCmd(g), newSetCmd(g), newRolloutCmd(g), newPortForwardCmd(g), newKeyringCmd(g),
		newAuthCmd(g), newConfigCmd(g)}
}

// Connect dials the cluster's NATS; when nothing answers there, or the server
// holds no Gantry log, the error says what to do (see DialCluster).
func (g *Globals) Connect(role string) (*bus.Conn, error) {
	url, opts, err := g.Cluster()
	if err != nil {
		return nil, err
	}
	return DialCluster(url, "gantry-"+role, role != "serve", opts...)
}

// Cluster is where the cluster is and how to connect to it: --nats, else
// the current context's server, else the default; --creds, else the
// context's credentials; the context's CA.
func (g *Globals) Cluster() (string, []nats.Option, error) {
	path, err := ConfigPath()
	if err != nil {
		return "", nil, err
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return "", nil, err
	}
	ctx, _ := cfg.Current()
	url := cmp.Or(g.NATS, ctx.Server, defaultNATS)
	var opts []nats.Option
	if creds := cmp.Or(g.Creds, ctx.Credentials); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	if ctx.CertificateAuthority != "" {
		opts = append(opts, nats.RootCAs(ctx.CertificateAuthority))
	}
	return url, opts, nil
}

// WithCluster runs a verb against the cluster: connected as role, with a
// context that ends at Ctrl-C or SIGTERM, the connection closed after.
func (g *Globals) WithCluster(cmd *cobra.Command, role string, run func(ctx context.Context, conn *bus.Conn) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := g.Connect(role)
	if err != nil {
		return err
	}
	defer conn.Close()
	return run(ctx, conn)
}

// Logger is the one structured logger passed down to every part.
func (g *Globals) Logger() (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(g.LogLevel)
	if err != nil || g.LogLevel == "" {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", g.LogLevel)
	}
	w := zerolog.ConsoleWriter{Out: g.ErrOut, TimeFormat: time.TimeOnly, NoColor: true}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// Actor names the person behind a client command until authentication lands.
func Actor() string {
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
