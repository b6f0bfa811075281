// Command build builds a Gantry demo image into a tarred OCI image layout
// that containerd imports under its full reference:
//
//	go run ./deploy/images/build -dir ./deploy/images/hello -ref gantry.local/hello:v1 -o bin/hello.oci.tar
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gantry-sh/gantry/deploy/images"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts images.BuildOptions
	fs.StringVar(&opts.Dir, "dir", "", "Go main package directory to build (required)")
	fs.StringVar(&opts.Ref, "ref", "", "full image reference, e.g. gantry.local/hello:v1 (required)")
	fs.StringVar(&opts.Out, "o", "", "output path of the OCI layout tarball (required)")
	fs.StringVar(&opts.GoBin, "go", "go", "go command used to compile")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: build -dir <package dir> -ref <image ref> -o <out.tar> [-go <go command>]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := checkFlags(opts, fs.Args()); err != nil {
		fmt.Fprintf(stderr, "build: %v\n", err)
		fs.Usage()
		return 2
	}

	digest, err := images.BuildDigest(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "build: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s %s\n", opts.Ref, digest)
	return 0
}

func checkFlags(opts images.BuildOptions, rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments: %q", rest)
	case opts.Dir == "":
		return errors.New("-dir is required")
	case opts.Ref == "":
		return errors.New("-ref is required")
	case opts.Out == "":
		return errors.New("-o is required")
	case opts.GoBin == "":
		return errors.New("-go must not be empty")
	}
	return opts.Validate()
}
