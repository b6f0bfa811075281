// Command gantry is Gantry's one binary: the control plane (up, serve), the
// node agent (node), the simulated nodes (sim), the log's checks and backups
// (log, backup, restore), and the kubectl-shaped client (apply, get, describe,
// delete, logs, events, …), whose verbs are in package client.
package main

import (
	"io"
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// Durations in logs carry their unit (replay=39.6ms), not a bare number.
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, in io.Reader, out, errOut io.Writer) int {
	g := &client.Globals{Version: version, In: in, Out: out, ErrOut: errOut}
	return client.Execute(g, newRoot(g), args)
}

// newRoot is the whole command: the client's verbs and those that run the
// cluster.
func newRoot(g *client.Globals) *cobra.Command {
	root := client.NewRoot(g)
	root.AddCommand(client.Commands(g)...)
	root.AddCommand(newUpCmd(g), newServeCmd(g), newNodeCmd(g), newImageCmd(g), newSimCmd(g))
	root.AddCommand(newLogCmd(g), newBackupCmd(g), newRestoreCmd(g))
	return root
}
