package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cfemu/edge"
	"github.com/factory-wager/edgeconf/devrun"
)

type emulateOptions struct {
	Listen      string
	StateDir    string
	Token       string
	FailRate    float64
	Latency     time.Duration
	Propagation time.Duration
	RateLimit   int
	Seed        uint64
	Zones       []string
	AccountID   string
	Verbose     bool
	NoWorkers   bool
}

func newEmulateCmd(d *deps, _ *globalOptions) *cobra.Command {
	opts := &emulateOptions{}
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Serve a local emulator of the Cloudflare API for tests and offline work",
		Long: `Emulate serves the part of the Cloudflare v4 API that edgeconf uses — Workers KV,
Workers scripts, versions, deployments, secrets, routes and custom domains,
zones and DNS records, R2 buckets, D1 (SQLite inside) and token verification —
under http://ADDR/client/v4, with Cloudflare's envelope, error codes,
pagination and limits. Point edgeconf (or wrangler, or any client) at it:

  export CLOUDFLARE_API_BASE_URL=http://127.0.0.1:8788/client/v4

It enforces Bearer authentication (any token, or only --token), the global
rate limit (1,200 requests per 5 minutes, then 429 with code 971 for the rest
of the window) and the Workers KV rules (TTL of at least 60 s, sizes, one write
per second per key). --fail-rate injects 500, 502, 503, 429 and connection
resets; --latency slows every request; --propagation makes KV reads see the
previous value for a while after a write, as other Cloudflare locations do.

Deployed Workers run: when workerd is available ($EDGECONF_WORKERD, else
tools/node_modules/.bin/workerd from make tools, else PATH), every version of
a live deployment runs on workerd and answers on the same address by Host —
its custom domains, its routes and NAME.SUBDOMAIN.workers.dev — split by the
deployment's percentages or pinned with the Cloudflare-Workers-Version-Overrides
header, with KV bindings backed by the emulator's namespaces, vars, secrets
and the version metadata binding (R2 and D1 bindings are not provided).
--no-workers turns this off.

State is kept in memory unless --state names a folder, where it is saved
(atomically) and loaded again on the next start. Stop it with Ctrl-C.`,
		Example: `  edgeconf emulate
  edgeconf emulate --listen 127.0.0.1:0 --state .edgeconf/cfemu --token dev-token
  edgeconf emulate --fail-rate 0.3 --latency 20ms --propagation 60s --zone factory-wager.com`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(opts.FailRate >= 0 && opts.FailRate <= 1) { // NaN too
				return usageErrorf("--fail-rate %v is outside 0..1 (0.3 means 30%% of requests fail)", opts.FailRate)
			}
			if opts.Latency < 0 || opts.Propagation < 0 {
				return usageErrorf("--latency and --propagation cannot be negative")
			}
			return runEmulate(cmd.Context(), d, opts, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:8788", "address to serve on (port 0 picks a free port)")
	f.StringVar(&opts.StateDir, "state", "", "folder to keep the state in across runs (default: in memory)")
	f.StringVar(&opts.Token, "token", "", "the only API token to accept (default: any Bearer token)")
	f.Float64Var(&opts.FailRate, "fail-rate", 0, "share of requests (0..1) answered with an injected fault")
	f.DurationVar(&opts.Latency, "latency", 0, "delay added to every request")
	f.DurationVar(&opts.Propagation, "propagation", 0, "how long KV reads keep seeing the previous value after a write (Cloudflare: about 60s)")
	f.IntVar(&opts.RateLimit, "rate-limit", cfemu.DefaultRateLimit, "requests per 5 minutes per token before 429 (negative: no limit)")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed of the fault generator (the same seed replays the same faults)")
	f.StringArrayVar(&opts.Zones, "zone", nil, "a zone to create at start, for DNS records and routes (repeatable)")
	f.StringVar(&opts.AccountID, "account", cfemu.DefaultAccountID, "the account --zone creates zones in")
	f.BoolVarP(&opts.Verbose, "verbose", "v", false, "log every request to stderr")
	f.BoolVar(&opts.NoWorkers, "no-workers", false, "do not run deployed Workers on workerd")
	return cmd
}

// runEmulate serves until ctx is done; ready, if set, gets the address.
func runEmulate(ctx context.Context, d *deps, opts *emulateOptions, ready func(addr string)) error {
	level := slog.LevelInfo
	if opts.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: level}))
	var zones []cfemu.ZoneSeed
	for _, z := range opts.Zones {
		zones = append(zones, cfemu.ZoneSeed{Name: z, AccountID: opts.AccountID})
	}
	emu, err := cfemu.New(cfemu.Options{
		Token:       opts.Token,
		FailRate:    opts.FailRate,
		Latency:     opts.Latency,
		Propagation: opts.Propagation,
		StateDir:    opts.StateDir,
		RateLimit:   opts.RateLimit,
		Seed:        opts.Seed,
		Zones:       zones,
		Logger:      logger,
	})
	if err != nil {
		return fmt.Errorf("emulate: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		emu.Close()
		return fmt.Errorf("emulate: %w", err)
	}
	addr := ln.Addr().String()
	for _, w := range cfemu.StartupWarnings(opts.Listen, opts.Token) {
		fmt.Fprintln(d.Stderr, w)
	}
	base := "http://" + addr + cfemu.PathPrefix
	out := d.Stdout
	fmt.Fprintf(out, "cfemu: serving the Cloudflare API emulator at %s\n", base)
	if opts.StateDir != "" {
		fmt.Fprintf(out, "state: %s\n", opts.StateDir)
	} else {
		fmt.Fprintln(out, "state: in memory (lost on exit; pass --state DIR to keep it)")
	}
	if opts.Token != "" {
		fmt.Fprintln(out, "auth: only the --token value is accepted")
	} else {
		fmt.Fprintln(out, "auth: any Bearer token is accepted")
	}
	var extras []string
	if opts.FailRate > 0 {
		extras = append(extras, fmt.Sprintf("fail rate %g", opts.FailRate))
	}
	if opts.Latency > 0 {
		extras = append(extras, "latency "+opts.Latency.String())
	}
	if opts.Propagation > 0 {
		extras = append(extras, "KV propagation "+opts.Propagation.String())
	}
	if opts.RateLimit < 0 {
		extras = append(extras, "no rate limit")
	}
	if len(extras) > 0 {
		fmt.Fprintf(out, "faults: %s\n", strings.Join(extras, ", "))
	}
	var handler http.Handler = emu
	if !opts.NoWorkers {
		cwd, _ := os.Getwd()
		workerd, werr := devrun.FindWorkerd(d.LookupEnv, cwd)
		if werr != nil {
			fmt.Fprintf(out, "workers: not run (%v)\n", werr)
		} else {
			edgeDir := opts.StateDir
			if edgeDir == "" {
				if edgeDir, err = os.MkdirTemp("", "edgeconf-edge-"); err != nil {
					ln.Close()
					emu.Close()
					return fmt.Errorf("emulate: %w", err)
				}
				defer os.RemoveAll(edgeDir)
			}
			tok := opts.Token
			if tok == "" {
				tok = "edgeconf-emulate-edge"
			}
			ed := edge.New(edge.Options{Emulator: emu, Workerd: workerd, APIBase: base, Token: tok, StateDir: edgeDir, Output: d.Stderr, Logger: logger})
			defer ed.Close()
			handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, cfemu.PathPrefix+"/") {
					emu.ServeHTTP(w, r)
					return
				}
				ed.ServeHTTP(w, r)
			})
			fmt.Fprintf(out, "workers: deployed Workers answer at http://%s by Host (custom domains, routes, NAME.SUBDOMAIN.workers.dev)\n", addr)
		}
	}
	fmt.Fprintf(out, "export CLOUDFLARE_API_BASE_URL=%s\n", base)

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if ready != nil {
		ready(addr)
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	closeErr := emu.Close()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("emulate: %w", err)
	}
	if closeErr != nil {
		return fmt.Errorf("emulate: save state: %w", closeErr)
	}
	if opts.StateDir != "" {
		fmt.Fprintf(out, "cfemu: stopped; state saved in %s\n", opts.StateDir)
	} else {
		fmt.Fprintln(out, "cfemu: stopped")
	}
	return nil
}
