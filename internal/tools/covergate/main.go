// Command covergate fails when a library package of the module is below a
// minimum statement coverage.
//
// It reads the profile written by `go test -coverprofile` (any -covermode),
// lists the packages with `go list`, and prints one table row per package:
//
//	go test -race -coverprofile=coverage.out ./...
//	go run ./internal/tools/covergate -profile coverage.out -min 85 ./...
//
// Every package is gated except those matching -exclude (by default cmd/...,
// examples/... and bench/..., relative to the module path). A package that is
// missing from the profile — it has no test files under an old Go, or it did
// not build — counts as 0 %, unless it has no statements at all (only types
// and constants), which passes. Percentages are compared as `go test -cover`
// prints them, rounded to one decimal.
//
// Exit status: 0 when every gated package passes, 1 when one is below the
// minimum, 2 on a usage error or when the profile or package list cannot be
// read.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("covergate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: covergate [-profile coverage.out] [-min 85] [-exclude cmd/...,examples/...] [-C dir] [packages]\n")
		fs.PrintDefaults()
	}
	profile := fs.String("profile", "coverage.out", "coverage profile written by go test -coverprofile")
	min := fs.Float64("min", 85, "minimum statement coverage of each gated package, in percent")
	exclude := fs.String("exclude", "cmd/...,examples/...,bench/...",
		"comma-separated package patterns, relative to the module path, that are not gated (dir/... matches dir and below)")
	dir := fs.String("C", ".", "directory to run go list in")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *min < 0 || *min > 100 {
		fmt.Fprintf(stderr, "covergate: -min %g is outside 0..100\n", *min)
		return 2
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}

	f, err := os.Open(*profile)
	if err != nil {
		fmt.Fprintf(stderr, "covergate: %v\n", err)
		return 2
	}
	defer f.Close()
	cov, err := parseProfile(f)
	if err != nil {
		fmt.Fprintf(stderr, "covergate: %s: %v\n", *profile, err)
		return 2
	}
	pkgs, err := listPackages(*dir, patterns)
	if err != nil {
		fmt.Fprintf(stderr, "covergate: %v\n", err)
		return 2
	}
	if len(pkgs) == 0 {
		fmt.Fprintf(stderr, "covergate: no packages match %s in %s\n", strings.Join(patterns, " "), *dir)
		return 2
	}

	g := gate{min: *min, exclude: splitList(*exclude)}
	rows := g.evaluate(pkgs, cov)
	if !writeReport(stdout, rows, g.min, *profile) {
		return 1
	}
	return 0
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
