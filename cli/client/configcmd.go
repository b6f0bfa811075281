package client

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// newConfigCmd is `gantry config`: the client config's contexts, as
// kubectl config's.
func newConfigCmd(g *Globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Show the client config or change its current context"}
	c.AddCommand(&cobra.Command{
		Use: "view", Short: "Print the client config", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, cfg, err := loadClientConfig()
			if err != nil {
				return err
			}
			b, err := yaml.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = g.Out.Write(b)
			return err
		},
	}, &cobra.Command{
		Use: "get-contexts", Short: "List the contexts of the client config", Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, cfg, err := loadClientConfig()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(g.Out, 0, 4, 3, ' ', 0)
			fmt.Fprintln(w, "CURRENT\tNAME\tSERVER\tCREDENTIALS")
			for _, nc := range cfg.Contexts {
				cur := ""
				if nc.Name == cfg.CurrentContext {
					cur = "*"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", cur, nc.Name, nc.Context.Server, nc.Context.Credentials)
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use: "use-context NAME", Short: "Make NAME the current context", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, cfg, err := loadClientConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Context(args[0]); !ok {
				return fmt.Errorf("no context exists with the name: %q", args[0])
			}
			cfg.CurrentContext = args[0]
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "Switched to context %q.\n", args[0])
			return nil
		},
	})
	return c
}

func loadClientConfig() (string, *ClientConfig, error) {
	path, err := ConfigPath()
	if err != nil {
		return "", nil, err
	}
	cfg, err := LoadConfig(path)
	return path, cfg, err
}
