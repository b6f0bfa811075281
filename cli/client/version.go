package client

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newVersionCmd makes `gantry version`, as kubectl's: the client's version,
// then the cluster's NATS server's; with --client only the first, offline.
// Without a cluster it prints the client's and fails with connect's hint.
func newVersionCmd(g *Globals) *cobra.Command {
	var clientOnly bool
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the client's version and the cluster's NATS server's",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(g.Out, "Client Version: %s\n", g.Version)
			if clientOnly {
				return nil
			}
			conn, err := g.Connect("version")
			if err != nil {
				return err
			}
			defer conn.Close()
			fmt.Fprintf(g.Out, "NATS Server Version: %s\n", conn.NC.ConnectedServerVersion())
			return nil
		},
	}
	c.Flags().BoolVar(&clientOnly, "client", false, "print the client's version only, without dialing the cluster")
	return c
}
