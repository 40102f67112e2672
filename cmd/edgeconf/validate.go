package main

import (
	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/report"
)

type validateOptions struct {
	Output string
	Strict bool
}

func newValidateCmd(d *deps, g *globalOptions, runF func(*validateOptions) error) *cobra.Command {
	opts := &validateOptions{}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and print a validation report",
		Long: `Validate checks every section of the configuration and prints one entry per
section: Valid, Warning or Invalid, each problem with file:line:col and its
key path. All problems are reported at once.

Exit status: 0 when no section is Invalid (with --strict: and none is a
Warning), 1 otherwise, 2 for a usage error such as a missing file.`,
		Example: `  edgeconf validate
  edgeconf validate -c cloudflare-config.yaml --env staging -o junit > report.xml
  edgeconf validate --strict -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runValidate(d, g, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json, csv, markdown or junit")
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail (exit 1) on warnings too")
	return cmd
}

func runValidate(d *deps, g *globalOptions, opts *validateOptions) error {
	format, err := report.ParseFormat(opts.Output)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	doc, err := g.load(d)
	if err != nil {
		return err
	}
	r := config.Validate(doc, config.ValidateOptions{Now: d.Now()})
	wopts := report.WriteOptions{Strict: opts.Strict, Color: format == report.Table && wantColor(d, d.Stdout)}
	if err := report.Write(d.Stdout, r, format, wopts); err != nil {
		return err
	}
	if r.Failed(opts.Strict) {
		return &exitError{code: exitFailed}
	}
	return nil
}
