package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// newKeyringCmd is `gantry keyring rotate`: the control plane makes a new
// key that seals Secrets from then on, publishes it in the log, and appends
// every Secret re-sealed to it; the old keys stay to open the old boxes.
func newKeyringCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "keyring",
		Short: "The cluster's keyring, which seals Secrets (see docs/configuration.md)",
	}
	c.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new cluster key: Secrets are sealed to it from now on, and the control plane re-seals every Secret to it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.WithCluster(cmd, "cli", func(ctx context.Context, conn *bus.Conn) error {
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				msg, err := conn.NC.RequestWithContext(ctx, events.SubjectKeyringRotate, nil)
				if errors.Is(err, nats.ErrNoResponders) {
					return errors.New("no control plane holds the keyring: is gantry up, or gantry serve with --keyring-dir, running?")
				}
				if err != nil {
					return fmt.Errorf("keyring rotate: %w", err)
				}
				var rep api.KeyringReply
				if err := json.Unmarshal(msg.Data, &rep); err != nil {
					return fmt.Errorf("keyring rotate: %w", err)
				}
				if rep.Error != "" {
					return fmt.Errorf("keyring rotate: %s", rep.Error)
				}
				id, _, _ := strings.Cut(rep.Key, ":")
				fmt.Fprintf(g.Out, "keyring rotated: Secrets are sealed to key %s from now on; the control plane re-seals the existing ones\n", id)
				return nil
			})
		},
	})
	return c
}
