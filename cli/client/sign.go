package client

import (
	"cmp"
	"fmt"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/gantry-sh/gantry/events/identity"
)

// signer is who the CLI signs intents as: the user of its credentials
// (--creds, else the current context's), with the key their seed holds.
type signer struct {
	name string
	key  nkeys.KeyPair
}

// Signer reads the user of the client's credentials; nil when it has none
// (its intents go unsigned, with Actor() as their actor).
func (g *Globals) Signer() (*signer, error) {
	path := g.Creds
	if path == "" {
		cp, err := ConfigPath()
		if err != nil {
			return nil, err
		}
		cfg, err := LoadConfig(cp)
		if err != nil {
			return nil, err
		}
		ctx, _ := cfg.Current()
		path = cmp.Or(path, ctx.Credentials)
	}
	if path == "" {
		return nil, nil
	}
	name, _, err := identity.ReadCreds(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return &signer{name: name, key: kp}, nil
}

// actor is the name intents are written by: the credentials' user, else
// Actor().
func (s *signer) actor() string {
	if s == nil {
		return Actor()
	}
	return s.name
}
