package job

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxParsedIndexes bounds what ParseIndexes expands, so a status from the
// log cannot make it allocate without limit (Kubernetes allows 100,000
// completions to an Indexed Job with a per-index backoff limit).
const MaxParsedIndexes = 1 << 20

// ParseIndexes reads projections.FormatIndexes' form back: ascending, distinct,
// non-negative indexes ("" → none).
func ParseIndexes(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		first, last, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(first)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("index %q: not a non-negative integer", first)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(last); err != nil || b <= a {
				return nil, fmt.Errorf("range %q: the last index must be an integer above the first", part)
			}
		}
		if len(out) > 0 && a <= out[len(out)-1] {
			return nil, fmt.Errorf("%q: indexes must ascend", part)
		}
		if b-a >= MaxParsedIndexes-len(out) {
			return nil, errTooMany
		}
		for ix := a; ix <= b; ix++ {
			out = append(out, ix)
		}
	}
	return out, nil
}

var errTooMany = fmt.Errorf("more than %d indexes", MaxParsedIndexes)
