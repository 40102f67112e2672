package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/internal/atomicfile"
	"github.com/factory-wager/edgeconf/wrangler"
)

func newWranglerCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wrangler",
		Short: "Generate or import wrangler's configuration file",
		Long: `Wrangler interop: generate writes wrangler.toml (or wrangler.jsonc) from the
cloudflare section; import turns an existing wrangler file into the
cloudflare section of cloudflare-config.yaml. See
docs/guides/migrating-from-wrangler.md.`,
	}
	cmd.AddCommand(newWranglerGenerateCmd(d, g), newWranglerImportCmd(d))
	return cmd
}

func newWranglerGenerateCmd(d *deps, g *globalOptions) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Write the wrangler configuration equivalent to what edgeconf deploys",
		Long: `Generate writes a wrangler configuration (TOML by default, --format jsonc for
wrangler.jsonc) with the Worker's name, compatibility date and flags, its KV,
R2, D1 and Durable Object bindings, vars, routes and one [env.X] section per
environment (only --env ENV when given). Secrets are listed by name in a
comment, never with values. Each main points at the bundle edgeconf build
writes (dist/index.js, dist/ENV/index.js): build it first with
  edgeconf build --env ENV --outdir dist/ENV
Without -o the file goes to standard output.`,
		Example: `  edgeconf wrangler generate -o wrangler.toml
  edgeconf wrangler generate --format jsonc --env staging -o wrangler.jsonc`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := wrangler.ParseFormat(format)
			if err != nil {
				return usageErrorf("--format: %v", err)
			}
			if err := checkOutputFile(out); err != nil {
				return err
			}
			outDir := ""
			if out != "" {
				if outDir, err = filepath.Abs(filepath.Dir(out)); err != nil {
					return usageErrorf("-o %s: %v", out, err)
				}
			}
			if _, err := g.load(d); err != nil { // usage errors: missing file, unknown environment
				return err
			}
			data, err := wrangler.Generate(wrangler.GenerateOptions{
				ConfigPath: g.configPath(d), Env: g.Env, Format: f, OutputDir: outDir, LookupEnv: d.LookupEnv,
			})
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			return writeOut(d, out, data)
		},
	}
	cmd.Flags().StringVar(&format, "format", "toml", "toml or jsonc")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func newWranglerImportCmd(d *deps) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Turn a wrangler.toml or wrangler.jsonc into the cloudflare section",
		Long: `Import reads FILE (.toml is TOML, anything else JSONC) and prints the
cloudflare: section of cloudflare-config.yaml, or writes it with -o. Keys it
cannot carry over are named in comments at the top and on standard error.`,
		Example: `  edgeconf wrangler import wrangler.toml`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFile(out); err != nil {
				return err
			}
			data, err := readBounded(args[0], wrangler.MaxFileBytes)
			if err != nil {
				return failed(err) // a missing file is already a usage error
			}
			im, err := wrangler.Import(args[0], data)
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			y, err := im.YAML()
			if err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			for _, u := range im.Unmapped {
				fmt.Fprintf(d.Stderr, "not carried over: %s\n", u)
			}
			return writeOut(d, out, y)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("%v", err) // a missing file is a usage error; the error names it
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// writeOut writes data to stdout, or to path (saying so on stderr, so
// that a file written is never silent).
func writeOut(d *deps, path string, data []byte) error { return writeOutMode(d, path, data, 0o644) }

// writeOutMode is writeOut with the file's permissions.
func writeOutMode(d *deps, path string, data []byte, perm os.FileMode) error {
	if path == "" || path == "-" {
		_, err := d.Stdout.Write(data)
		return err
	}
	if err := atomicfile.WriteFile(path, data, perm); err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("write %s: %w", path, err)}
	}
	fmt.Fprintf(d.Stderr, "edgeconf: wrote %s (%d bytes)\n", path, len(data))
	return nil
}

// checkOutputFile refuses an -o FILE that is the name of a format: where
// -o names a file, "-o json" is almost certainly a format meant for
// another command, and would otherwise write a file called json.
func checkOutputFile(path string) error {
	switch strings.ToLower(path) {
	case "json", "jsonc", "toml", "yaml", "yml", "table", "csv", "markdown", "md", "junit", "xml", "raw":
		return usageErrorf("-o %s: here -o names the file to write (a format is --format); write -o ./%s to mean a file", path, path)
	}
	return nil
}
