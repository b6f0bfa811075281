package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/gantry-sh/gantry/cli/client"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/identity"
	"github.com/gantry-sh/gantry/node/network"
)

// upIdentities are the identities `gantry up` runs with: its control
// plane's, its node's, and the admin's and simulator's credentials it
// hands out. A nil *upIdentities is authentication off.
type upIdentities struct {
	set                            *identity.Set
	cpCreds, nodeCreds, adminCreds string
	ca                             string // the CA clients trust, when the server speaks TLS
}

// makeIdentities loads (or makes, on first start) the cluster's identities
// in dir and writes the credentials of the control plane, the admin, the
// simulator and, with withNode, the node named node.
func makeIdentities(dir, node string, withNode bool) (*upIdentities, error) {
	set, err := identity.LoadOrCreate(dir)
	if err != nil {
		return nil, err
	}
	ids := &upIdentities{set: set}
	if ids.cpCreds, err = set.Issue(identity.ControlPlane, identity.ControlPlanePermissions()); err != nil {
		return nil, err
	}
	if ids.adminCreds, err = set.Issue(identity.Admin, identity.AdminPermissions()); err != nil {
		return nil, err
	}
	if _, err = set.Issue(identity.Simulator, identity.SimulatorPermissions()); err != nil {
		return nil, err
	}
	if withNode {
		if ids.nodeCreds, err = set.Issue(identity.NodeName(node), identity.NodePermissions(node)); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// dataDirIdentities are the identities of the data dir of a `gantry up`
// that made them; nil when it has none (made before authentication, or
// with --insecure-no-auth only).
func dataDirIdentities(dataDir string) (*upIdentities, error) {
	dir := filepath.Join(dataDir, "identity")
	if _, err := os.Stat(filepath.Join(dir, "account.nk")); err != nil {
		return nil, nil
	}
	return makeIdentities(dir, "", false)
}

func (ids *upIdentities) server() *bus.Auth {
	if ids == nil {
		return nil
	}
	return &bus.Auth{Operator: ids.set.Operator(), SystemAccount: ids.set.SystemKey, Accounts: ids.set.Accounts(),
		Internal: ids.controlPlane()}
}

func (ids *upIdentities) controlPlane() []nats.Option {
	if ids == nil {
		return nil
	}
	return append(ids.tls(), nats.UserCredentials(ids.cpCreds), nats.CustomInboxPrefix(identity.ControlPlaneInbox))
}

func (ids *upIdentities) node() []nats.Option {
	if ids == nil {
		return nil
	}
	return append(ids.tls(), nats.UserCredentials(ids.nodeCreds))
}

func (ids *upIdentities) tls() []nats.Option {
	if ids.ca == "" {
		return nil
	}
	return []nats.Option{nats.RootCAs(ids.ca)}
}

// serverTLS is the TLS of a server listening on listen, off loopback: its
// certificate names loopback, the listen address and this host's names.
func (ids *upIdentities) serverTLS(listen string) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(listen)
	hosts := []string{"127.0.0.1", "::1", "localhost"}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		hosts = append(hosts, host)
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	if addr, err := network.DefaultAddress(); err == nil {
		hosts = append(hosts, addr.String())
	}
	cfg, err := ids.set.ServerTLS(hosts)
	if err != nil {
		return nil, err
	}
	ids.ca = ids.set.CAPath()
	return cfg, nil
}

// upContext is the name of the context `gantry up` writes into the client
// config.
const upContext = "gantry-up"

// writeContext adds (or updates) the context of this cluster in the client
// config, makes it current, and says where the admin's credentials are.
func (ids *upIdentities) writeContext(out io.Writer, url string) error {
	path, err := client.ConfigPath()
	if err != nil {
		return err
	}
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return err
	}
	creds, err := filepath.Abs(ids.adminCreds)
	if err != nil {
		return err
	}
	cfg.Set(upContext, client.Context{Server: url, Credentials: creds, CertificateAuthority: ids.ca})
	cfg.CurrentContext = upContext
	if err := cfg.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(out, "admin credentials: %s (context %q, current, in %s)\n", creds, upContext, path)
	return nil
}

// newNodeCredentialsCmd is `gantry node credentials NAME`: on the control
// plane's machine, the credentials of the node agent named NAME (made from
// the cluster's identities under --data-dir), for `gantry node --creds`.
func newNodeCredentialsCmd(g *client.Globals) *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "credentials NAME",
		Short: "Write the credentials of node NAME (for `gantry node --creds FILE` on its machine) and print their path",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if fe := client.ValidateNodeName(args[0]); fe != nil {
				return fe
			}
			set, err := identity.LoadOrCreate(filepath.Join(dataDir, "identity"))
			if err != nil {
				return err
			}
			path, err := set.Issue(identity.NodeName(args[0]), identity.NodePermissions(args[0]))
			if err != nil {
				return err
			}
			fmt.Fprintln(g.Out, path)
			return nil
		},
	}
	c.Flags().StringVar(&dataDir, "data-dir", "/var/lib/gantry", "the data dir of `gantry up`, where the cluster's identities are")
	return c
}
