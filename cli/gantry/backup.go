package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/logcheck"
)

func newBackupCmd(g *client.Globals) *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "backup DIR",
		Short: "Snapshot every stream of the log into DIR (JetStream stream snapshots)",
		Long: `Takes a JetStream snapshot of each stream kept on disk (observations, then
decisions, then intents: effects before their causes, so every cause of a stored
effect is in the backup) from a running cluster (--nats) or a stopped one
(--data-dir). The read models are not in it: the projector rebuilds them from
the log. Nor is the keyring that opens the Secrets (<data-dir>/keyring): the
backup holds their data sealed, and the keyring is kept apart so one stolen copy
is not enough; copy it to its own safe place (docs/configuration.md). See
docs/operations.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, _, closeLog, err := openLog(g, dataDir)
			if err != nil {
				return err
			}
			defer closeLog()
			start := time.Now()
			man, err := logcheck.Backup(cmd.Context(), conn.NC, conn.JS, args[0], version)
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			for _, s := range man.Streams {
				fmt.Fprintf(g.Out, "%-20s %d messages, sequences %d–%d, %d bytes\n", s.Name, s.Msgs, s.First, s.Last, s.Bytes)
			}
			fmt.Fprintf(g.Out, "backup in %s (%s)\n", args[0], time.Since(start).Round(time.Millisecond))
			fmt.Fprintln(g.Out, "the keyring that opens its Secrets is not in it: keep a copy of <data-dir>/keyring/keyring.json apart (docs/configuration.md)")
			return nil
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "", "a stopped cluster's data dir (default: the running cluster at --nats)")
	return c
}

func newRestoreCmd(g *client.Globals) *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "restore DIR",
		Short: "Restore a backup into a fresh data dir (--data-dir) or a NATS without Gantry's streams (--nats)",
		Long: `Creates each stream of the backup in DIR from its snapshot, checks its messages
and last sequence against the backup, and starts a new watermark. The streams
must not exist. Node consumers are not restored: each node agent makes its own
again and reads the newest decision of each of its pods. See docs/operations.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if _, err := logcheck.ReadManifest(args[0]); err != nil {
				return err
			}
			var conn *bus.Conn
			var store logcheck.Store
			if dataDir != "" {
				if _, err := os.Stat(filepath.Join(dataDir, "nats")); err == nil {
					return fmt.Errorf("--data-dir %s holds a log already: restore into a fresh data dir", dataDir)
				}
				if err := os.MkdirAll(filepath.Join(dataDir, "nats"), 0o755); err != nil {
					return fmt.Errorf("--data-dir %s: %w", dataDir, err)
				}
				c, st, closeLog, err := openLog(g, dataDir)
				if err != nil {
					return err
				}
				defer closeLog()
				conn, store = c, st
			} else {
				url, opts, err := g.Cluster()
				if err != nil {
					return err
				}
				c, err := client.DialCluster(url, "gantry-restore", false, opts...)
				if err != nil {
					return err
				}
				defer c.Close()
				conn, store = c, logcheck.KVStore{JS: c.JS, Replicas: 1}
				// Read models of an older log would claim sequences the
				// restored one has not reached: the projector rebuilds them.
				for _, b := range []string{bus.BucketProjector, bus.BucketPods, bus.BucketNodes, bus.BucketWorkloads} {
					if err := conn.JS.DeleteKeyValue(ctx, b); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
						return fmt.Errorf("reset read model %s: %w", b, err)
					}
				}
			}
			man, err := logcheck.Restore(ctx, conn.NC, conn.JS, args[0])
			if err != nil {
				return err
			}
			in, err := logcheck.Gather(ctx, conn.JS)
			if err != nil {
				return err
			}
			if err := store.Save(ctx, logcheck.Watermark{At: time.Now().UTC(), Clean: true, Streams: logcheck.Marks(in)}); err != nil {
				return err
			}
			for _, s := range man.Streams {
				fmt.Fprintf(g.Out, "%-20s %d messages, sequences %d–%d\n", s.Name, s.Msgs, s.First, s.Last)
			}
			fmt.Fprintf(g.Out, "restored the backup of %s\n", man.Taken.Local().Format(time.DateTime))
			return nil
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "", "a fresh data dir to restore into (default: the NATS at --nats)")
	return c
}
