package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
)

// logCheckWait bounds the two requests that check the server holds Gantry's
// log; a live server answers them in a millisecond.
const logCheckWait = 5 * time.Second

// DialCluster connects to the NATS at rawURL and, with needLog, checks that it
// holds Gantry's log, so that every verb fails at once with a line that says
// what to do instead of a NATS error. The control plane (serve) passes
// needLog false: it provisions the log itself.
func DialCluster(rawURL, name string, needLog bool, opts ...nats.Option) (*bus.Conn, error) {
	conn, err := bus.Connect(rawURL, name, opts...)
	if errors.Is(err, nats.ErrAuthorization) {
		return nil, fmt.Errorf("the NATS server at %s refused these credentials (%w): use the credentials `gantry up` wrote (its context in the client config, `gantry config get-contexts`), or give --creds", redactURL(rawURL), err)
	}
	if err != nil {
		answer, ok := noServer(err)
		if !ok {
			return nil, err
		}
		where := redactURL(rawURL) + answer
		if !needLog {
			return nil, fmt.Errorf("no NATS server answers at %s: start one with JetStream enabled, or point --nats / GANTRY_NATS at it", where)
		}
		return nil, fmt.Errorf("no Gantry cluster answers at %s: is a cluster running? start one with \"gantry up\", or point --nats / GANTRY_NATS at it", where)
	}
	if !needLog {
		return conn, nil
	}
	if err := checkLog(conn.JS, rawURL); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// noServer recognises a NATS that is not there: nothing listens (refused),
// no server of the URL list could be reached, or the dial failed (no route,
// unknown host, timeout). why is what the dial said, in parentheses, when it
// says more than that nothing listens.
func noServer(err error) (why string, ok bool) {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, syscall.ECONNREFUSED) {
		return "", true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return " (" + dns.Error() + ")", true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return " (" + op.Err.Error() + ")", true
	}
	return "", false
}

// checkLog asks the server for JetStream and for the intents stream: a plain
// nats-server, or one no control plane has provisioned, is named as such.
func checkLog(js jetstream.JetStream, rawURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), logCheckWait)
	defer cancel()
	where := redactURL(rawURL)
	_, err := js.AccountInfo(ctx)
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("the NATS server at %s has JetStream off, so it holds no Gantry log: point --nats / GANTRY_NATS at a Gantry cluster (\"gantry up\" starts one)", where)
	case err != nil:
		return fmt.Errorf("ask the NATS server at %s for JetStream: %w", where, err)
	}
	_, err = js.Stream(ctx, events.StreamIntents)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("the NATS server at %s holds no Gantry log (no stream %q): run the control plane against it (\"gantry serve --nats %s\"), or point --nats / GANTRY_NATS at a Gantry cluster", where, events.StreamIntents, where)
	case err != nil:
		return fmt.Errorf("read the log at %s: %w", where, err)
	}
	return nil
}

// redactURL hides a password in the URL, so an error line can be pasted.
func redactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	return u.Redacted()
}
