package runner

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A decision the log acknowledged is never lost: the runner waits to read
// it back for as long as its reading makes progress, however long that
// takes under load, and gives up only after ExpectTimeout without progress.
func TestExpectationsWaitWhileReadingProgresses(t *testing.T) {
	r := &Runner{log: zerolog.Nop(), cfg: Config{ExpectTimeout: 5 * time.Second},
		applied: map[string]uint64{"D": 100}, expect: map[string]uint64{}}
	t0 := time.Unix(1_000_000, 0)
	r.stored("D", 50_000)
	r.waitFrom = t0
	for i := 1; i <= 30; i++ { // 30 s of slow but steady reading
		r.applied["D"] += 1000
		if r.expectationsMet(t0.Add(time.Duration(i) * time.Second)) {
			t.Fatalf("gave up after %d s although reading progressed", i)
		}
	}
	stuck := t0.Add(30 * time.Second)
	if r.expectationsMet(stuck.Add(4 * time.Second)) {
		t.Fatal("gave up before ExpectTimeout without progress")
	}
	if !r.expectationsMet(stuck.Add(6 * time.Second)) {
		t.Fatal("still waiting after ExpectTimeout without progress")
	}
	if len(r.expect) != 0 {
		t.Errorf("expectations kept after giving up: %v", r.expect)
	}
	r.stored("D", 40_000)
	if !r.expectationsMet(stuck.Add(7 * time.Second)) {
		t.Error("a decision already read back is waited for")
	}
}
