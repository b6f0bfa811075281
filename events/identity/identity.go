// Package identity makes and keeps the cluster's NATS identities in NATS'
// decentralized model: an operator, the cluster's account, the system
// account the server needs, and user JWTs signed by the account whose
// permissions the server enforces (docs/security-identity.md).
package identity

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Set is the operator and the two accounts of one cluster, with the keys
// that sign them.
type Set struct {
	dir      string
	operator nkeys.KeyPair
	account  nkeys.KeyPair
	system   nkeys.KeyPair
	// OperatorJWT, AccountJWT and SystemJWT are signed anew at each load
	// from the kept seeds, so they always carry this version's settings.
	OperatorJWT string
	AccountJWT  string
	SystemJWT   string
	// AccountKey and SystemKey are the accounts' public keys.
	AccountKey string
	SystemKey  string
}

// LoadOrCreate reads the seeds kept in dir, making those missing (0600,
// written atomically), and signs the operator's and accounts' JWTs.
func LoadOrCreate(dir string) (*Set, error) {
	if err := os.MkdirAll(filepath.Join(dir, "creds"), 0o700); err != nil {
		return nil, fmt.Errorf("identity dir: %w", err)
	}
	s := &Set{dir: dir}
	var err error
	if s.operator, err = seed(filepath.Join(dir, "operator.nk"), nkeys.CreateOperator); err != nil {
		return nil, err
	}
	if s.account, err = seed(filepath.Join(dir, "account.nk"), nkeys.CreateAccount); err != nil {
		return nil, err
	}
	if s.system, err = seed(filepath.Join(dir, "system.nk"), nkeys.CreateAccount); err != nil {
		return nil, err
	}
	opPub, _ := s.operator.PublicKey()
	s.AccountKey, _ = s.account.PublicKey()
	s.SystemKey, _ = s.system.PublicKey()
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "gantry"
	oc.SystemAccount = s.SystemKey
	if s.OperatorJWT, err = oc.Encode(s.operator); err != nil {
		return nil, fmt.Errorf("sign operator: %w", err)
	}
	ac := jwt.NewAccountClaims(s.AccountKey)
	ac.Name = "GANTRY"
	// JetStream without limits: the streams' own limits bound the log.
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1, MaxAckPending: -1}
	if s.AccountJWT, err = ac.Encode(s.operator); err != nil {
		return nil, fmt.Errorf("sign account: %w", err)
	}
	sc := jwt.NewAccountClaims(s.SystemKey)
	sc.Name = "SYS"
	if s.SystemJWT, err = sc.Encode(s.operator); err != nil {
		return nil, fmt.Errorf("sign system account: %w", err)
	}
	return s, nil
}

// Operator decodes the operator's claims, as the server's TrustedOperators
// takes them.
func (s *Set) Operator() *jwt.OperatorClaims {
	oc, err := jwt.DecodeOperatorClaims(s.OperatorJWT)
	if err != nil {
		panic(err) // signed by LoadOrCreate just now
	}
	return oc
}

// Accounts maps each account's public key to its JWT, for the server's
// account resolver.
func (s *Set) Accounts() map[string]string {
	return map[string]string{s.AccountKey: s.AccountJWT, s.SystemKey: s.SystemJWT}
}

// CredsPath is where the credentials of the user named name are kept.
func (s *Set) CredsPath(name string) string {
	return filepath.Join(s.dir, "creds", FileName(name)+".creds")
}

// FileName turns a user's name ("node/n1") into a file name ("node-n1").
func FileName(name string) string { return strings.ReplaceAll(name, "/", "-") }

// Issue writes the credentials of the user named name with these
// permissions, and returns their path. The user's key is kept across
// starts; its JWT is signed anew so its permissions are this version's.
func (s *Set) Issue(name string, perms jwt.Permissions) (string, error) {
	path := s.CredsPath(name)
	user, err := userKey(path)
	if err != nil {
		return "", err
	}
	pub, _ := user.PublicKey()
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.IssuerAccount = "" // signed by the account's own key
	uc.Permissions = perms
	token, err := uc.Encode(s.account)
	if err != nil {
		return "", fmt.Errorf("sign user %s: %w", name, err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(token, seed)
	if err != nil {
		return "", fmt.Errorf("credentials of %s: %w", name, err)
	}
	if err := WriteFile(path, creds); err != nil {
		return "", err
	}
	return path, nil
}

// userKey is the key in the credentials file at path, or a new one.
func userKey(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nkeys.CreateUser()
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(b)
	if err != nil {
		return nil, fmt.Errorf("credentials %s: %w", path, err)
	}
	return kp, nil
}

// seed reads the seed kept at path, or makes one with create and keeps it.
func seed(path string, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", path, err)
		}
		return kp, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	kp, err := create()
	if err != nil {
		return nil, err
	}
	s, _ := kp.Seed()
	if err := WriteFile(path, append(s, '\n')); err != nil {
		return nil, err
	}
	return kp, nil
}

// WriteFile writes a secret atomically: to a 0600 file beside path, synced,
// then renamed over it.
func WriteFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(0o600); err == nil {
		if _, err = tmp.Write(data); err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err == nil {
			return nil
		}
	} else {
		_ = tmp.Close()
	}
	return fmt.Errorf("write %s: %w", path, err)
}
