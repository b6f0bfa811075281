// Command supportgen rewrites the README's table of the manifest fields
// Gantry supports and refuses, from the decoder's own lists
// (manifest.Support). Run it from anywhere in the module:
//
//	go run ./events/manifest/supportgen
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gantry-sh/gantry/events/manifest"
)

func main() {
	readme := flag.String("readme", "", "the README to rewrite (default: README.md at the module's root)")
	flag.Parse()
	if err := run(*readme); err != nil {
		fmt.Fprintln(os.Stderr, "supportgen:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		path = filepath.Join(root, "README.md")
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := manifest.WithSupportTable(old)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	return os.WriteFile(path, updated, 0o644)
}

// moduleRoot is the nearest directory at or above the working directory
// that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory; give -readme")
		}
		dir = parent
	}
}
