package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionString is the module version, commit and Go version from the
// build information the Go toolchain embeds.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "edgeconf (no build information)"
	}
	version := info.Main.Version
	if version == "" {
		version = "(devel)"
	}
	commit, modified := "unknown", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("edgeconf %s, commit %s, %s", version, commit, info.GoVersion)
}

func newVersionCmd(d *deps) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version edgeconf was built with",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(d.Stdout, versionString())
			return err
		},
	}
}
