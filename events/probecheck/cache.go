package probecheck

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is the number of checks a Cache keeps by default.
const DefaultCacheSize = 1024

// Cache keeps compiled checks by their text, the most recently used first,
// up to a bound. It remembers failures too: compiling is deterministic. It
// is safe for concurrent use.
type Cache struct {
	entries *lru.Cache[string, compiled]
}

type compiled struct {
	check *Check
	err   error
}

// NewCache returns a cache that keeps up to size checks (DefaultCacheSize
// when size <= 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	entries, err := lru.New[string, compiled](size)
	if err != nil {
		panic(err) // only for size <= 0
	}
	return &Cache{entries: entries}
}

// Get returns the compiled check for expr, compiling it on first use. A
// text longer than MaxLength is refused without being kept.
func (c *Cache) Get(expr string) (*Check, error) {
	if len(expr) > MaxLength {
		return Compile(expr)
	}
	if e, ok := c.entries.Get(expr); ok {
		return e.check, e.err
	}
	// Two callers may both compile a new check; the second stores the
	// same result again.
	check, err := Compile(expr)
	c.entries.Add(expr, compiled{check, err})
	return check, err
}

// Len is the number of checks kept.
func (c *Cache) Len() int { return c.entries.Len() }
