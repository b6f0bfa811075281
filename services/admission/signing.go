package admission

import (
	"errors"
	"fmt"
	"time"

	"github.com/gantry-sh/gantry/events"
)

// SignatureWindow is how far an intent's time may be from admission's clock
// when it is judged; an intent's id is remembered for as long, so a replay
// is refused either as a known id or as too old.
const SignatureWindow = 5 * time.Minute

// Signed intents (docs/security-signing.md): with Users set, an intent is
// accepted only when signed by one of them, unchanged since, and not a
// replay; its actor is then the signer's name, which RBAC and the
// admission policies judge and every verdict records. Without Users (the
// in-process tests, a cluster without identities) intents are not
// verified.

// verify checks the intent's signature as it is folded, in log order (so a
// replay is known after a restart too): p.forged says what is wrong, or
// p.env.Actor becomes the verified signer's name.
func (s *Service) verify(p *pendingIntent) {
	if s.Users == nil {
		return
	}
	err := events.VerifySignature(p.env)
	switch {
	case errors.Is(err, events.ErrUnsigned):
		p.forged = "the intent is not signed: sign it with a user's credentials (a current gantry signs with its --creds)"
		return
	case err != nil:
		p.forged = err.Error()
		return
	}
	name, ok := s.Users[p.env.Signer]
	if !ok {
		p.forged = fmt.Sprintf("signer %s is not a known user of this cluster", p.env.Signer)
		return
	}
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	if _, dup := s.seen[p.env.ID]; dup {
		p.forged = fmt.Sprintf("replay: an intent with id %s was already judged", p.env.ID)
		return
	}
	s.seen[p.env.ID] = p.env.Time
	p.env.Actor = name
}

// forgery is why the intent must be refused as Unauthorized, judged at
// now: its signature, or its time outside the window.
func (s *Service) forgery(p pendingIntent, now time.Time) string {
	if s.Users == nil || p.forged != "" {
		return p.forged
	}
	if d := now.Sub(p.env.Time); d > SignatureWindow || d < -SignatureWindow {
		return fmt.Sprintf("replay: the intent's time %s is more than %s from admission's clock (%s)",
			p.env.Time.UTC().Format(time.RFC3339), SignatureWindow, now.UTC().Format(time.RFC3339))
	}
	return ""
}

// forget drops the ids of intents whose time is past the window: a replay
// of one is refused for its time. Bounded memory: the ids of the intents
// of one window.
func (s *Service) forget(now time.Time) {
	for id, t := range s.seen {
		if now.Sub(t) > SignatureWindow {
			delete(s.seen, id)
		}
	}
}
