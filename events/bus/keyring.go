package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gantry-sh/gantry/events"
)

// LastKeyring reads the newest KeyringPublished (events.SubjectKeyring) and
// its sequence; nil and 0 when the control plane published none yet.
func LastKeyring(ctx context.Context, js jetstream.JetStream) (*events.KeyringPublished, uint64, error) {
	st, err := js.Stream(ctx, events.StreamDecisions)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: %w", events.StreamDecisions, err)
	}
	m, err := st.GetLastMsgForSubject(ctx, events.SubjectKeyring)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read the cluster's keyring: %w", err)
	}
	env, err := events.Parse(m.Data)
	if err != nil {
		return nil, 0, fmt.Errorf("read the cluster's keyring: %w", err)
	}
	ev, err := env.Decode()
	if err != nil {
		return nil, 0, fmt.Errorf("read the cluster's keyring: %w", err)
	}
	k, ok := ev.(*events.KeyringPublished)
	if !ok {
		return nil, 0, fmt.Errorf("read the cluster's keyring: a %s on %s", env.Type, events.SubjectKeyring)
	}
	return k, m.Sequence, nil
}
