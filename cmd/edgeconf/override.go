package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/internal/termsafe"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

func newOverrideCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "override",
		Short: "Change configuration values without redeploying (overrides in KV)",
		Long: `Override keeps values in the KV namespace bound as CONFIG that sit above the
file: default < file < environment (--env) < KV override. Every change is
checked against the schema and the validation rules first, gets a revision,
an optional TTL and an audit record.

Keys: edgeconf/v1/overrides/<env>/<path> (env "_base" without --env).
Overrides apply to their own environment only. On Cloudflare, KV is
eventually consistent: a change can take about 60 s to be seen everywhere.
The store is the local state folder ($EDGECONF_STATE_DIR, else .edgeconf beside the configuration),
or with --remote the namespace bound as CONFIG in the (--env) configuration on
Cloudflare (its id, else KV_NAMESPACE_ID, else its title).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	g.target.add(cmd.PersistentFlags())
	cmd.AddCommand(newOverrideSetCmd(d, g), newOverrideGetCmd(d, g), newOverrideListCmd(d, g),
		newOverrideDeleteCmd(d, g), newOverrideHistoryCmd(d, g), newOverrideRollbackCmd(d, g), newOverrideExportCmd(d, g))
	return cmd
}

type overrideSetOptions struct {
	Path, Value, Ref, By string
	TTL                  time.Duration
	HasValue             bool
	Output               *outputFlag
}

func newOverrideSetCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &overrideSetOptions{}
	cmd := &cobra.Command{
		Use:   "set PATH [VALUE]",
		Short: "Set an override (VALUE is YAML: 50, true, \"text\", [a, b], {k: v})",
		Example: `  edgeconf override set features.premium.rolloutPercentage 50 --ttl 1h
  edgeconf override set features.premium.allowedUsers --ref kv://CONFIG/premium-users
  edgeconf override set cloudflare.worker.name quantum-canary --env staging --by alice`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			if len(args) == 2 {
				o.Value, o.HasValue = args[1], true
			}
			if o.HasValue == (o.Ref != "") {
				return usageErrorf("give a VALUE or --ref URI (one of them)")
			}
			if err := o.Output.check(); err != nil {
				return err
			}
			return runOverrideSet(cmd.Context(), d, g, o)
		},
	}
	dayDurationVar(cmd.Flags(), &o.TTL, "ttl", 0, "expire the override after this long (at least 60s; accepts days: 7d; default never)")
	cmd.Flags().StringVar(&o.Ref, "ref", "", "take the value from a reference: kv://BINDING/key, r2://..., d1://..., do://...")
	cmd.Flags().StringVar(&o.By, "by", "", "who makes the change (default $USER)")
	o.Output = addOutputFlag(cmd.Flags(), "table", "json")
	return cmd
}

func runOverrideSet(ctx context.Context, d *deps, g *globalOptions, o *overrideSetOptions) error {
	var value any
	if o.HasValue {
		if err := yaml.Unmarshal([]byte(o.Value), &value); err != nil {
			return usageErrorf("VALUE %q is not YAML: %v", o.Value, err)
		}
		if value == nil {
			return usageErrorf("VALUE is empty; to remove an override use: edgeconf override delete %s", o.Path)
		}
	}
	if o.TTL != 0 && o.TTL < kvstore.MinTTL {
		return usageErrorf("--ttl %s is below Workers KV's minimum of %s", o.TTL, kvstore.MinTTL)
	}
	s, err := openSession(ctx, d, g, true, o.By, false)
	if err != nil {
		return err
	}
	defer s.Close()
	printTarget(d, g, s.store.target)
	rec, err := s.mgr.Set(ctx, o.Path, value, overrides.SetOptions{TTL: o.TTL, Ref: o.Ref})
	var refused *overrides.RefusedError
	if errors.As(err, &refused) {
		code := exitFailed
		if unknownPath(refused) {
			code = exitUsage // as get says of an unknown path
		}
		return &exitError{code: code, err: refused}
	}
	var limit *kvstore.LimitError
	if errors.As(err, &limit) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	rec = redactRecord(rec)
	if o.Output.Value == "json" {
		return writeJSONValue(d.Stdout, rec)
	}
	fmt.Fprintf(d.Stdout, "set %s = %s (rev %d, by %s%s)\n", termsafe.String(rec.Path), termsafe.String(compactJSON(rec.Value)),
		rec.Rev, termsafe.String(rec.SetBy), expiry(rec))
	return nil
}

func expiry(r overrides.Record) string {
	if r.Expiration.IsZero() {
		return ""
	}
	return ", expires " + r.Expiration.UTC().Format(time.RFC3339)
}

// redactRecord returns r with the passwords in its values replaced
// (config.RedactValue): every printer of overrides shows records through it.
func redactRecord(r overrides.Record) overrides.Record {
	r.Value = config.RedactValue(r.Value)
	r.Resolved = config.RedactValue(r.Resolved)
	return r
}

// redactAudit is redactRecord for an audit record.
func redactAudit(h overrides.AuditRecord) overrides.AuditRecord {
	h.Old, h.New = config.RedactJSON(h.Old), config.RedactJSON(h.New)
	return h
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

type overrideReadOptions struct {
	Output string
	Prefix string
}

// withSession opens the configuration and its overrides, says which store
// it uses, runs fn and maps its failure to exit status 1.
func withSession(ctx context.Context, d *deps, g *globalOptions, write bool, by string, fn func(*session) error) error {
	s, err := openSession(ctx, d, g, write, by, false)
	if err != nil {
		return err
	}
	defer s.Close()
	printTarget(d, g, s.store.target)
	if err := fn(s); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

func checkTableOrJSON(o string) error {
	if o != "table" && o != "json" {
		return usageErrorf("unknown output format %q (want table or json)", o)
	}
	return nil
}

func newOverrideGetCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &overrideReadOptions{}
	cmd := &cobra.Command{
		Use:   "get PATH",
		Short: "Show one override with its metadata",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTableOrJSON(o.Output); err != nil {
				return err
			}
			return withSession(cmd.Context(), d, g, false, "", func(s *session) error {
				rec, err := s.mgr.Get(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return writeRecords(d.Stdout, s.mgr.WithResolved(cmd.Context(), []overrides.Record{rec}), o.Output, true)
			})
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newOverrideListCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &overrideReadOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the overrides of the environment",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTableOrJSON(o.Output); err != nil {
				return err
			}
			return withSession(cmd.Context(), d, g, false, "", func(s *session) error {
				recs, err := s.mgr.List(cmd.Context(), o.Prefix)
				if err != nil {
					return err
				}
				return writeRecords(d.Stdout, s.mgr.WithResolved(cmd.Context(), recs), o.Output, false)
			})
		},
	}
	cmd.Flags().StringVar(&o.Prefix, "prefix", "", "only paths that start with this")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

func writeRecords(w io.Writer, recs []overrides.Record, format string, single bool) error {
	red := make([]overrides.Record, len(recs))
	for i, r := range recs {
		red[i] = redactRecord(r)
	}
	recs = red
	if format == "json" {
		if single {
			return writeJSONValue(w, recs[0])
		}
		return writeJSONValue(w, recs)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tVALUE\tREV\tSET BY\tSET AT\tEXPIRES\tREF")
	for _, r := range recs {
		exp := "-"
		if !r.Expiration.IsZero() {
			exp = r.Expiration.UTC().Format(time.RFC3339)
		}
		value := compactJSON(r.Value)
		switch {
		case r.Ref != "" && r.ResolveError != "":
			value = "(unresolved: " + r.ResolveError + ")"
		case r.Ref != "":
			value = compactJSON(r.Resolved)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", termsafe.String(r.Path), termsafe.String(value), r.Rev,
			termsafe.String(r.SetBy), termsafe.String(r.SetAt), exp, termsafe.String(orDash(r.Ref)))
	}
	return tw.Flush()
}

func newOverrideDeleteCmd(d *deps, g *globalOptions) *cobra.Command {
	var (
		by     string
		output *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "delete PATH",
		Short: "Remove an override; the file value applies again (no override: not an error)",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return withSession(cmd.Context(), d, g, true, by, func(s *session) error {
				// Deleting what is absent is not an error, as for kv
				// and r2: the end state is the one asked for.
				err := s.mgr.Delete(cmd.Context(), args[0], who(d, by))
				if errors.Is(err, overrides.ErrNotFound) {
					if _, perr := s.doc.CheckPath(args[0]); perr != nil {
						// Still exit 0 (an override of a path the file
						// dropped can be deleted), but name the likely typo.
						fmt.Fprintf(d.Stderr, "edgeconf: warning: %v\n", perr)
					}
					return output.result(d.Stdout, map[string]any{"path": args[0], "deleted": false},
						"nothing to delete: %v", err)
				}
				if err != nil {
					return err
				}
				return output.result(d.Stdout, map[string]any{"path": args[0], "deleted": true}, "deleted %s", args[0])
			})
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who makes the change (default $USER)")
	output = addResultFlag(cmd.Flags())
	return cmd
}

func newOverrideRollbackCmd(d *deps, g *globalOptions) *cobra.Command {
	var (
		by     string
		rev    int64
		output *outputFlag
	)
	cmd := &cobra.Command{
		Use:   "rollback PATH",
		Short: "Restore the value before the latest change of PATH, or with --to REV the value of that revision",
		Long: `Rollback restores a previous value of an override from its history: by
