// Package logcheck tells whether the log still holds what the control plane
// has already acted on, reads a whole log to prove every message is there and
// decodes, and backs the log up and restores it with JetStream's own stream
// snapshots.
//
// nats-server recovers a damaged block file on its own and says nothing: a
// block whose index is gone is cut at the first bad record (the stream ends
// earlier, and the next messages reuse the lost sequences), a truncated block
// under an intact index leaves a hole (NumDeleted grows), and a record
// overwritten under an intact index is counted but cannot be read. The first
// two are found at start from the stream's state against what readers have
// seen (Check); the third only by reading every message (Scan).
package logcheck

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gantry-sh/gantry/events"
)

// State is what the server says of a stream now.
type State struct {
	Exists     bool
	First      uint64
	Last       uint64
	Msgs       uint64
	NumDeleted uint64
	Deleted    []uint64 // the deleted sequences, when asked for
	Lost       []uint64 // what the server itself says it lost (State.Lost)
}

// Mark is a stream's state as it stood when a watermark was written.
type Mark struct {
	First      uint64 `json:"first"`
	Last       uint64 `json:"last"`
	Msgs       uint64 `json:"msgs"`
	NumDeleted uint64 `json:"numDeleted"`
}

// Watermark is every stream's Mark at one time: written at each clean stop
// and periodically while the control plane runs.
type Watermark struct {
	At      time.Time       `json:"at"`
	Clean   bool            `json:"clean"` // written at a clean stop
	Streams map[string]Mark `json:"streams"`
}

// Floor is a reader's evidence that a stream once held Seq: the projector's
// progress, a node consumer's delivered or acknowledged sequence.
type Floor struct {
	Stream string
	Seq    uint64
	Who    string // "the read models' progress (gantry_projector/progress)", "node consumer node-a (acknowledged)"
	// Consumer names a durable consumer the floor comes from; resetting
	// it (deleting it: its agent makes it again) forgets the lost sequences.
	Consumer string
}

// Finding is one loss: which stream, which sequences, and how it was found.
type Finding struct {
	Stream string
	Lost   []events.SeqRange
	Reason string
	// Consumers that have seen lost sequences (reset on acceptance).
	Consumers []string
	// Progress is set when the read models' progress is past the stream's end.
	Progress bool
}

// Count is the number of sequences lost.
func (f Finding) Count() uint64 {
	var n uint64
	for _, r := range f.Lost {
		n += r.To - r.From + 1
	}
	return n
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s (%s)", f.Stream, Ranges(f.Lost), f.Reason)
}

// Ranges writes sequence ranges as "64–161 (98 messages)".
func Ranges(rs []events.SeqRange) string {
	var parts []string
	var n uint64
	for _, r := range rs {
		n += r.To - r.From + 1
		if r.From == r.To {
			parts = append(parts, fmt.Sprint(r.From))
		} else {
			parts = append(parts, fmt.Sprintf("%d–%d", r.From, r.To))
		}
	}
	if len(parts) > 8 {
		parts = append(parts[:8], "…")
	}
	word := "messages"
	if n == 1 {
		word = "message"
	}
	return fmt.Sprintf("sequences %s (%d %s)", strings.Join(parts, ", "), n, word)
}

// ToRanges folds sorted or unsorted sequences into inclusive ranges.
func ToRanges(seqs []uint64) []events.SeqRange {
	s := slices.Clone(seqs)
	slices.Sort(s)
	s = slices.Compact(s)
	var out []events.SeqRange
	for _, q := range s {
		if n := len(out); n > 0 && out[n-1].To+1 == q {
			out[n-1].To = q
			continue
		}
		out = append(out, events.SeqRange{From: q, To: q})
	}
	return out
}

