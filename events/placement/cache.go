package placement

import (
	"container/list"
	"sync"
)

// DefaultCacheSize is the number of rules a zero Cache keeps.
const DefaultCacheSize = 1024

// Cache keeps compiled rules by their text, the most recently used first,
// up to a bound. It remembers failures too: compiling is deterministic. The
// zero Cache is ready to use and holds DefaultCacheSize rules; it is safe
// for concurrent use.
type Cache struct {
	// Size bounds the number of rules kept; 0 means DefaultCacheSize. Set
	// it before the first Get.
	Size int

	mu      sync.Mutex
	entries map[string]*list.Element
	order   list.List // of *cacheEntry, most recently used at the front
}

type cacheEntry struct {
	expr string
	rule *Rule
	err  error
}

// NewCache returns a cache that keeps up to size rules (DefaultCacheSize
// when size <= 0).
func NewCache(size int) *Cache { return &Cache{Size: size} }

// Get returns the compiled rule for expr, compiling it on first use. A
// text longer than MaxRuleLength is refused without being kept.
func (c *Cache) Get(expr string) (*Rule, error) {
	if len(expr) > MaxRuleLength {
		return Compile(expr)
	}
	c.mu.Lock()
	if e, ok := c.entries[expr]; ok {
		c.order.MoveToFront(e)
		ce := e.Value.(*cacheEntry)
		c.mu.Unlock()
		return ce.rule, ce.err
	}
	c.mu.Unlock()

	// Compile outside the lock: two callers may both compile a new rule,
	// and the second stores the same result again.
	rule, err := Compile(expr)

	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[expr]; ok {
		c.order.MoveToFront(e)
		ce := e.Value.(*cacheEntry)
		return ce.rule, ce.err
	}
	if c.entries == nil {
		c.entries = map[string]*list.Element{}
	}
	c.entries[expr] = c.order.PushFront(&cacheEntry{expr: expr, rule: rule, err: err})
	size := c.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	for c.order.Len() > size {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).expr)
	}
	return rule, err
}

// Len is the number of rules kept.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
