package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/deploy"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/target"
	"github.com/factory-wager/edgeconf/telemetry"
)

// maxSecretsFile bounds a --secrets-file.
const maxSecretsFile = 1 << 20

type deployOptions struct {
	Plan             bool
	DetailedExitcode bool
	Timeout          time.Duration
	Output           *outputFlag
	Canary           float64
	CanaryWindow     time.Duration
	Message          string
	Yes              bool
	AllowTakeover    bool
	SecretsFile      string
	URL              string
	ProbeHost        string
	Migrate          bool
	ProbeInterval    time.Duration
}

func newDeployCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy the Worker: plan, provision, upload, smoke test, canary, promote or roll back",
		Long: `Deploy builds the Worker (as edgeconf build, in memory), compares what the
configuration wants with what the Cloudflare account has, and carries out
the difference:

  1. creates the KV namespaces, R2 buckets and D1 databases that are missing
     (adopting those that exist by name); with --migrate applies the D1
     databases' pending migrations (a failing one stops the deploy);
  2. uploads a new version with the bindings, vars, compatibility settings and
     secrets (values from the environment variable of the same name, .env or
     --secrets-file; never printed) — the first deploy of a Worker, or one
     with a Durable Object migration, is a script upload, live at once;
  3. smoke test: the new version at 0 % beside the live one, /healthz probed
     through --url with the Cloudflare-Workers-Version-Overrides header; it
     must answer 200 naming the new version;
  4. with --canary PCT: the new version at PCT % for --canary-window while its
     probes' error rate and p95 latency are checked against the alerts
     worker.error_rate and worker.latency_ms of the configuration (defaults
     1 % and 1000 ms); healthy → promoted to 100 %, unhealthy → the previous
     version back at 100 % and exit 1;
  5. only then routes, custom domains and DNS records (records edgeconf
     creates carry an ownership comment).

Destructive changes need --yes; changing a route, custom domain or DNS record
edgeconf did not create needs --allow-dns-takeover. It never prompts. Each
step is journaled in the state folder: a deploy interrupted and run again
reuses the version it uploaded.

--plan prints what would change and changes nothing (exit 0 no changes, 1
error or problem, and with --detailed-exitcode 2 when there are changes).

It needs CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (environment or
.env); CLOUDFLARE_API_BASE_URL points it at an emulator (edgeconf emulate).`,
		Example: `  edgeconf deploy --plan
  edgeconf deploy --plan --env staging -o json --detailed-exitcode
  edgeconf deploy --env production --canary 10 --canary-window 5m --url https://dashboard.factory-wager.com
  edgeconf deploy --yes --message "drop the old bucket"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.check(); err != nil {
				return err
			}
			if opts.Timeout <= 0 {
				return usageErrorf("--timeout must be positive, not %s", opts.Timeout)
			}
			if opts.Canary != 0 && (opts.Canary < 1 || opts.Canary > 99) {
				return usageErrorf("--canary is a share of the traffic from 1 to 99 (percent), not %v", opts.Canary)
			}
			if opts.Canary != 0 && opts.URL == "" {
				return usageErrorf("--canary needs --url: the Worker's URL to probe (its workers.dev URL, a route or a custom domain)")
			}
			if opts.ProbeInterval <= 0 {
				return usageErrorf("--probe-interval must be positive, not %s", opts.ProbeInterval)
			}
			if opts.CanaryWindow <= 0 {
				return usageErrorf("--canary-window must be positive, not %s", opts.CanaryWindow)
			}
			if n := len([]rune(opts.Message)); n > cloudflare.MaxVersionMessage {
				return usageErrorf("--message has %d characters; the limit is %d", n, cloudflare.MaxVersionMessage)
			}
			if opts.Plan {
				return runDeployPlan(cmd.Context(), d, g, opts)
			}
			return runDeploy(cmd.Context(), d, g, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Plan, "plan", false, "print what a deploy would change, and change nothing")
	f.BoolVar(&opts.DetailedExitcode, "detailed-exitcode", false, "with --plan: exit 2 when the plan has changes (0 when none)")
	f.DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up after this long, canary window and retries included")
	f.Float64Var(&opts.Canary, "canary", 0, "give the new version this share of the traffic (1-99 %) for --canary-window before promoting it")
	f.DurationVar(&opts.CanaryWindow, "canary-window", 5*time.Minute, "how long the canary runs")
	f.StringVar(&opts.Message, "message", "", "the version's and deployment's message (at most 100 characters; the git commit is added when in a repository)")
	f.BoolVar(&opts.Migrate, "migrate", false, "apply the D1 databases' pending migrations before the upload (else they are left, with a warning)")
	f.BoolVar(&opts.Yes, "yes", false, "apply destructive changes (removed bindings, classes, routes, domains, records)")
	f.BoolVar(&opts.AllowTakeover, "allow-dns-takeover", false, "change routes, custom domains and DNS records edgeconf did not create")
	f.StringVar(&opts.SecretsFile, "secrets-file", "", "a NAME=value file with the values of cloudflare.secrets (else the environment or .env)")
	f.StringVar(&opts.URL, "url", "", "the Worker's URL for the smoke test and canary probes (default: no probes)")
	f.StringVar(&opts.ProbeHost, "probe-host", "", "the Host header of the probes, when --url is an address (edgeconf emulate serves Workers by Host)")
	f.DurationVar(&opts.ProbeInterval, "probe-interval", 5*time.Second, "time between two probes of the smoke test and canary")
	f.BoolVarP(&g.target.Quiet, "quiet", "q", false, "do not print the target and retry progress on stderr")
	opts.Output = addOutputFlag(f, "table", "json")
	return cmd
}

// deployTarget loads the configuration and a client of the account.
func deployTarget(ctx context.Context, d *deps, g *globalOptions, timeout time.Duration) (context.Context, context.CancelFunc, *config.Document, *cloudflare.Client, error) {
	doc, err := g.load(d)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if err := target.Credentials(d.LookupEnv).MissingError(); err != nil {
		return nil, nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	client, err := cloudflare.New(target.CloudflareOptions(targetOptions(d, g, doc, false)))
	if err != nil {
		return nil, nil, nil, nil, &exitError{code: exitUsage, err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	printTarget(d, g, client.Target())
	return ctx, cancel, doc, client, nil
}

// secretLookup answers from the --secrets-file, then the environment and
// .env.
func secretLookup(d *deps, file string) (func(string) (string, bool), error) {
	vars := map[string]string{}
	if file != "" {
		var err error
		if vars, err = config.ReadDotEnv(file, maxSecretsFile, "1 MiB for --secrets-file"); err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
	}
	return func(name string) (string, bool) {
		if v, ok := vars[name]; ok && v != "" {
			return v, true
		}
		v, ok := d.LookupEnv(name)
		return v, ok && v != ""
	}, nil
}

// deployRun is what both deploy and deploy --plan start from: the
// configuration, the account, the secrets' source and the plan.
type deployRun struct {
	ctx    context.Context
	cancel context.CancelFunc
	doc    *config.Document
	client *cloudflare.Client
	secret func(string) (string, bool)
	prep   *deploy.Prepared
}

// prepareDeploy loads the configuration, reaches the account and computes
// the plan; the caller must call cancel.
func prepareDeploy(ctx context.Context, d *deps, g *globalOptions, opts *deployOptions) (*deployRun, error) {
	secret, err := secretLookup(d, opts.SecretsFile)
	if err != nil {
		return nil, err
	}
	ctx, cancel, doc, client, err := deployTarget(ctx, d, g, opts.Timeout)
	if err != nil {
		return nil, err
	}
	prep, err := deploy.Prepare(ctx, deploy.PrepareOptions{
		Doc: doc, API: client,
		SecretAvailable: func(name string) bool { _, ok := secret(name); return ok },
	})
	if err != nil {
		cancel()
		return nil, failed(err)
	}
	return &deployRun{ctx: ctx, cancel: cancel, doc: doc, client: client, secret: secret, prep: prep}, nil
}

func runDeployPlan(ctx context.Context, d *deps, g *globalOptions, opts *deployOptions) error {
	run, err := prepareDeploy(ctx, d, g, opts)
	if err != nil {
		return err
	}
	defer run.cancel()
	p := run.prep.Plan
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

func runDeploy(ctx context.Context, d *deps, g *globalOptions, opts *deployOptions) error {
	run, err := prepareDeploy(ctx, d, g, opts)
	if err != nil {
		return err
	}
	defer run.cancel()
	ctx, doc, client, secret, prep := run.ctx, run.doc, run.client, run.secret, run.prep
	if opts.Output.Value == "table" {
		if err := prep.Plan.WriteText(d.Stderr); err != nil {
			return failed(err)
		}
	}
	gate := deploy.GateFromConfig(doc.Config.Monitoring.Alerts)
	gate.Window, gate.Interval = opts.CanaryWindow, opts.ProbeInterval
	ao := deploy.ApplyOptions{
		Yes: opts.Yes, Migrate: opts.Migrate, AllowTakeover: opts.AllowTakeover, Secret: secret,
		Message: deploy.VersionMessage(opts.Message, doc.Dir()),
		Canary:  opts.Canary, Gate: gate,
		Journal:  &deploy.Journal{Path: filepath.Join(stateDir(d), "deploy-journal.json")},
		Progress: func(step string) { fmt.Fprintf(d.Stderr, "edgeconf: deploy: %s\n", step) },
	}
	if d.deployClock != nil {
		ao.Now, ao.Sleep = d.deployClock.Now, d.deployClock.Sleep
	}
	if opts.URL != "" {
		ao.Prober = deploy.HTTPProber{BaseURL: opts.URL, Host: opts.ProbeHost, Now: ao.Now}
	}
	if doc.Config.Monitoring.ErrorTracking {
		to := targetOptions(d, g, doc, false)
		to.Remote = true
		ao.Errors = telemetry.Source{Open: func(ctx context.Context) (kvstore.Store, func() error, error) {
			kv, err := target.OpenKV(ctx, to, target.ConfigBinding)
			if err != nil {
				return nil, nil, err
			}
			return kv.Store, kv.Close, nil
		}}
	}
	res, err := deploy.Apply(ctx, client, prep, ao)
	if res != nil {
		var werr error
		if opts.Output.Value == "json" {
			werr = writeJSONValue(d.Stdout, res)
		} else {
			werr = res.WriteText(d.Stdout)
		}
		if err == nil && werr != nil {
			err = werr
		}
	}
	if err != nil {
		return failed(err)
	}
	return nil
}
