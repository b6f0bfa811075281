package celcheck

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is the number of checks a Cache keeps by default.
const DefaultCacheSize = 1024

// Cache keeps compiled checks by their text, the most recently used first,
// up to a bound. It remembers failures too: compiling is deterministic. It
// is safe for concurrent use.
type Cache[T any] struct {
	entries   *lru.Cache[string, compiled[T]]
	compile   func(string) (T, error)
	maxLength int
}

type compiled[T any] struct {
	check T
	err   error
}

// NewCache returns a cache that keeps up to size checks (DefaultCacheSize
// when size <= 0) compiled by compile; a text longer than maxLength is
// compiled (and refused) without being kept.
func NewCache[T any](size, maxLength int, compile func(string) (T, error)) *Cache[T] {
	if size <= 0 {
		size = DefaultCacheSize
	}
	entries, err := lru.New[string, compiled[T]](size)
	if err != nil {
		panic(err) // only for size <= 0
	}
	return &Cache[T]{entries: entries, compile: compile, maxLength: maxLength}
}

// Get returns the compiled check for expr, compiling it on first use.
func (c *Cache[T]) Get(expr string) (T, error) {
	if len(expr) > c.maxLength {
		return c.compile(expr)
	}
	if e, ok := c.entries.Get(expr); ok {
		return e.check, e.err
	}
	// Two callers may both compile a new check; the second stores the
	// same result again.
	check, err := c.compile(expr)
	c.entries.Add(expr, compiled[T]{check, err})
	return check, err
}

// Len is the number of checks kept.
func (c *Cache[T]) Len() int { return c.entries.Len() }