default the value before the latest change (a change that created the
override is undone by removing it; a delete is undone by setting the value
back), or with --to REV the value that revision set. The restored value is
checked and audited like any set. Values over 64 KiB, and changes recorded
by older versions, keep only a hash and cannot be restored.`,
		Example: `  edgeconf override rollback features.premium.rolloutPercentage
  edgeconf override rollback features.premium.rolloutPercentage --to 2`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rev < 0 {
				return usageErrorf("--to must be a revision (1 or more), not %d", rev)
			}
			if err := output.check(); err != nil {
				return err
			}
			return withSession(cmd.Context(), d, g, true, by, func(s *session) error {
				res, err := s.mgr.Rollback(cmd.Context(), args[0], rev, who(d, by))
				if errors.Is(err, overrides.ErrNoRevision) {
					return &exitError{code: exitFailed, err: err}
				}
				if err != nil {
					return err
				}
				res.Record, res.From = redactRecord(res.Record), redactAudit(res.From)
				if output.Value == "json" {
					out := map[string]any{"path": res.Path, "removed": res.Removed, "from": res.From}
					if !res.Removed {
						out["record"] = res.Record
					}
					return writeJSONValue(d.Stdout, out)
				}
				if res.Removed {
					fmt.Fprintf(d.Stdout, "rolled back %s: removed the override (there was none before %s)\n", res.Path, res.From.When)
					return nil
				}
				fmt.Fprintf(d.Stdout, "rolled back %s = %s (rev %d, by %s)\n", res.Path, compactJSON(res.Record.Value), res.Record.Rev, res.Record.SetBy)
				return nil
			})
		},
	}
	cmd.Flags().Int64Var(&rev, "to", 0, "restore the value this revision set (default: the value before the latest change)")
	output = addOutputFlag(cmd.Flags(), "table", "json")
	cmd.Flags().StringVar(&by, "by", "", "who makes the change (default $USER)")
	return cmd
}

func newOverrideHistoryCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &overrideReadOptions{}
	cmd := &cobra.Command{
		Use:   "history [PATH]",
		Short: "Show the audit trail of one path, or of all",
		Args:  usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTableOrJSON(o.Output); err != nil {
				return err
			}
			path := ""
			if len(args) == 1 {
				path = args[0]
			}
			return withSession(cmd.Context(), d, g, false, "", func(s *session) error {
				hist, err := s.mgr.History(cmd.Context(), path)
				if err != nil {
					return err
				}
				return writeHistory(d.Stdout, hist, o.Output)
			})
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newOverrideExportCmd(d *deps, g *globalOptions) *cobra.Command {
	var (
		format, out    string
		includeSecrets bool
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the overrides as a file `wrangler kv bulk put --local` accepts",
		Example: `  edgeconf override export --format wrangler-bulk --output overrides.json
  npx wrangler kv bulk put overrides.json --binding CONFIG --local`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "wrangler-bulk" {
				return usageErrorf("unknown export format %q (want %s)", format, strings.Join(overrides.ExportFormats, ", "))
			}
			if err := checkOutputFile(out); err != nil {
				return err
			}
			return withSession(cmd.Context(), d, g, false, "", func(s *session) error {
				var buf bytes.Buffer
				if err := s.mgr.Export(cmd.Context(), &buf, overrides.ExportOptions{Format: format, IncludeSecrets: includeSecrets}); err != nil {
					return err
				}
				// A file is readable by its owner only: with
				// --include-secrets it holds passwords.
				return writeOutMode(d, out, buf.Bytes(), 0o600)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "wrangler-bulk", "export format: wrangler-bulk")
	cmd.Flags().StringVar(&out, "output", "-", "file to write (- for stdout)")
	cmd.Flags().BoolVar(&includeSecrets, "include-secrets", false, "keep passwords in URLs (proxy.url); without it they are written as xxxxx and marked \"redacted\": true")
	return cmd
}

// auditValue shows a value of the audit trail: the reference it came
// from, the value (at most 40 characters), else its hash, else "-".
func auditValue(v []byte, ref, hash string) string {
	switch {
	case ref != "":
		return ref
	case len(v) > 0:
		// JSON: control characters are escaped already.
		if r := []rune(string(v)); len(r) > 40 {
			return string(r[:37]) + "..."
		}
		return string(v)
	}
	return orDash(hash)
}

func writeHistory(w io.Writer, hist []overrides.AuditRecord, format string) error {
	red := make([]overrides.AuditRecord, len(hist))
	for i, h := range hist {
		red[i] = redactAudit(h)
	}
	hist = red
	if format == "json" {
		return writeJSONValue(w, hist)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tACTION\tPATH\tREV\tWHO\tOLD\tNEW")
	for _, h := range hist {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", termsafe.String(h.When), termsafe.String(h.Action),
			termsafe.String(h.Path), h.Rev, termsafe.String(h.Who),
			termsafe.String(auditValue(h.Old, h.OldRef, h.OldHash)), termsafe.String(auditValue(h.New, h.Ref, h.NewHash)))
	}
	return tw.Flush()
}

// unknownPath reports a refusal of a path the configuration does not have:
// a usage error, as get says of it.
func unknownPath(r *overrides.RefusedError) bool {
	for _, f := range r.Findings {
		if f.Rule == "override-path" {
			return true
		}
	}
	return false
}
