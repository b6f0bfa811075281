// Package bus connects Gantry to NATS JetStream: the embedded server, the
// streams of the log, and publishing with idempotency and concurrency headers.
package bus

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	StoreDir string // JetStream file storage
	Listen   string // host:port for clients; port -1 picks a free one
	// Name of the server; defaults to "gantry".
	Name string
	// Log receives the server's own warnings and errors (its notices at
	// debug level), with component=nats; the zero Logger drops them.
	Log zerolog.Logger
	// Disk, when set, guards the store's filesystem (see diskGuard): the
	// log says when it is low or full, SubjectLogStatus answers with its
	// free space, and JetStream restarts by itself once room comes back.
	Disk *DiskConfig
	// Auth, when set, runs the server in operator mode: every connection,
	// loopback included, must present a user JWT signed by one of Accounts;
	// anonymous and wrong credentials are refused.
	Auth *Auth
	// TLS, when set, is required of every client connection.
	TLS *tls.Config
}

// Auth is the operator mode of the embedded server (events/identity makes it).
type Auth struct {
	Operator      *jwt.OperatorClaims
	SystemAccount string            // the system account's public key
	Accounts      map[string]string // public key -> account JWT
	// Internal are the options (credentials) of the server's own client,
	// the disk guard's connection.
	Internal []nats.Option
}

// StartServer runs an embedded NATS server with JetStream on file storage and
// sync_interval: always (every acknowledged write is on disk).
func StartServer(cfg ServerConfig) (*server.Server, error) {
	host, portStr, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen address %q: %w", cfg.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < -1 || port > 65535 {
		return nil, fmt.Errorf("nats listen address %q: bad port", cfg.Listen)
	}
	name := cfg.Name
	if name == "" {
		name = "gantry"
	}
	opts := &server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: true,
		NoSigs:     true,
		// Decisions carry whole pod specs; allow room for large ones.
		MaxPayload: 8 << 20,
	}
	if a := cfg.Auth; a != nil {
		res := &server.MemAccResolver{}
		for pub, token := range a.Accounts {
			if err := res.Store(pub, token); err != nil {
				return nil, fmt.Errorf("account %s: %w", pub, err)
			}
		}
		opts.TrustedOperators = []*jwt.OperatorClaims{a.Operator}
		opts.SystemAccount = a.SystemAccount
		opts.AccountResolver = res
	}
	if cfg.TLS != nil {
		opts.TLSConfig = cfg.TLS
		opts.TLS = true
		opts.TLSVerify = false // clients prove who they are by their JWT, not a certificate
		opts.TLSTimeout = 5
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	nl := &natsLogger{log: cfg.Log.With().Str("component", "nats").Logger()}
	var guard *diskGuard
	if cfg.Disk != nil {
		guard = newDiskGuard(cfg.StoreDir, *cfg.Disk, cfg.Log)
		if cfg.Auth != nil {
			guard.opts = cfg.Auth.Internal
		}
		nl.onStoreError = guard.storeError
	}
	s.SetLoggerV2(nl, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats server on %s: not ready after 30s", cfg.Listen)
	}
	if cfg.Auth != nil {
		if err := enableAccounts(s, cfg.Auth); err != nil {
			s.Shutdown()
			return nil, err
		}
	}
	if guard != nil {
		go guard.run(s) // until the server shuts down
	}
	return s, nil
}

// enableAccounts registers the accounts at once and waits for JetStream in
// each but the system's: registered lazily, by a first connection, an
// account's JetStream could still be starting when that connection asks.
func enableAccounts(s *server.Server, a *Auth) error {
	for pub := range a.Accounts {
		if pub == a.SystemAccount {
			continue
		}
		acc, err := s.LookupAccount(pub)
		if err != nil {
			return fmt.Errorf("nats account %s: %w", pub, err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !acc.JetStreamEnabled() {
			if time.Now().After(deadline) {
				return fmt.Errorf("nats account %s: JetStream not enabled after 30s", pub)
			}
			time.Sleep(5 * time.Millisecond) // polling the server's state
		}
	}
	return nil
}

// natsLogger hands the embedded server's log to Gantry's: errors and
// warnings as such, notices at debug (the server says a lot at start that
// an operator of Gantry need not read). A fatal message is logged as an
// error: the server, not the logger, decides what happens next.
type natsLogger struct {
	log          zerolog.Logger
	onStoreError func(msg string)
}

func (l *natsLogger) Noticef(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l *natsLogger) Warnf(format string, v ...any)   { l.log.Warn().Msgf(format, v...) }
func (l *natsLogger) Debugf(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }
func (l *natsLogger) Tracef(format string, v ...any)  { l.log.Trace().Msgf(format, v...) }

func (l *natsLogger) Fatalf(format string, v ...any) {
	l.log.Error().Bool("fatal", true).Msgf(format, v...)
}

func (l *natsLogger) Errorf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error().Msg(msg)
	if l.onStoreError != nil && isOutOfRoom(msg) {
		l.onStoreError(msg)
	}
}

// isOutOfRoom recognises the server's messages about a store that ran out
// of room: a write that failed with ENOSPC ("no space left on device", the
// words nats-server itself matches in isOutOfSpaceErr), or JetStream's own
// limit reached ("JetStream file resource limits exceeded for server").
func isOutOfRoom(msg string) bool {
	return strings.Contains(msg, "no space left") || strings.Contains(msg, "resource limits exceeded")
}

// globalAccount is the account of a server without authentication: its
// JetStream store is <store>/jetstream/$G.
const globalAccount = "$G"

// AdoptStore moves a log kept by a server without authentication (its
// streams under the global account) to account, the one a server in
// operator mode keeps it under, so that a data dir from before
// authentication keeps its log. It does nothing when account already has
// a store, or there is nothing to move.
func AdoptStore(storeDir, account string) error {
	from := filepath.Join(storeDir, "jetstream", globalAccount)
	to := filepath.Join(storeDir, "jetstream", account)
	if _, err := os.Stat(to); err == nil {
		return nil
	}
	if _, err := os.Stat(from); err != nil {
		return nil
	}
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("move the log to account %s: %w", account, err)
	}
	return nil
}
