package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/logcheck"
)

// guardLog checks, before the control plane starts, that the log still holds
// what it had acted on (logcheck.Guard), and then keeps the watermark while
// it runs. keep must be called before conn closes: it writes the clean
// stop's watermark. dataDir is `up`'s (the watermark is a file there); empty
// for `serve` (a KV bucket).
func guardLog(ctx context.Context, cmd *cobra.Command, conn *bus.Conn, dataDir string, accept bool, log zerolog.Logger) (keep func(), err error) {
	var store logcheck.Store = logcheck.KVStore{JS: conn.JS, Replicas: 1}
	if dataDir != "" {
		store = logcheck.NewFileStore(dataDir)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	wm, err := logcheck.Guard(cctx, conn.JS, logcheck.GuardOptions{Store: store, Accept: accept, Actor: client.Actor(),
		Source: cmd.CommandPath(), Command: commandLine(cmd)}, log)
	if err != nil {
		return nil, err
	}
	return logcheck.Keep(ctx, conn.JS, store, wm, logcheck.KeepInterval, log), nil
}

// commandLine is the command as the operator gave it: its path and the
// flags that were set.
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != acceptLossFlag {
			parts = append(parts, "--"+f.Name+"="+f.Value.String())
		}
	})
	return strings.Join(parts, " ")
}

// acceptLossFlag is the flag `up` and `serve` take to start on a log that
// lost messages.
const acceptLossFlag = "accept-log-loss"

const acceptLossUsage = "start although the log lost messages the control plane had acted on (see docs/operations.md): the loss is recorded in the log with your name, and readers that saw the lost sequences are reset"

// openLog reaches the log to check: a stopped cluster's data dir (an
// embedded server on a free loopback port, as `up` would start it, without
// services) or a running cluster (--nats). The watermark is the data dir's
// file, or the KV bucket of `gantry serve`.
func openLog(g *client.Globals, dataDir string) (*bus.Conn, logcheck.Store, func(), error) {
	if dataDir == "" {
		conn, err := g.Connect("log")
		if err != nil {
			return nil, nil, nil, err
		}
		return conn, logcheck.KVStore{JS: conn.JS, Replicas: 1}, conn.Close, nil
	}
	store := filepath.Join(dataDir, "nats")
	if _, err := os.Stat(store); err != nil {
		return nil, nil, nil, fmt.Errorf("--data-dir %s holds no log (%s): %w", dataDir, store, err)
	}
	// A data dir with identities keeps its log under the cluster's account:
	// the server starts in operator mode and this connects as the control plane.
	ids, err := dataDirIdentities(dataDir)
	if err != nil {
		return nil, nil, nil, err
	}
	if ids != nil {
		if err := bus.AdoptStore(store, ids.set.AccountKey); err != nil {
			return nil, nil, nil, err
		}
	}
	srv, err := bus.StartServer(bus.ServerConfig{StoreDir: store, Listen: "127.0.0.1:-1", Name: "gantry-log", Auth: ids.server()})
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := bus.Connect(srv.ClientURL(), "gantry-log", ids.controlPlane()...)
	if err != nil {
		srv.Shutdown()
		return nil, nil, nil, err
	}
	return conn, logcheck.NewFileStore(dataDir), func() { conn.Close(); srv.Shutdown(); srv.WaitForShutdown() }, nil
}

func newLogCmd(g *client.Globals) *cobra.Command {
	c := &cobra.Command{Use: "log", Short: "Check the log: gantry log verify"}
	var dataDir string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every stream against what the control plane has seen, and read and decode every message",
		Long: `Checks a stopped cluster (--data-dir; run it while gantry up is stopped) or a
running one (--nats): each stream's state against the watermark, the read
models' progress and the node consumers; what the server says it lost; and
every message read from first to last and decoded as a Gantry envelope of a
known type. Exits 1 with a report when anything is wrong.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, store, closeLog, err := openLog(g, dataDir)
			if err != nil {
				return err
			}
			defer closeLog()
			ok, err := verifyLog(cmd.Context(), conn, store, g.Out)
			if err != nil {
				return err
			}
			if !ok {
				return client.ExitError{Code: 1, Err: errors.New("the log is damaged"), Reported: true}
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dataDir, "data-dir", "", "a stopped cluster's data dir (default: the running cluster at --nats)")
	c.AddCommand(verify)
	return c
}

// verifyLog prints a report of the log and says whether it is whole.
func verifyLog(ctx context.Context, conn *bus.Conn, store logcheck.Store, out io.Writer) (bool, error) {
	wm, err := store.Load(ctx)
	if err != nil {
		return false, err
	}
	in, err := logcheck.Gather(ctx, conn.JS)
	if err != nil {
		return false, err
	}
	ok := true
	if wm == nil {
		fmt.Fprintf(out, "watermark: none at %s (a log no control plane of this version has stopped on yet)\n", store.Where())
	} else {
		fmt.Fprintf(out, "watermark: %s, written %s\n", store.Where(), wm.At.Local().Format(time.DateTime))
	}
	for _, f := range logcheck.Check(events.Streams(), in.States, wm, in.Floors) {
		ok = false
		fmt.Fprintf(out, "LOST  %s\n", f)
	}
	for _, spec := range events.Streams() {
		if spec.Memory {
			continue
		}
		st := in.States[spec.Name]
		if !st.Exists {
			fmt.Fprintf(out, "%-20s missing\n", spec.Name)
			continue
		}
		res, err := logcheck.Scan(ctx, conn.JS, spec.Name)
		if err != nil {
			return false, err
		}
		status := "ok"
		if !res.OK() {
			status, ok = "DAMAGED", false
		}
		fmt.Fprintf(out, "%-20s %s: %d messages read up to sequence %d in %s\n", spec.Name, status, res.Read, res.Last,
			res.Took.Round(time.Millisecond))
		if len(res.Unreadable) > 0 {
			fmt.Fprintf(out, "  unreadable: %s (counted by the stream, never delivered: a damaged record)\n", logcheck.Ranges(res.Unreadable))
		}
		if res.BadCount > 0 {
			fmt.Fprintf(out, "  %d messages do not decode as Gantry events:\n", res.BadCount)
			for _, b := range res.Bad {
				fmt.Fprintf(out, "    seq %d: %s\n", b.Seq, b.Err)
			}
		}
	}
	if !ok {
		fmt.Fprintln(out, "the log is damaged: see docs/operations.md (restore a backup, or start with --accept-log-loss)")
	}
	return ok, nil
}
