package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is what the Go toolchain embeds in the binary.
type version struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Modified bool   `json:"modified"`
	Go       string `json:"go"`
}

// versionInfo reads the module version, commit and Go version from the
// build information.
func versionInfo() version {
	v := version{Version: "(devel)", Commit: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v.Version = info.Main.Version
	}
	v.Go = info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func versionString() string {
	v := versionInfo()
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	return fmt.Sprintf("edgeconf %s, commit %s, %s", v.Version, commit, v.Go)
}

func newVersionCmd(d *deps) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version edgeconf was built with",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if output.Value == "json" {
				return writeJSONValue(d.Stdout, versionInfo())
			}
			_, err := fmt.Fprintln(d.Stdout, versionString())
			return err
		},
	}
	output = addOutputFlag(cmd.Flags(), "table", "json")
	return cmd
}
