package main

import (
	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/schema"
)

func newSchemaCmd(d *deps, runF func() error) *cobra.Command {
	var output *outputFlag
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of cloudflare-config.yaml",
		Long: `Schema prints a JSON Schema (draft 2020-12) of the configuration file,
generated from edgeconf's types. Editors that speak the YAML language server
protocol use it when the file starts with

  # yaml-language-server: $schema=./schema/cloudflare-config.schema.json`,
		Example: `  edgeconf schema > schema/cloudflare-config.schema.json`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if runF != nil {
				return runF()
			}
			_, err := d.Stdout.Write(schema.Config())
			return err
		},
	}
	output = addOutputFlag(cmd.Flags(), "json") // the schema is JSON; -o json is accepted for consistency
	return cmd
}
