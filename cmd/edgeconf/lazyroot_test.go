package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// describeTree lists every command under c with its flags, one line each.
func describeTree(c *cobra.Command) []string {
	var flags []string
	c.LocalFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name+"="+f.DefValue) })
	c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, "persistent:"+f.Name) })
	slices.Sort(flags)
	out := []string{c.CommandPath() + " [" + strings.Join(flags, " ") + "]"}
	for _, sub := range c.Commands() {
		out = append(out, describeTree(sub)...)
	}
	return out
}

// A command line that starts with a command's name builds only that
// command, and builds it exactly as the full tree does.
func TestRootCmd_BuildsOnlyTheCommandNamed(t *testing.T) {
	full := newRootCmd(&deps{}, nil)
	var names []string
	for _, c := range full.Commands() {
		names = append(names, c.Name())
	}
	if !slices.Equal(names, sortedCopy(commandNames())) {
		t.Fatalf("full tree has %v, commands lists %v", names, commandNames())
	}
	for _, name := range commandNames() {
		lazy := newRootCmd(&deps{}, []string{name, "--help"})
		if got := lazy.Commands(); len(got) != 1 || got[0].Name() != name {
			t.Fatalf("%s: built %d commands, want only %s", name, len(got), name)
		}
		var want *cobra.Command
		for _, c := range full.Commands() {
			if c.Name() == name {
				want = c
			}
		}
		if g, w := describeTree(lazy.Commands()[0]), describeTree(want); !slices.Equal(g, w) {
			t.Errorf("%s built alone differs from the full tree:\n got %q\nwant %q", name, g, w)
		}
	}
	// Anything that is not a command name builds every command, so help,
	// completion and "Did you mean" see them all.
	for _, args := range [][]string{nil, {"help"}, {"--version"}, {"valdate"}, {"__complete", ""}, {"-c", "x.yaml", "validate"}} {
		if got := len(newRootCmd(&deps{}, args).Commands()); got != len(commands) {
			t.Errorf("%q: built %d commands, want all %d", args, got, len(commands))
		}
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
