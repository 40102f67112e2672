package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
)

type getOptions struct {
	Path    string
	All     bool
	Explain bool
	Output  string // "", json, yaml or table
}

func newGetCmd(d *deps, g *globalOptions, runF func(*getOptions) error) *cobra.Command {
	opts := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get [PATH]",
		Short: "Print effective configuration values and where they came from",
		Long: `Get prints the effective value at a dotted PATH (features.premium.rolloutPercentage,
cloudflare.kvNamespaces[0].id), or the whole configuration with --all.

Layers, lowest first: default < file < environment (--env) < KV override
(edgeconf override set). --explain names the layer and file:line:col, or
the KV key with who set it, when and until when, and the layers it shadows.
Without -o a single value prints bare and a section prints as YAML.`,
		Example: `  edgeconf get domain
  edgeconf get cloudflare.worker.name --env staging --explain
  edgeconf get --all -o json`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if opts.Path == "" && !opts.All {
				return usageErrorf("get needs a PATH, or --all for the whole configuration")
			}
			if opts.Path != "" && opts.All {
				return usageErrorf("give a PATH or --all, not both")
			}
			switch opts.Output {
			case "", "json", "yaml", "table":
			default:
				return usageErrorf("unknown output format %q (want json, yaml or table)", opts.Output)
			}
			if runF != nil {
				return runF(opts)
			}
			return runGet(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "print the whole effective configuration")
	cmd.Flags().BoolVar(&opts.Explain, "explain", false, "show which layer and file:line set each value, and what it shadows")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "output format: json, yaml or table (default: bare value or YAML)")
	g.target.add(cmd.Flags())
	return cmd
}

func runGet(ctx context.Context, d *deps, g *globalOptions, opts *getOptions) error {
	s, err := openSession(ctx, d, g, false, "", true)
	if err != nil {
		return err
	}
	defer s.Close()
	printTarget(d, g, s.store.target)
	doc := s.doc
	if fatal := doc.Fatal(); len(fatal) > 0 {
		// Nothing was decoded: every value would be a default.
		return &exitError{code: exitFailed, err: fatal}
	}
	if doc.Problems.Invalid() {
		fmt.Fprintln(d.Stderr, "edgeconf: the configuration has problems; values below may be defaults (run edgeconf validate):")
		for _, p := range doc.Problems {
			fmt.Fprintf(d.Stderr, "  %s\n", p.Error())
		}
	}
	snap, err := s.snapshot(d)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	for _, p := range snap.Problems {
		fmt.Fprintf(d.Stderr, "edgeconf: override ignored: %s\n", p.Error())
	}
	doc = snap.Doc
	path, val, err := doc.Lookup(opts.Path)
	if errors.Is(err, config.ErrNoSuchPath) {
		return &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return err
	}
	w := d.Stdout
	if opts.Explain || opts.Output == "table" {
		return writeExplained(w, doc, path, opts)
	}
	switch opts.Output {
	case "json":
		return writeJSONValue(w, val)
	case "yaml":
		return writeYAMLValue(w, val)
	}
	if _, ok := val.Interface().(map[string]any); ok || isList(val) {
		return writeYAMLValue(w, val)
	}
	_, err = fmt.Fprintln(w, val.String())
	return err
}

func isList(v config.Value) bool {
	_, ok := v.Interface().([]any)
	return ok
}

func writeJSONValue(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeYAMLValue(w io.Writer, v config.Value) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// writeExplained prints every leaf under path with its source: as a table,
// or as JSON with -o json.
func writeExplained(w io.Writer, doc *config.Document, path string, opts *getOptions) error {
	leaves := doc.Leaves(path)
	if opts.Output == "json" || opts.Output == "yaml" {
		ex := make([]config.Explanation, 0, len(leaves))
		for _, l := range leaves {
			e, err := doc.Explain(l.Path)
			if err != nil {
				return err
			}
			ex = append(ex, e)
		}
		if opts.Output == "yaml" {
			enc := yaml.NewEncoder(w)
			enc.SetIndent(2)
			if err := enc.Encode(ex); err != nil {
				return err
			}
			return enc.Close()
		}
		if len(ex) == 1 && ex[0].Path == path {
			return writeJSONValue(w, ex[0])
		}
		return writeJSONValue(w, ex)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tVALUE\tLAYER\tSET AT\tSHADOWS")
	for _, l := range leaves {
		var shadows []string
		for _, s := range doc.Shadowed(l.Path) {
			shadows = append(shadows, describeSource(s))
		}
		at := l.Source.Pos.String()
		if l.Source.Layer == config.LayerKV {
			at = strings.TrimPrefix(describeSource(l.Source), "kv (")
			at = strings.TrimSuffix(at, ")")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Path, l.Value.String(), l.Source.Layer, orDash(at), orDash(strings.Join(shadows, ", ")))
	}
	return tw.Flush()
}

func describeSource(s config.Source) string {
	if s.Layer == config.LayerKV {
		parts := []string{s.Key}
		if s.SetBy != "" {
			parts = append(parts, "set by "+s.SetBy+" at "+s.SetAt)
		}
		if s.ExpiresAt != "" {
			parts = append(parts, "expires "+s.ExpiresAt)
		}
		if s.Ref != "" {
			parts = append(parts, "from "+s.Ref)
		}
		return s.Layer + " (" + strings.Join(parts, ", ") + ")"
	}
	if p := s.Pos.String(); p != "" {
		return s.Layer + " (" + p + ")"
	}
	return s.Layer
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
