// Package bus connects Gantry to NATS JetStream: the embedded server, the
// streams of the log, and publishing with idempotency and concurrency headers.
package bus

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
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
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start nats server: %w", err)
	}
	nl := &natsLogger{log: cfg.Log.With().Str("component", "nats").Logger()}
	var guard *diskGuard
	if cfg.Disk != nil {
		guard = newDiskGuard(cfg.StoreDir, *cfg.Disk, cfg.Log)
		nl.onStoreError = guard.storeError
	}
	s.SetLoggerV2(nl, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats server on %s: not ready after 30s", cfg.Listen)
	}
	if guard != nil {
		go guard.run(s) // until the server shuts down
	}
	return s, nil
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
