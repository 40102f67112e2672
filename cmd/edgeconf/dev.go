package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/joho/godotenv"
	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/devrun"
	"github.com/factory-wager/edgeconf/kvstore"
)

type devOptions struct {
	Listen string
	Watch  bool
}

func newDevCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the Worker locally on workerd, bound to edgeconf's local state",
		Long: `Dev builds the Worker (as edgeconf build) and runs it on workerd, the
open-source Workers runtime, on --listen (default 127.0.0.1:ports.main).

Bindings are backed by the local state folder ($EDGECONF_STATE_DIR, else
.edgeconf beside the configuration): KV namespaces are its bbolt store, so "edgeconf override set"
changes what the Worker answers within dependencies.thresholds.refresh
seconds, with no restart; Durable Objects keep their storage in
STATE/workerd/do; vars come from the configuration; secrets from .dev.vars
beside the configuration, else the environment (never printed). R2, D1 and
other bindings are not provided locally (see docs/worker.md).

workerd is $EDGECONF_WORKERD, else tools/node_modules/.bin/workerd (make
tools), else on PATH. --watch rebuilds and restarts on source changes.
Ctrl-C stops workerd.`,
		Example: `  edgeconf dev
  edgeconf dev --env staging --listen 127.0.0.1:8787 --watch`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDev(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "address to serve on (default 127.0.0.1:ports.main)")
	cmd.Flags().BoolVar(&opts.Watch, "watch", false, "rebuild and restart when the Worker's sources change")
	return cmd
}

func runDev(ctx context.Context, d *deps, g *globalOptions, opts *devOptions) error {
	doc, bo, err := buildInputs(d, g)
	if err != nil {
		return err
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:" + strconv.Itoa(doc.Config.Ports.Main)
	}
	cwd, _ := os.Getwd()
	workerd, err := devrun.FindWorkerd(d.LookupEnv, doc.Dir(), cwd)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	cf := doc.Config.Cloudflare.CloudflareSettings
	secrets, err := devSecrets(d, doc.Dir(), cf.Secrets)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	ro := devrun.Options{
		Workerd: workerd, Listen: listen, StateDir: stateDir(d), Name: cf.Worker.Name,
		CompatibilityDate: cf.Worker.CompatibilityDate, CompatibilityFlags: cf.Worker.CompatibilityFlags,
		Vars: cf.Vars, Secrets: secrets, VersionTag: "dev", Output: d.Stderr,
	}
	for _, k := range cf.KVNamespaces {
		ns := k.Binding
		ro.KV = append(ro.KV, devrun.KVNamespace{Binding: ns, Open: func(write bool) (kvstore.Store, func() error, error) {
			s, err := openKV(ctx, targetOptions(d, g, doc, write), ns)
			if err != nil {
				return nil, nil, err
			}
			return s.kv, s.close, nil
		}})
	}
	for _, o := range cf.DurableObjects {
		ro.DurableObjects = append(ro.DurableObjects, devrun.DurableObject{Binding: o.Binding, ClassName: o.ClassName})
	}
	src := filepath.Dir(bo.Entry)
	for {
		fp := devrun.Fingerprint(src)
		res, err := bundle.Build(bo)
		if err != nil {
			if !opts.Watch {
				return &exitError{code: exitFailed, err: err}
			}
			fmt.Fprintf(d.Stderr, "edgeconf dev: %v\nwaiting for a change...\n", err)
			if !waitChange(ctx, src, fp) {
				return nil
			}
			continue
		}
		ro.Script, ro.VersionID = res.Script, res.Revision
		srv, err := devrun.Start(ctx, ro)
		if err != nil {
			return &exitError{code: exitFailed, err: err}
		}
		fmt.Fprintf(d.Stdout, "edgeconf dev: %s serves %s (env %s, config revision %s); Ctrl-C stops\n", srv.URL, doc.Config.Cloudflare.Worker.Main, envLabel(doc.Env), res.Revision)
		changed := false
		if opts.Watch {
			changed = waitChangeOr(ctx, src, fp, srv.Done())
		} else {
			select {
			case <-ctx.Done():
			case <-srv.Done():
			}
		}
		_ = srv.Stop()
		select {
		case <-srv.Done():
		default:
		}
		if ctx.Err() != nil {
			return nil
		}
		if !changed {
			return &exitError{code: exitFailed, err: fmt.Errorf("workerd exited: %v", srv.Err())}
		}
		fmt.Fprintln(d.Stdout, "edgeconf dev: sources changed; rebuilding")
	}
}

func envLabel(env string) string {
	if env == "" {
		return "base"
	}
	return env
}

// devSecrets reads the configured secrets from .dev.vars beside the
// configuration, else from the environment. Missing ones are left unbound.
func devSecrets(d *deps, dir string, names []string) (map[string]string, error) {
	file := map[string]string{}
	p := filepath.Join(dir, ".dev.vars")
	if m, err := godotenv.Read(p); err == nil {
		file = m
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	out := map[string]string{}
	for _, n := range names {
		if v, ok := file[n]; ok {
			out[n] = v
		} else if v, ok := d.LookupEnv(n); ok {
			out[n] = v
		}
	}
	return out, nil
}

// waitChange polls src until its fingerprint differs from fp (true) or ctx ends (false).
func waitChange(ctx context.Context, src, fp string) bool {
	return waitChangeOr(ctx, src, fp, nil)
}

func waitChangeOr(ctx context.Context, src, fp string, done <-chan struct{}) bool {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-done:
			return false
		case <-t.C:
			if devrun.Fingerprint(src) != fp {
				return true
			}
		}
	}
}
