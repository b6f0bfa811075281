package client

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// version is the binary's version in these tests (package main sets it at
// build time).
const version = "dev"

// run is package main's run with the client's verbs only.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	g := &Globals{Version: version, In: in, Out: out, ErrOut: errOut}
	root := NewRoot(g)
	root.AddCommand(Commands(g)...)
	return Execute(g, root, args)
}

// The client reaches the cluster only through the log, the read models and
// the node RPC subjects: it imports no service and no node agent (their wire
// types are in package api), so the verbs build, and can be vendored,
// without the control plane.
func TestClientImportsNoServiceOrNode(t *testing.T) {
	const module = "github.com/gantry-sh/gantry/"
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		for _, banned := range []string{"services", "node"} {
			if rel == banned || strings.HasPrefix(rel, banned+"/") {
				t.Errorf("cli/client imports %s: a wire type it needs belongs in package api", p.ImportPath)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list -deps listed %d packages: not the client's", n)
	}
}
