package client

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

func newAPIResourcesCmd(g *Globals) *cobra.Command {
	var output string
	var namespaced bool
	c := &cobra.Command{
		Use:     "api-resources",
		Short:   "List the resource types Gantry knows, with their short names, like kubectl api-resources",
		Example: "  gantry api-resources\n  gantry api-resources --namespaced=false\n  gantry api-resources -o name",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var only *bool // --namespaced filters only when given
			if cmd.Flags().Changed("namespaced") {
				only = &namespaced
			}
			switch output {
			case "":
				return printAPIResources(g.Out, only)
			case "name":
				for _, k := range kindTable {
					if only == nil || k.namespaced == *only {
						fmt.Fprintln(g.Out, k.qualifiedPlural())
					}
				}
				return nil
			}
			return fmt.Errorf("--output %q: want name or nothing", output)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "output format: name")
	c.Flags().BoolVar(&namespaced, "namespaced", true, "with true, only namespaced resources; with false, only cluster-wide ones")
	return c
}

// printAPIResources is kubectl api-resources' table: NAME, SHORTNAMES,
// APIVERSION, NAMESPACED, KIND, one row per kind of kindTable; only, when
// set, keeps the kinds whose namespaced is *only.
func printAPIResources(out io.Writer, only *bool) error {
	tw := newTableWriter(out)
	writeRow(tw, []string{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"})
	for _, k := range kindTable {
		if only != nil && k.namespaced != *only {
			continue
		}
		writeRow(tw, []string{k.plural, strings.Join(k.shortNames, ","), k.apiVersion(), strconv.FormatBool(k.namespaced), k.title})
	}
	return tw.Flush()
}
