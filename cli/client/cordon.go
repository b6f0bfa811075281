package client

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/events"
)

// CordonCmds are `gantry node cordon` and `gantry node uncordon`, for the
// node command of package main.
func CordonCmds(g *Globals) []*cobra.Command {
	return []*cobra.Command{newCordonCmd(g, "cordon", true), newCordonCmd(g, "uncordon", false)}
}

// newCordonCmd makes `gantry node cordon|uncordon NAME`: an intent, judged by
// admission; a cordoned node gets no new pods, its running pods stay.
func newCordonCmd(g *Globals, verb string, unschedulable bool) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: map[bool]string{true: "Mark a node unschedulable: no new pods", false: "Let a node take new pods again"}[unschedulable],
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := ValidateNodeName(name); err != nil {
				return err
			}
			conn, err := g.Connect("cli")
			if err != nil {
				return err
			}
			defer conn.Close()
			if failed := submit(cmd.Context(), g, conn, []intent{cordonIntent(name, unschedulable)}); failed > 0 {
				return ExitError{Code: 1, Err: fmt.Errorf("node/%s not %sed", name, verb), Reported: true}
			}
			return nil
		},
	}
}

// cordonIntent asks for a node to be cordoned (unschedulable) or uncordoned.
func cordonIntent(node string, unschedulable bool) intent {
	op := map[bool]string{true: "cordon", false: "uncordon"}[unschedulable]
	return intent{kind: "node", ns: events.ClusterScope, name: node, op: op,
		subject: events.IntentSubject(events.ClusterScope, "node", node),
		event:   &events.IntentCordon{Node: node, Unschedulable: unschedulable},
		label:   "node/" + node}
}
