package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/config"
)

type buildOptions struct {
	Outdir string
	Minify bool
}

func newBuildCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Bundle the Worker (cloudflare.worker.main) with its configuration baked in",
		Long: `Build bundles cloudflare.worker.main with esbuild into one ES module plus a
source map (DIR/index.js and DIR/index.js.map; DIR defaults to dist/ beside
the configuration). The effective file configuration of --env is baked in as
the module "edgeconf:config"; KV overrides are read by the Worker at run time.

The same inputs give byte-identical output. Errors name file:line:col. A
binding the code uses (env.NAME) that the configuration does not define is
an error. The gzip size is checked against the Workers limits: a warning
above 3 MiB (Free plan), an error above 10 MiB (Paid plan). No Node.js is
needed.`,
		Example: `  edgeconf build
  edgeconf build --env staging --outdir dist/staging --minify`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(d, g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Outdir, "outdir", "", "output folder (default dist/ beside the configuration)")
	cmd.Flags().BoolVar(&opts.Minify, "minify", false, "minify the bundle")
	return cmd
}

// buildInputs loads the configuration and turns it into bundle options.
func buildInputs(d *deps, g *globalOptions) (*config.Document, bundle.Options, error) {
	doc, err := g.load(d)
	if err != nil {
		return nil, bundle.Options{}, err
	}
	if f := doc.Fatal(); len(f) > 0 {
		return nil, bundle.Options{}, &exitError{code: exitFailed, err: fmt.Errorf("the configuration cannot be read: %v (run edgeconf validate)", f[0].Error())}
	}
	bo, err := bundle.FromDocument(doc)
	if err != nil {
		return nil, bundle.Options{}, &exitError{code: exitFailed, err: err}
	}
	return doc, bo, nil
}

func runBuild(d *deps, g *globalOptions, opts *buildOptions) error {
	doc, bo, err := buildInputs(d, g)
	if err != nil {
		return err
	}
	bo.Outdir = opts.Outdir
	if bo.Outdir == "" {
		bo.Outdir = filepath.Join(doc.Dir(), "dist")
	}
	bo.Minify = opts.Minify
	res, err := bundle.Build(bo)
	if err != nil {
		var be *bundle.Error
		if errors.As(err, &be) {
			return &exitError{code: exitFailed, err: err}
		}
		return &exitError{code: exitFailed, err: err}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(d.Stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(d.Stdout, "built %s (%d bytes, %d gzip, config revision %s)\n", res.ScriptPath, len(res.Script), res.GzipSize, res.Revision)
	return nil
}
