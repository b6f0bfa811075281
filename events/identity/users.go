package identity

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/jwt/v2"
)

// Users maps each user's public nkey to its name: who signed an intent
// (docs/security-signing.md).
type Users map[string]string

// LoadUsers reads the users of the credentials kept in dir (the identity
// directory `gantry up` keeps).
func LoadUsers(dir string) (Users, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "creds", "*.creds"))
	if err != nil {
		return nil, err
	}
	users := Users{}
	for _, p := range paths {
		name, pub, err := ReadCreds(p)
		if err != nil {
			return nil, err
		}
		users[pub] = name
	}
	return users, nil
}

// ReadCreds is the user's name and public key in the credentials file at
// path.
func ReadCreds(path string) (name, pub string, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", path, err)
	}
	token, err := jwt.ParseDecoratedJWT(b)
	if err != nil {
		return "", "", fmt.Errorf("credentials %s: %w", path, err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return "", "", fmt.Errorf("credentials %s: %w", path, err)
	}
	return uc.Name, uc.Subject, nil
}
