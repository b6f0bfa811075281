package events

import "strings"

// Log types: facts about the log itself rather than about an object in it.
const (
	TypeLogLossAccepted = "gantry.log.lossaccepted.v1"
)

// SubjectLogAll holds the facts about the log; LogSubject builds one.
const SubjectLogAll = "gantry.decision.log.>"

// LogSubject is where a fact about stream is appended (in GANTRY_DECISIONS,
// which keeps it): gantry.decision.log.<stream, lower-case>.
func LogSubject(stream string) string {
	return "gantry.decision.log." + strings.ToLower(stream)
}

// LogLossAccepted: an operator started the control plane on a stream that had
// lost messages it had held before (a damaged or truncated block file, a data
// dir restored from an older copy), and accepted the loss
// (--accept-log-loss) instead of restoring a backup. Sequences From..To were
// held and are gone; the stream's next messages reuse sequences after
// LastSeq, so readers that had seen the lost ones were reset (ResetReaders).
type LogLossAccepted struct {
	Stream  string     `json:"stream"`
	Lost    []SeqRange `json:"lost"`              // the lost sequences, as ranges
	LastSeq uint64     `json:"lastSeq"`           // where the stream ends now
	Reasons []string   `json:"reasons,omitempty"` // how each loss was found, in words
	// ResetReaders names what was reset because it had seen lost
	// sequences: node consumers deleted, the read models' progress cleared.
	ResetReaders []string `json:"resetReaders,omitempty"`
}

func (LogLossAccepted) Type() string { return TypeLogLossAccepted }

// SeqRange is an inclusive range of stream sequences.
type SeqRange struct {
	From uint64 `json:"from"`
	To   uint64 `json:"to"`
}
