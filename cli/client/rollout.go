package client

import "github.com/spf13/cobra"

// newRolloutCmd is kubectl's `rollout` group: each verb (history, status,
// undo, restart, pause, resume, promote) is a file of its own, added here.
func newRolloutCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of a Deployment: its revisions",
	}
	c.AddCommand(newRolloutHistoryCmd(g), newRolloutUndoCmd(g), newRolloutRestartCmd(g), newRolloutStatusCmd(g),
		newRolloutPauseCmd(g), newRolloutResumeCmd(g), newRolloutPromoteCmd(g))
	return c
}
