package node

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

// claimStore is the node's Claims: what the storage service told it of
// its volumes on gantry.node.<self>.volume.<pv>, folded by take().
type claimStore struct {
	mu      sync.Mutex
	byClaim map[string]string // ns/claim → its volume's directory here
	claimOf map[string]string // pv → ns/claim it is bound to
}

func newClaimStore() *claimStore {
	return &claimStore{byClaim: map[string]string{}, claimOf: map[string]string{}}
}

// ClaimPath implements Claims.
func (s *claimStore) ClaimPath(namespace, claim string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byClaim[namespace+"/"+claim]
	return p, ok
}

// volumeAction is what the node does on disk for a volume decision: make
// or delete a directory ("" Path: nothing).
type volumeAction struct {
	Mkdir, Remove string
	// Refused says why a directory outside the volumes directory is left
	// alone (a decision may only touch what the provisioner made here).
	Refused string
}

// planVolume folds one volume decision into the store and says what to do
// on disk: a provisioned volume bound here gets its directory made, a
// provisioned volume deleted loses it; either only under dir (the node's
// volumes directory). A volume released or deleted no longer serves its
// claim.
func (s *claimStore) planVolume(dir string, e *events.VolumeDecided) volumeAction {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.claimOf[e.Volume]; ok {
		delete(s.byClaim, old)
		delete(s.claimOf, e.Volume)
	}
	var act volumeAction
	switch e.Phase {
	case manifest.VolumeBound:
		claim := e.ClaimNamespace + "/" + e.ClaimName
		s.byClaim[claim], s.claimOf[e.Volume] = e.Path, claim
		if e.Provisioned {
			act.Mkdir = e.Path
		}
	case events.VolumeDeleted:
		if e.Provisioned {
			act.Remove = e.Path
		}
	}
	p := act.Mkdir + act.Remove
	if p != "" && !within(dir, p) {
		act = volumeAction{Refused: fmt.Sprintf("volume %s: directory %s is outside the node's volumes directory %q; left alone", e.Volume, p, dir)}
	}
	return act
}

// within reports a path strictly inside dir (dir itself is not).
func within(dir, p string) bool {
	if dir == "" || !filepath.IsAbs(p) {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(p))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// takeVolume folds a volume decision and does what it says on disk:
// MkdirAll and RemoveAll are idempotent, so a decision read again on
// restore does no harm. The directory is 0777, as k3s' local-path makes
// it, so a container of any user may write to its volume.
func (a *Agent) takeVolume(e *events.VolumeDecided) {
	act := a.claims.planVolume(a.cfg.VolumesDir, e)
	log := a.log.With().Str("volume", e.Volume).Logger()
	switch {
	case act.Refused != "":
		log.Warn().Msg(act.Refused)
	case act.Mkdir != "":
		if err := os.MkdirAll(act.Mkdir, 0o777); err != nil {
			log.Error().Err(err).Msg("cannot make the volume's directory")
			return
		}
		if err := os.Chmod(act.Mkdir, 0o777); err != nil { // past the umask
			log.Error().Err(err).Msg("cannot open the volume's directory to its pods")
		}
	case act.Remove != "":
		if err := os.RemoveAll(act.Remove); err != nil {
			log.Error().Err(err).Msg("cannot delete the volume's directory")
			return
		}
		log.Info().Str("path", act.Remove).Msg("volume deleted")
	}
}

// Claims is what the node knows of its pods' PersistentVolumeClaims.
func (a *Agent) Claims() Claims { return a.claims }
