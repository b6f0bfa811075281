package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/node/containerd"
)

func newImageCmd(g *client.Globals) *cobra.Command {
	c := &cobra.Command{Use: "image", Short: "Manage images in the node's containerd store"}
	var sock, ns string
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an OCI layout or docker tarball into containerd (namespace gantry) and unpack it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("image import: %w", err)
			}
			defer f.Close()
			names, err := containerd.ImportImageTo(cmd.Context(), sock, ns, f)
			if err != nil {
				return fmt.Errorf("image import %s: %w", args[0], err)
			}
			for _, n := range names {
				fmt.Fprintf(g.Out, "imported %s\n", n)
			}
			return nil
		},
	}
	imp.Flags().StringVar(&sock, "containerd", "/run/containerd/containerd.sock", "containerd socket")
	imp.Flags().StringVar(&ns, "containerd-namespace", "gantry", "containerd namespace")
	c.AddCommand(imp)
	return c
}
