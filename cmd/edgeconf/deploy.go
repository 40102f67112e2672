package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/deploy"
	"github.com/factory-wager/edgeconf/target"
)

type deployOptions struct {
	Plan             bool
	DetailedExitcode bool
	Timeout          time.Duration
	Output           *outputFlag
}

func newDeployCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy --plan",
		Short: "Show what a deploy of the Worker would change in the Cloudflare account",
		Long: `Deploy --plan builds the Worker (as edgeconf build, in memory), reads what
the account has and prints what a deploy would change, changing nothing:
KV namespaces, R2 buckets and D1 databases to create (or adopt, when one of
that name exists), the Worker's code (by content hash), compatibility
settings, bindings and vars, secrets to set, Durable Object migrations,
routes, custom domains and DNS records. Lines marked destructive remove
something; lines marked "not edgeconf's" change a route, domain or record
edgeconf did not create. A secret declared in cloudflare.secrets with no
value in the account nor in the environment is a problem that stops a
deploy before anything is uploaded.

It needs CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (environment or
.env); CLOUDFLARE_API_BASE_URL points it at an emulator (edgeconf emulate).

Exit status: 0 no changes, 1 error or problem, and with --detailed-exitcode
2 when there are changes.`,
		Example: `  edgeconf deploy --plan
  edgeconf deploy --plan --env staging -o json --detailed-exitcode`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.Plan {
				return usageErrorf("only deploy --plan is available in this version: it shows what a deploy would change")
			}
			if err := opts.Output.check(); err != nil {
				return err
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive, not %s", opts.Timeout)
			}
			return runDeployPlan(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Plan, "plan", false, "print what a deploy would change, and change nothing")
	cmd.Flags().BoolVar(&opts.DetailedExitcode, "detailed-exitcode", false, "exit 2 when the plan has changes (0 when none)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "give up on Cloudflare after this long, retries included")
	opts.Output = addOutputFlag(cmd.Flags(), "table", "json")
	return cmd
}

func runDeployPlan(ctx context.Context, d *deps, g *globalOptions, opts *deployOptions) error {
	doc, err := g.load(d)
	if err != nil {
		return err
	}
	creds := target.Credentials(d.LookupEnv)
	if err := creds.MissingError(); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	co := target.CloudflareOptions(targetOptions(d, g, doc, false))
	client, err := cloudflare.New(co)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	printTarget(d, g, client.Target())
	prep, err := deploy.Prepare(ctx, deploy.PrepareOptions{
		Doc: doc, API: client,
		SecretAvailable: func(name string) bool { v, ok := d.LookupEnv(name); return ok && v != "" },
	})
	if err != nil {
		return failed(err)
	}
	p := prep.Plan
	if opts.Output.Value == "json" {
		err = p.WriteJSON(d.Stdout)
	} else {
		err = p.WriteText(d.Stdout)
	}
	switch {
	case err != nil:
		return failed(err)
	case len(p.Problems) > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("the plan has %d problem(s): a deploy would stop before uploading anything", len(p.Problems))}
	case opts.DetailedExitcode && p.HasChanges():
		return &exitError{code: exitChanges}
	}
	return nil
}
