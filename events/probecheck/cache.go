package probecheck

import "github.com/gantry-sh/gantry/events/celcheck"

// Cache keeps compiled checks by their text (see celcheck.Cache).
type Cache = celcheck.Cache[*Check]

// NewCache returns a cache that keeps up to size checks
// (celcheck.DefaultCacheSize when size <= 0).
func NewCache(size int) *Cache { return celcheck.NewCache(size, MaxLength, Compile) }
