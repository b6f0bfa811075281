// Package network gives pods their network: a named network namespace per pod
// and an address on the node's bridge through CNI (bridge, host-local and
// loopback plugins driven by go-cni).
package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"

	gocni "github.com/containerd/go-cni"
	"github.com/rs/zerolog"
	"github.com/vishvananda/netlink"
)

// Defaults for Config.
const (
	DefaultPodCIDR     = "10.42.0.0/24"
	DefaultBridgeName  = "gantry0"
	DefaultNetworkName = "gantry"
	// CNIVersion is the newest version the Debian plugins (1.1.1) accept.
	CNIVersion = "1.0.0"
	// PodInterface is the pod's interface on the bridge.
	PodInterface = "eth0"
)

// DefaultPluginDirs are searched for CNI plugin binaries.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config describes the node's pod network.
type Config struct {
	// PodCIDR is the subnet pods get addresses from; the bridge takes its
	// first address as the pods' gateway.
	PodCIDR string
	// ClusterCIDR holds every node's pod CIDR: pods' traffic to it is not
	// masqueraded (pod to pod across nodes keeps its source); default
	// PodCIDR (one node).
	ClusterCIDR string
	// BridgeName is the Linux bridge the pods' veths join (at most 15 bytes).
	BridgeName string
	// NetworkName names the CNI network (and its cache entries).
	NetworkName string
	// PluginDirs hold the CNI plugin binaries.
	PluginDirs []string
	// StateDir keeps host-local's leases (StateDir/ipam).
	StateDir string
	// NetNSDir is where pod namespaces are mounted; default /var/run/netns.
	NetNSDir string
}

func (c *Config) setDefaults() {
	if c.PodCIDR == "" {
		c.PodCIDR = DefaultPodCIDR
	}
	if c.BridgeName == "" {
		c.BridgeName = DefaultBridgeName
	}
	if c.NetworkName == "" {
		c.NetworkName = DefaultNetworkName
	}
	if len(c.PluginDirs) == 0 {
		c.PluginDirs = DefaultPluginDirs
	}
	if c.NetNSDir == "" {
		c.NetNSDir = DefaultNetNSDir
	}
}

// Network attaches pod namespaces to the node's bridge.
type Network struct {
	cfg    Config
	subnet string
	cni    gocni.CNI
	log    zerolog.Logger
}

// New checks the configuration and loads the CNI network: the bridge network
// first (so the pod's interface is eth0), loopback after it.
func New(cfg Config, log zerolog.Logger) (*Network, error) {
	cfg.setDefaults()
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("network: state dir is required")
	}
	_, subnet, err := net.ParseCIDR(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("network: pod CIDR: %w", err)
	}
	if subnet.IP.To4() == nil {
		return nil, fmt.Errorf("network: pod CIDR %s: only IPv4 is supported", cfg.PodCIDR)
	}
	// A pod CIDR given by hand outside the cluster CIDR: only the node's
	// own pods are reached without masquerading.
	cluster := subnet
	if cfg.ClusterCIDR != "" {
		_, c, err := net.ParseCIDR(cfg.ClusterCIDR)
		if err != nil {
			return nil, fmt.Errorf("network: cluster CIDR: %w", err)
		}
		cOnes, _ := c.Mask.Size()
		sOnes, _ := subnet.Mask.Size()
		if c.Contains(subnet.IP) && cOnes <= sOnes {
			cluster = c
		}
	}
	if len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("network: bridge name %q is longer than 15 bytes", cfg.BridgeName)
	}
	found := false
	for _, d := range cfg.PluginDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			found = true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("network: no bridge CNI plugin in %v", cfg.PluginDirs)
	}
	ipamDir := filepath.Join(cfg.StateDir, "ipam")
	if err := os.MkdirAll(ipamDir, 0o700); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	conf, err := confList(cfg, subnet.String(), ipamDir)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	c, err := gocni.New(gocni.WithPluginDir(cfg.PluginDirs), gocni.WithMinNetworkCount(2))
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if err := c.Load(gocni.WithConfListBytes(conf), gocni.WithLoNetwork); err != nil {
		return nil, fmt.Errorf("network: load CNI config: %w", err)
	}
	if err := ensureMasquerade(context.Background(), subnet.String(), cluster.String(), cfg.BridgeName); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return &Network{cfg: cfg, subnet: subnet.String(), cni: c, log: log}, nil
}

