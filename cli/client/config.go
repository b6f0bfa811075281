package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/gantry-sh/gantry/events/identity"
)

// ClientConfig is the client's configuration file, shaped as kubeconfig:
// named contexts (a cluster's server, CA and credentials) and the current
// one (docs/security-identity.md).
type ClientConfig struct {
	CurrentContext string         `yaml:"current-context"`
	Contexts       []NamedContext `yaml:"contexts"`
}

// NamedContext is one entry of ClientConfig.Contexts.
type NamedContext struct {
	Name    string  `yaml:"name"`
	Context Context `yaml:"context"`
}

// Context says where a cluster is and who the client is there.
type Context struct {
	Server string `yaml:"server"`
	// CertificateAuthority is the file of the CA that signed the server's
	// certificate (a server off loopback speaks TLS only).
	CertificateAuthority string `yaml:"certificate-authority,omitempty"`
	// Credentials is the NATS credentials file (user JWT and seed).
	Credentials string `yaml:"credentials,omitempty"`
}

// ConfigPath is where the client config is: $GANTRY_CONFIG, else
// ~/.config/gantry/config ($XDG_CONFIG_HOME/gantry/config).
func ConfigPath() (string, error) {
	if p := os.Getenv("GANTRY_CONFIG"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("client config: %w (set GANTRY_CONFIG)", err)
	}
	return filepath.Join(dir, "gantry", "config"), nil
}

// LoadConfig reads the client config at path; a missing file is an empty
// config.
func LoadConfig(path string) (*ClientConfig, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &ClientConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	var c ClientConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	return &c, nil
}

// Save writes the config to path atomically, readable by its owner only.
func (c *ClientConfig) Save(path string) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("client config: %w", err)
	}
	return identity.WriteFile(path, b)
}

// Context is the named context, if the config has it.
func (c *ClientConfig) Context(name string) (Context, bool) {
	for _, nc := range c.Contexts {
		if nc.Name == name {
			return nc.Context, true
		}
	}
	return Context{}, false
}

// Current is the current context, if any.
func (c *ClientConfig) Current() (Context, bool) {
	if c.CurrentContext == "" {
		return Context{}, false
	}
	return c.Context(c.CurrentContext)
}

// Set adds the named context, or replaces it.
func (c *ClientConfig) Set(name string, ctx Context) {
	for i := range c.Contexts {
		if c.Contexts[i].Name == name {
			c.Contexts[i].Context = ctx
			return
		}
	}
	c.Contexts = append(c.Contexts, NamedContext{Name: name, Context: ctx})
}
