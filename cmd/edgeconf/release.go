package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/deploy"
)

type releaseOptions struct {
	To      string
	Message string
	Limit   int
	Output  *outputFlag
}

// workerName is the Worker the configuration (with --env) deploys.
func workerName(doc *config.Document) (string, error) {
	name := doc.Config.Cloudflare.Worker.Name
	if name == "" {
		return "", usageErrorf("cloudflare.worker.name is not set: name the Worker in the configuration")
	}
	return name, nil
}

// withWorker runs fn with the account client and the configured Worker.
func withWorker(cmd *cobra.Command, d *deps, g *globalOptions, fn func(ctx context.Context, c *cloudflare.Client, worker string) error) error {
	ctx, cancel, doc, client, err := deployTarget(cmd.Context(), d, g, g.target.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	worker, err := workerName(doc)
	if err != nil {
		return err
	}
	if err := fn(ctx, client, worker); err != nil {
		return failed(err)
	}
	return nil
}

func newRollbackCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &releaseOptions{}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Put an earlier version of the Worker back at 100 % (default: the previous deployment's)",
		Long: `Rollback deploys an earlier version of the configured Worker at 100 %: by
default the version that had the largest share in the deployment before the
live one, or with --to the version you name. Before it changes anything it
checks that the version is among the 100 most recent (the only ones
Cloudflare deploys) and that the KV namespaces, R2 buckets and D1 databases
its bindings name still exist, and it warns when the version's secrets differ
from the live one's. It never touches data: KV values, objects and rows stay
as they are. Routes, custom domains and DNS records are not versioned and are
left alone.`,
		Example: `  edgeconf rollback
  edgeconf rollback --to 5b3f1c9e-0000-4000-8000-000000000000 --message "bad release"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Output.check(); err != nil {
				return err
			}
			return withWorker(cmd, d, g, func(ctx context.Context, c *cloudflare.Client, worker string) error {
				res, err := deploy.Rollback(ctx, c, deploy.RollbackOptions{Worker: worker, To: o.To, Message: o.Message})
				if err != nil {
					return err
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(d.Stderr, "edgeconf: warning: %s\n", w)
				}
				return o.Output.result(d.Stdout, res, "rolled back %s: version %s is live at 100 %% (deployment %s)", worker, res.To, res.Deployment)
			})
		},
	}
	cmd.Flags().StringVar(&o.To, "to", "", "the version to put back (default: the previous deployment's)")
	cmd.Flags().StringVar(&o.Message, "message", "", "the deployment's message")
	o.Output = addResultFlag(cmd.Flags())
	g.target.addRemoteOnly(cmd.Flags())
	return cmd
}

func newVersionsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "versions", Short: "The Worker's uploaded versions", Args: usageArgs(cobra.NoArgs)}
	o := &releaseOptions{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the Worker's deployable versions, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Output.check(); err != nil {
				return err
			}
			if o.Limit < 1 || o.Limit > cloudflare.MaxRollbackVersions {
				return usageErrorf("--limit is 1 to %d, not %d", cloudflare.MaxRollbackVersions, o.Limit)
			}
			return withWorker(cmd, d, g, func(ctx context.Context, c *cloudflare.Client, worker string) error {
				vs, err := c.Versions(ctx, worker, o.Limit)
				if err != nil {
					return err
				}
				if o.Output.Value == "json" {
					return writeJSONValue(d.Stdout, vs)
				}
				return deploy.WriteVersions(d.Stdout, vs)
			})
		},
	}
	list.Flags().IntVar(&o.Limit, "limit", 10, "how many versions (at most 100)")
	o.Output = addOutputFlag(list.Flags(), "table", "json")
	g.target.addRemoteOnly(list.Flags())
	cmd.AddCommand(list)
	return cmd
}

func newDeploymentsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "deployments", Short: "The Worker's deployments (how traffic splits between versions)", Args: usageArgs(cobra.NoArgs)}
	lo := &releaseOptions{}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the Worker's deployments, the live one first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lo.Output.check(); err != nil {
				return err
			}
			return withWorker(cmd, d, g, func(ctx context.Context, c *cloudflare.Client, worker string) error {
				ds, err := c.Deployments(ctx, worker)
				if err != nil {
					return err
				}
				if lo.Output.Value == "json" {
					return writeJSONValue(d.Stdout, ds)
				}
				return deploy.WriteDeployments(d.Stdout, ds)
			})
		},
	}
	lo.Output = addOutputFlag(list.Flags(), "table", "json")
	g.target.addRemoteOnly(list.Flags())
	so := &releaseOptions{}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the live deployment: its versions, their shares, tags and messages",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := so.Output.check(); err != nil {
				return err
			}
			return withWorker(cmd, d, g, func(ctx context.Context, c *cloudflare.Client, worker string) error {
				st, err := deploy.LiveStatus(ctx, c, worker)
				if err != nil {
					return err
				}
				if so.Output.Value == "json" {
					return writeJSONValue(d.Stdout, st)
				}
				return st.WriteText(d.Stdout)
			})
		},
	}
	so.Output = addOutputFlag(status.Flags(), "table", "json")
	g.target.addRemoteOnly(status.Flags())
	cmd.AddCommand(list, status)
	return cmd
}
