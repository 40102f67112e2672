package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/report"
	"github.com/factory-wager/edgeconf/target"
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

It validates the effective configuration: the file, the --env section and
the KV overrides of the local state folder ($EDGECONF_STATE_DIR, else
.edgeconf beside the configuration), or with --remote of Cloudflare. Entries an override touches are marked kvOverride, and every
crossReference is resolved against that store and checked by its validator
(a missing value, or an R2/D1/DO reference, is a Warning).

When the store cannot be opened or reached (a locked or corrupt state
folder, a missing namespace, an unreachable API) the report is still
printed: the overrides section is marked store-unavailable with the reason,
and the last-known-good overrides are used (a Warning naming their age) or,
with no copy, the file alone is reported (Invalid). Retries of an
unreachable API are shown on stderr and stop after --timeout (default 10s).

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
			return runValidate(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json, csv, markdown (md) or junit (xml)")
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail (exit 1) on warnings too")
	g.target.add(cmd.Flags())
	return cmd
}

func runValidate(ctx context.Context, d *deps, g *globalOptions, opts *validateOptions) error {
	format, err := report.ParseFormat(opts.Output)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	// A store that cannot be opened still gives a report: the session
	// falls back to the last-known-good overrides, and says so.
	s, err := openSession(ctx, d, g, false, "", true)
	if err != nil {
		return err
	}
	defer s.Close()
	var r *report.Report
	if len(s.doc.Fatal()) > 0 {
		r = config.Validate(s.doc, config.ValidateOptions{Now: d.Now()}) // nothing to resolve
	} else {
		printTarget(d, g, s.store.target)
		r = validateEffective(d, g, s)
	}
	wopts := report.WriteOptions{Strict: opts.Strict, Color: format == report.Table && wantColor(d, d.Stdout)}
	if err := report.Write(d.Stdout, r, format, wopts); err != nil {
		return err
	}
	if r.Failed(opts.Strict) {
		return &exitError{code: exitFailed}
	}
	return nil
}

// validateEffective validates the configuration with its overrides. When
// the store cannot be read it reports the last-known-good overrides (a
// store-unavailable Warning with the copy's age) or, with no copy, the
// file alone (a store-unavailable Invalid finding: the effective
// configuration is unknown).
func validateEffective(d *deps, g *globalOptions, s *session) *report.Report {
	snap, err := s.snapshot(d)
	if err != nil {
		r := config.Validate(s.doc, config.ValidateOptions{Now: d.Now()})
		why := "the overrides could not be read and there is no last-known-good copy"
		if errors.Is(err, kvstore.ErrAccessDenied) {
			why = "the store refused the credentials (the last-known-good copy is not used for that)"
		}
		r.AddFinding("overrides", report.Finding{Severity: report.Invalid, Rule: "store-unavailable", Location: s.store.target,
			Message: fmt.Sprintf("store-unavailable: %s, so this report covers the file alone: %v", why, err)})
		return r
	}
	r := s.mgr.Validate(s.ctx, snap, d.Now())
	if g.target.Remote && s.ctx.Err() == nil {
		checkRemote(s.ctx, d, g, snap.Doc, r)
	}
	return r
}

// checkRemote verifies the token and that every bound resource exists on
// Cloudflare, adding a finding to the resource's entry for each problem.
func checkRemote(ctx context.Context, d *deps, g *globalOptions, doc *config.Document, r *report.Report) {
	creds := target.Credentials(d.LookupEnv)
	client, err := cloudflare.New(target.CloudflareOptions(targetOptions(d, g, doc, false)))
	if err != nil {
		r.AddFinding("cloudflare", report.Finding{Severity: report.Invalid, Rule: "remote", Path: "cloudflare", Message: err.Error()})
		return
	}
	cf := doc.Config.Cloudflare
	var res cloudflare.Resources
	sections := map[string]string{} // kind + name -> section
	for i, ns := range cf.KVNamespaces {
		ref := cloudflare.NamespaceRef{ID: ns.ID, Title: ns.Title}
		res.Namespaces = append(res.Namespaces, ref)
		sections["kv namespace"+ref.String()] = fmt.Sprintf("cloudflare.kvNamespaces[%d]", i)
	}
	for i, b := range cf.R2Buckets {
		res.Buckets = append(res.Buckets, b.Bucket)
		sections["r2 bucket"+b.Bucket] = fmt.Sprintf("cloudflare.r2Buckets[%d]", i)
	}
	for i, db := range cf.D1Databases {
		res.Databases = append(res.Databases, db.Name)
		sections["d1 database"+db.Name] = fmt.Sprintf("cloudflare.d1Databases[%d]", i)
	}
	for _, p := range client.CheckRemote(ctx, res) {
		section, ok := sections[p.Kind+p.Name]
		if !ok {
			section = "cloudflare"
		}
		msg := p.Error()
		if p.Missing() {
			msg = fmt.Sprintf("%s %s does not exist in account %s (deploy provisions it)", p.Kind, p.Name, creds.AccountID)
		}
		r.AddFinding(section, report.Finding{Severity: report.Invalid, Rule: "remote-" + strings.ReplaceAll(p.Kind, " ", "-"), Path: section, Location: doc.Pos(section).String(), Message: msg})
	}
}
