// Package bus connects Gantry to NATS JetStream: the embedded server, the
// streams of the log, and publishing with idempotency and concurrency headers.
package bus

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerConfig configures the embedded NATS server.
type ServerConfig struct {
	StoreDir string // JetStream file storage
	Listen   string // host:port for clients; port -1 picks a free one
	// Name of the server; defaults to "gantry".
	Name string
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
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("start nats server on %s: not ready after 30s", cfg.Listen)
	}
	return s, nil
}