// confList is the CNI configuration of the pod network.
func confList(cfg Config, subnet, ipamDir string) ([]byte, error) {
	type m = map[string]any
	return json.Marshal(m{
		"cniVersion": CNIVersion,
		"name":       cfg.NetworkName,
		"plugins": []m{{
			"type":      "bridge",
			"bridge":    cfg.BridgeName,
			"isGateway": true,
			// One masquerade rule for the whole pod CIDR (ensureMasquerade)
			// instead of a chain per pod: it halves the cost of a sandbox.
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": m{
				"type":    "host-local",
				"ranges":  [][]m{{{"subnet": subnet}}},
				"routes":  []m{{"dst": "0.0.0.0/0"}},
				"dataDir": ipamDir,
			},
		}},
	})
}

// Config is the configuration in force, defaults filled in.
func (n *Network) Config() Config { return n.cfg }

// NetNSPath is where the namespace of the sandbox id lives.
func (n *Network) NetNSPath(id string) string {
	return filepath.Join(n.cfg.NetNSDir, "gantry-"+id)
}

// Setup attaches the namespace at nsPath to the pod network under the
// sandbox id (a CNI container id) and returns the pod's IPv4 address. On
// failure it undoes what it did.
func (n *Network) Setup(ctx context.Context, id, nsPath string) (string, error) {
	res, err := n.cni.SetupSerially(ctx, id, nsPath)
	// Undoing must not stop because the caller gave up.
	undoCtx := context.WithoutCancel(ctx)
	if err != nil {
		if derr := n.cni.Remove(undoCtx, id, nsPath); derr != nil {
			n.log.Warn().Err(derr).Str("sandbox", id).Msg("undo failed CNI ADD")
		}
		return "", fmt.Errorf("cni add %s: %w", id, err)
	}
	iface, ok := res.Interfaces[PodInterface]
	if ok {
		for _, c := range iface.IPConfigs {
			if v4 := c.IP.To4(); v4 != nil {
				n.forgetNeighbour(v4)
				return v4.String(), nil
			}
		}
	}
	if derr := n.cni.Remove(undoCtx, id, nsPath); derr != nil {
		n.log.Warn().Err(derr).Str("sandbox", id).Msg("undo CNI ADD without address")
	}
	return "", fmt.Errorf("cni add %s: no IPv4 address on %s", id, PodInterface)
}

// Teardown detaches the sandbox id from the pod network: veth, masquerade
// rules and IP lease. nsPath may be empty or gone; then only the lease, the
// rules and the cache are released. Tearing down what is gone is success.
func (n *Network) Teardown(ctx context.Context, id, nsPath string) error {
	if nsPath != "" {
		if ok, err := IsNetNS(nsPath); err != nil || !ok {
			nsPath = ""
		}
	}
	err := n.cni.Remove(ctx, id, nsPath)
	// The bridge plugin removes the masquerade rules only while the pod's
	// interface exists; a namespace that vanished (or lost its eth0) first
	// leaves them, and they would make a later DEL of the id fail.
	if merr := releaseMasquerade(ctx, n.cfg.NetworkName, id); merr != nil {
		n.log.Warn().Err(merr).Str("sandbox", id).Msg("release masquerade rules")
	} else if err != nil {
		err = n.cni.Remove(ctx, id, nsPath)
	}
	if err != nil {
		return fmt.Errorf("cni del %s: %w", id, err)
	}
	return nil
}

// forgetNeighbour drops the host's neighbour (ARP) entry for a pod address
// on the bridge: an address given again (a pod replaced, a cluster started
// again on the same bridge) would otherwise go to the old pod's MAC until
// the entry went stale, tens of seconds during which the node cannot reach
// the new pod (its probes fail). Best effort: no entry is the usual case.
func (n *Network) forgetNeighbour(ip net.IP) {
	br, err := netlink.LinkByName(n.cfg.BridgeName)
	if err != nil {
		return
	}
	_ = netlink.NeighDel(&netlink.Neigh{LinkIndex: br.Attrs().Index, IP: ip})
}