// Check compares each stream's state with the watermark (nil when none was
// written yet) and the readers' floors, and returns what was lost. It is
// pure: Gather reads its inputs.
//
// The rules, for every stream kept on disk (a memory stream is empty after
// every restart by design):
//   - a stream that ends before a floor or the watermark's last sequence
//     lost the sequences between (the server cut a damaged block, and new
//     messages would reuse those sequences);
//   - a stream kept forever (no age or per-subject limit) whose first
//     sequence moved past the watermark's lost the sequences before it;
//   - a stream kept forever with more deleted sequences than the watermark
//     saw lost them (Gantry deletes no single message: a truncated block
//     under an intact index shows up as deleted sequences);
//   - whatever the server lists in State.Lost is lost;
//   - a stream that is missing while the watermark or a floor says it held
//     messages lost them all.
func Check(specs []events.StreamSpec, states map[string]State, wm *Watermark, floors []Floor) []Finding {
	var out []Finding
	for _, spec := range specs {
		if spec.Memory {
			continue
		}
		st := states[spec.Name]
		var mark Mark
		if wm != nil {
			mark = wm.Streams[spec.Name]
		}
		kept := spec.MaxAge == 0 && spec.MaxMsgsPerSubject == 0
		// The highest sequence anyone has seen, and who.
		top, who := mark.Last, "the watermark"
		if wm != nil && mark.Last > 0 {
			who = watermarkWho(wm)
		}
		var consumers []string
		progress := false
		for _, f := range floors {
			if f.Stream != spec.Name || f.Seq <= st.Last {
				continue
			}
			if f.Consumer != "" {
				consumers = append(consumers, f.Consumer)
			} else {
				progress = true
			}
			if f.Seq > top {
				top, who = f.Seq, f.Who
			}
		}
		slices.Sort(consumers)
		consumers = slices.Compact(consumers)
		if !st.Exists {
			if top > 0 {
				out = append(out, Finding{Stream: spec.Name, Lost: []events.SeqRange{{From: max(mark.First, 1), To: top}},
					Reason:    fmt.Sprintf("the stream is missing, but %s has seen sequence %d", who, top),
					Consumers: consumers, Progress: progress})
			}
			continue
		}
		if top > st.Last {
			out = append(out, Finding{Stream: spec.Name, Lost: []events.SeqRange{{From: st.Last + 1, To: top}},
				Reason:    fmt.Sprintf("the stream ends at %d, but %s has seen %d; new messages would reuse the lost sequences", st.Last, who, top),
				Consumers: consumers, Progress: progress})
		}
		if kept && mark.First > 0 && st.Msgs > 0 && st.First > mark.First {
			out = append(out, Finding{Stream: spec.Name, Lost: []events.SeqRange{{From: mark.First, To: st.First - 1}},
				Reason: fmt.Sprintf("the stream now starts at %d, but started at %d (%s), and Gantry removes nothing from it", st.First, mark.First, watermarkWho(wm))})
		}
		if kept && st.NumDeleted > mark.NumDeleted {
			f := Finding{Stream: spec.Name,
				Reason: fmt.Sprintf("%d sequences inside the stream are missing (%d when %s was written), and Gantry deletes no message", st.NumDeleted, mark.NumDeleted, strings.TrimPrefix(watermarkWho(wm), "the "))}
			if wm == nil {
				f.Reason = fmt.Sprintf("%d sequences inside the stream are missing, and Gantry deletes no message", st.NumDeleted)
			}
			if len(st.Deleted) > 0 {
				f.Lost = ToRanges(st.Deleted)
			} else {
				f.Lost = []events.SeqRange{{From: st.First, To: st.Last}} // somewhere in here
				f.Reason += " (which ones: gantry log verify)"
			}
			out = append(out, f)
		}
		if len(st.Lost) > 0 {
			out = append(out, Finding{Stream: spec.Name, Lost: ToRanges(st.Lost),
				Reason: "the server reports them lost (stream state's lost data: a block failed its checksum)"})
		}
	}
	return out
}

func watermarkWho(wm *Watermark) string {
	if wm == nil {
		return "the watermark"
	}
	when := "written while running"
	if wm.Clean {
		when = "written at the last clean stop"
	}
	return fmt.Sprintf("the watermark of %s (%s)", wm.At.Local().Format(time.DateTime), when)
}
