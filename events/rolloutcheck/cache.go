package rolloutcheck

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is the number of analyses a Cache keeps by default.
const DefaultCacheSize = 1024

// Cache keeps compiled analyses by their text, the most recently used first,
// up to a bound. It remembers failures too: compiling is deterministic. It
// is safe for concurrent use.
type Cache struct {
	entries *lru.Cache[string, compiled]
}

type compiled struct {
	check *Check
	err   error
}

// NewCache returns a cache that keeps up to size analyses (DefaultCacheSize
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

// Get returns the compiled analysis for expr, compiling it on first use. A
// text longer than MaxLength is refused without being kept.
func (c *Cache) Get(expr string) (*Check, error) {
	if len(expr) > MaxLength {
		return Compile(expr)
	}
	if e, ok := c.entries.Get(expr); ok {
		return e.check, e.err
	}
	// Two callers may both compile a new analysis; the second stores the
	// same result again.
	check, err := Compile(expr)
	c.entries.Add(expr, compiled{check, err})
	return check, err
}

// Len is the number of analyses kept.
func (c *Cache) Len() int { return c.entries.Len() }
