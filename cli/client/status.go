package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// statusWait bounds each question status asks the cluster.
const statusWait = 5 * time.Second

// newStatusCmd makes `gantry status`: the log's disk (free space, from the
// embedded server's disk guard) and each stream's extent, so an operator sees
// the disk running out before appends fail. It exits 1 when the disk is full.
func newStatusCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The log's health: free space on its disk, and each stream's messages, bytes and sequences",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := g.Connect("status")
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), statusWait)
			defer cancel()
			disk, err := bus.LogStatus(ctx, conn.NC)
			known := err == nil
			if err != nil && !errors.Is(err, nats.ErrNoResponders) {
				return err
			}
			if err := printDisk(g.Out, disk, known); err != nil {
				return err
			}
			if err := printStreams(ctx, conn, g.Out); err != nil {
				return err
			}
			if disk.Full {
				return ExitError{Code: 1, Err: errors.New(disk.Problem())}
			}
			return nil
		},
	}
}

// printDisk writes the log's disk line; an external NATS has no guard to ask.
func printDisk(out io.Writer, s bus.DiskStatus, known bool) error {
	if !known {
		_, err := fmt.Fprintln(out, "Log disk: not watched (an external NATS server: watch its store's filesystem)")
		return err
	}
	state := "ok"
	switch {
	case s.Full:
		state = "FULL: appends fail until room comes back (" + s.Reason + ")"
	case s.Low:
		state = "LOW"
	}
	pct := 0.0
	if s.TotalBytes > 0 {
		pct = 100 * float64(s.FreeBytes) / float64(s.TotalBytes)
	}
	_, err := fmt.Fprintf(out, "Log disk: %s, %s free of %s (%.0f%%), %s\n", s.DataDir,
		humanBytes(s.FreeBytes), humanBytes(s.TotalBytes), pct, state)
	return err
}

// printStreams writes one row per stream of the log.
func printStreams(ctx context.Context, conn *bus.Conn, out io.Writer) error {
	tw := newTableWriter(out)
	writeRow(tw, []string{"STREAM", "MESSAGES", "BYTES", "FIRST", "LAST"})
	for _, name := range []string{events.StreamIntents, events.StreamDecisions, events.StreamObservations, events.StreamHeartbeats} {
		st, err := conn.JS.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		s := st.CachedInfo().State
		writeRow(tw, []string{name, fmt.Sprint(s.Msgs), humanBytes(s.Bytes), fmt.Sprint(s.FirstSeq), fmt.Sprint(s.LastSeq)})
	}
	return tw.Flush()
}

// humanBytes is a size as a person reads it: 980B, 12.5Ki, 72.8Gi.
func humanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%dB", b)
	}
	v, i := float64(b), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f%ci", v, "KMGTPE"[i])
}
