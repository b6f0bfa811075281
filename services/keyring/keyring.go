// Package keyring is the control plane's holder of the cluster's keyring
// (events/sealed): it publishes the public keys in the log, where the CLI
// reads the one to seal Secrets to (events.SubjectKeyring: auditable, each
// rotation a decision), and answers two requests: rotate the keyring, and
// reveal a Secret by sealing its content again to the asker's ephemeral key,
// so a value never crosses NATS in the clear. Until authentication lands,
// anyone who reaches NATS may ask either.
package keyring

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/gantry-sh/gantry/api"
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/sealed"
)

// Name of the holder, also the source of its decisions.
const Name = "keyring"

// Holder publishes a keyring and answers for it.
type Holder struct {
	conn *bus.Conn
	kr   *sealed.Keyring
	log  zerolog.Logger
	subs []*nats.Subscription
}

// Start publishes the keyring if the log does not say it already, and
// answers rotate and reveal requests until ctx ends.
func Start(ctx context.Context, conn *bus.Conn, kr *sealed.Keyring, log zerolog.Logger) (*Holder, error) {
	h := &Holder{conn: conn, kr: kr, log: log.With().Str("service", Name).Logger()}
	if err := h.publish(ctx); err != nil {
		return nil, err
	}
	for subj, handle := range map[string]func([]byte) api.KeyringReply{
		events.SubjectKeyringRotate: h.rotate,
		events.SubjectSecretReveal:  h.reveal,
	} {
		// One holder answers each request (a queue group): two `gantry
		// serve` processes never both rotate.
		sub, err := conn.NC.QueueSubscribe(subj, Name, func(m *nats.Msg) {
			b, _ := json.Marshal(handle(m.Data))
			_ = m.Respond(b)
		})
		if err != nil {
			h.stop()
			return nil, fmt.Errorf("keyring: subscribe %s: %w", subj, err)
		}
		h.subs = append(h.subs, sub)
	}
	go func() {
		<-ctx.Done()
		h.stop()
	}()
	return h, nil
}

func (h *Holder) stop() {
	for _, s := range h.subs {
		_ = s.Unsubscribe()
	}
}

// publish appends a KeyringPublished unless the newest one already names
// this keyring's keys; it expects the subject's newest sequence, so two
// holders never interleave.
func (h *Holder) publish(ctx context.Context) error {
	last, seq, err := bus.LastKeyring(ctx, h.conn.JS)
	if err != nil {
		return err
	}
	var keys []string
	for _, k := range h.kr.Public() {
		keys = append(keys, k.String())
	}
	cur := h.kr.Current().String()
	if last != nil && last.Current == cur && slices.Equal(last.Keys, keys) {
		return nil
	}
	msgID := "keyring/" + h.kr.Current().ID
	id := events.DeriveID(msgID)
	env, err := events.Seal(&events.KeyringPublished{Keys: keys, Current: cur},
		events.Meta{ID: id, Source: Name, Subject: events.ClusterScope + "/keyring", Time: time.Now(), Actor: Name, CorrelationID: id})
	if err != nil {
		return err
	}
	if _, err := bus.PublishOne(ctx, h.conn.JS, bus.Outgoing{Subject: events.SubjectKeyring, Envelope: env, MsgID: msgID,
		ExpectLastSeq: bus.Expect(seq)}); err != nil {
		return fmt.Errorf("publish the keyring: %w", err)
	}
	h.log.Info().Str("key", h.kr.Current().ID).Int("keys", len(keys)).Msg("keyring published")
	return nil
}

// rotate makes a new current key, publishes it, and answers with it. The
// admission service, which shares the keyring, re-seals every Secret to it.
func (h *Holder) rotate([]byte) api.KeyringReply {
	pub, err := h.kr.Rotate()
	if err != nil {
		return api.KeyringReply{Error: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.publish(ctx); err != nil {
		return api.KeyringReply{Error: err.Error()}
	}
	return api.KeyringReply{Key: pub.String()}
}

// reveal opens a box and seals its content to the asker's key.
func (h *Holder) reveal(b []byte) api.KeyringReply {
	var req api.RevealRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return api.KeyringReply{Error: fmt.Sprintf("reveal: %v", err)}
	}
	to, err := sealed.ParsePublicKey(req.To)
	if err != nil {
		return api.KeyringReply{Error: fmt.Sprintf("reveal: to: %v", err)}
	}
	plain, err := h.kr.Open(req.Box)
	if err != nil {
		return api.KeyringReply{Error: fmt.Sprintf("reveal: %v", err)}
	}
	box, err := sealed.Seal(to, plain)
	if err != nil {
		return api.KeyringReply{Error: fmt.Sprintf("reveal: %v", err)}
	}
	return api.KeyringReply{Box: &box}
}
