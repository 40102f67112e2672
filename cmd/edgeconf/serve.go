package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/cache"
	"github.com/factory-wager/edgeconf/d1/migrate"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/deploy"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/monitor"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/server"
	"github.com/factory-wager/edgeconf/target"
)

// The dashboard's tokens.
const (
	envAdminToken = "DASHBOARD_TOKEN"
	envReadToken  = "DASHBOARD_READ_TOKEN"
)

type serveOptions struct {
	Listen     string
	AllowHosts []string
	WorkerURL  string
	NoMonitor  bool
}

func newServeCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the dashboard and its API (configuration, overrides, flags, dependencies, deployments)",
		Long: `Serve runs the web dashboard and its JSON API under /api/v1 on --listen
(default 127.0.0.1:ports.dashboard), with /metrics and /healthz, and the
dependency monitor in the background. It prints the URL to open.

It reads and changes the same overrides as the other commands (the local
state folder, or with --remote the CONFIG namespace on Cloudflare); a change
made anywhere shows in the dashboard within about a second (the store is
checked every second).

Tokens come from the environment (or .env): DASHBOARD_TOKEN may read and
change, DASHBOARD_READ_TOKEN may only read. Without any token the server
listens on loopback only and changes are off. Every change is audited with
the token's name. With --remote it also shows the Worker's live deployment.`,
		Example: `  edgeconf serve
  DASHBOARD_TOKEN=$(openssl rand -hex 16) edgeconf serve --listen 127.0.0.1:3000
  edgeconf serve --remote --worker-url https://dashboard.factory-wager.com`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.target.check(); err != nil {
				return err
			}
			return runServe(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Listen, "listen", "", "address to serve on (default 127.0.0.1:ports.dashboard; port 0 picks one)")
	cmd.Flags().StringArrayVar(&opts.AllowHosts, "allow-host", nil, "another Host header to answer (a name the dashboard is reached by; repeatable)")
	cmd.Flags().StringVar(&opts.WorkerURL, "worker-url", "", "the Worker's URL for the monitor's /healthz probe")
	cmd.Flags().BoolVar(&opts.NoMonitor, "no-monitor", false, "do not run the dependency monitor")
	g.target.add(cmd.Flags())
	return cmd
}

// isLoopbackAddr reports whether host:port is on loopback.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopback(host)
}

// sessionOpener opens the overrides per request, as the other commands do.
func sessionOpener(d *deps, g *globalOptions) func(ctx context.Context, write bool, by string) (*server.Session, error) {
	return func(ctx context.Context, write bool, by string) (*server.Session, error) {
		s, err := openSession(ctx, d, g, write, by, true)
		if err != nil {
			return nil, err
		}
		return &server.Session{Manager: s.mgr, Store: s.store.kv, Target: s.store.target, Close: s.Close}, nil
	}
}

// lkgOpener opens the overrides on their last-known-good copy.
func lkgOpener(d *deps, g *globalOptions) func(ctx context.Context) (*server.Session, error) {
	return func(ctx context.Context) (*server.Session, error) {
		doc, err := g.load(d)
		if err != nil {
			return nil, err
		}
		topts := targetOptions(d, g, doc, false)
		lkg := target.LKGPath(topts)
		mgr := overrides.New(overrides.Options{Store: target.Unavailable(errors.New("KV is critical: the monitor's probes fail")), Doc: doc, Env: g.Env, Now: d.Now, LKGPath: lkg})
		return &server.Session{Manager: mgr, Target: "last-known-good copy " + lkg, Close: func() error { return nil }}, nil
	}
}

// monitorBackends wires the monitor's probes and alert stores to the
// configuration's stores.
func monitorBackends(ctx context.Context, d *deps, g *globalOptions, doc *config.Document, workerURL string) (monitor.Backends, map[string]monitor.AlertStore, func(), error) {
	cf := doc.Config.Cloudflare.CloudflareSettings
	openKVStore := func(ctx context.Context) (kvstore.Store, func() error, error) {
		s, err := openKV(ctx, targetOptions(d, g, doc, true), configBinding)
		if err != nil {
			return nil, nil, err
		}
		if s.err != nil {
			s.close()
			return nil, nil, s.err
		}
		return s.kv, s.close, nil
	}
	b := monitor.Backends{KV: openKVStore, WorkerURL: workerURL, Now: d.Now}
	stores := map[string]monitor.AlertStore{"KV": monitor.KVAlerts{Open: openKVStore}}
	var closers []func() error
	if len(cf.R2Buckets) > 0 {
		rb := cf.R2Buckets[0]
		bucket, err := openBucket(d, r2BucketRef{Name: rb.Bucket, Binding: rb.Binding, RequesterPays: rb.RequesterPays}, g.target.Remote, "")
		if err == nil {
			b.R2 = monitor.R2Probe(bucket.store)
			stores["R2"] = monitor.R2Alerts{Store: bucket.store}
			if c, ok := bucket.store.(interface{ Close() error }); ok {
				closers = append(closers, c.Close)
			}
		}
	}
	if len(cf.D1Databases) > 0 && !g.target.Remote {
		db, err := sqlite.Open(ctx, sqlite.Options{Dir: filepath.Join(stateDir(d), "d1"), Name: cf.D1Databases[0].Name, Now: d.Now})
		if err == nil {
			b.D1 = d1CacheGauges(d, g, doc, monitor.D1Probe(db, d.Now))
			closers = append(closers, db.Close)
		}
	}
	if g.target.Remote {
		if c, err := cloudflare.New(target.CloudflareOptions(targetOptions(d, g, doc, false))); err == nil {
			b.Token = func(ctx context.Context) error { _, err := c.VerifyToken(ctx); return err }
			if len(cf.D1Databases) > 0 {
				if db, err := c.OpenD1(ctx, cf.D1Databases[0].Name); err == nil {
					b.D1 = d1CacheGauges(d, g, doc, monitor.D1Probe(db, d.Now))
				}
			}
		}
	}
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	return b, stores, closeAll, nil
}

func newMonitor(ctx context.Context, d *deps, g *globalOptions, doc *config.Document, workerURL string, strict bool, onChange func([]monitor.Alert)) (*monitor.Monitor, func(), error) {
	b, stores, closeAll, err := monitorBackends(ctx, d, g, doc, workerURL)
	if err != nil {
		return nil, nil, err
	}
	m, err := monitor.New(monitor.Options{
		Probes: monitor.ProbesFor(&doc.Config, b), Thresholds: doc.Config.Dependencies.Thresholds,
		Alerts: doc.Config.Monitoring.Alerts, Stores: stores, Strict: strict, Now: d.Now, OnChange: onChange,
	})
	if err != nil {
		closeAll()
		return nil, nil, &exitError{code: exitFailed, err: err}
	}
	return m, closeAll, nil
}

func runServe(ctx context.Context, d *deps, g *globalOptions, opts *serveOptions) error {
	doc, err := g.load(d)
	if err != nil {
		return err
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:" + strconv.Itoa(doc.Config.Ports.Dashboard)
	}
	if _, port, err := net.SplitHostPort(listen); err != nil {
		return usageErrorf("--listen %s: %v", listen, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usageErrorf("--listen %s: port %q is not a number from 0 to 65535", listen, port)
	}
	admin, _ := d.LookupEnv(envAdminToken)
	reader, _ := d.LookupEnv(envReadToken)
	if admin == "" && reader == "" && !isLoopbackAddr(listen) {
		return usageErrorf("--listen %s is not loopback: set %s (or %s) to serve beyond this machine", listen, envAdminToken, envReadToken)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("listen on %s: %w", listen, err)}
	}
	addr := ln.Addr().String()
	hosts := append(server.LoopbackHosts(addr), addr)
	hosts = append(hosts, opts.AllowHosts...)
	var srv *server.Server
	var mon *monitor.Monitor
	if !opts.NoMonitor && doc.Config.Dependencies.Enabled {
		m, closeMon, err := newMonitor(ctx, d, g, doc, opts.WorkerURL, false, func(a []monitor.Alert) {
			if srv != nil {
				srv.MonitorChanged(a)
			}
		})
		if err != nil {
			ln.Close()
			return err
		}
		defer closeMon()
		mon = m
	}
	so := server.Options{
		Open: sessionOpener(d, g), OpenLKG: lkgOpener(d, g), Env: g.Env, Monitor: mon,
		AdminToken: admin, ReadToken: reader, Hosts: hosts, Now: d.Now,
		OpenD1: func(ctx context.Context, name string) (d1.DB, error) {
			for _, decl := range doc.Config.Cloudflare.D1Databases {
				if decl.Name == name {
					return openD1Decl(ctx, d, decl, g.target.Remote, false)
				}
			}
			return nil, fmt.Errorf("no D1 database %q in the configuration", name)
		},
	}
	for _, decl := range doc.Config.Cloudflare.D1Databases {
		so.Databases = append(so.Databases, server.Database{Binding: decl.Binding, Name: decl.Name,
			MigrationsDir: migrate.DirFor(g.configPath(d), decl.MigrationsDir)})
	}
	if g.target.Remote {
		if worker := doc.Config.Cloudflare.Worker.Name; worker != "" {
			if c, err := cloudflare.New(target.CloudflareOptions(targetOptions(d, g, doc, false))); err == nil {
				so.Deployments = func(ctx context.Context) (any, error) { return deploy.LiveStatus(ctx, c, worker) }
			}
		}
	}
	buckets, closeBuckets, err := localBucketHandlers(d, g, doc, addr)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeBuckets()
	so.Buckets = buckets
	srv, err = server.New(so)
	if err != nil {
		ln.Close()
		return &exitError{code: exitFailed, err: err}
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	go func() { _ = srv.Run(ctx) }()
	if mon != nil {
		go func() { _ = mon.Run(ctx) }()
	}
	fmt.Fprintf(d.Stdout, "edgeconf: dashboard at http://%s/\n", addr)
	switch {
	case admin == "" && reader == "":
		fmt.Fprintf(d.Stdout, "edgeconf: no %s: loopback only, read-only (changes are off)\n", envAdminToken)
	case admin == "":
		fmt.Fprintf(d.Stdout, "edgeconf: read-only token only: changes are off\n")
	}
	if mon == nil {
		fmt.Fprintln(d.Stdout, "edgeconf: dependency monitor off")
	}
	select {
	case <-ctx.Done():
	case err = <-served:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutdown)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

// d1CacheGauges adds to the D1 probe the totals of the first database's
// query cache (d1 query --cache), read from the namespace that cache uses
// by default: the first of cloudflare.kvNamespaces.
func d1CacheGauges(d *deps, g *globalOptions, doc *config.Document, p monitor.Probe) monitor.Probe {
	cf := doc.Config.Cloudflare.CloudflareSettings
	if len(cf.KVNamespaces) == 0 {
		return p
	}
	binding, key := cf.KVNamespaces[0].Binding, cache.StatsKey(cf.D1Databases[0].Name)
	return monitor.WithGauges(p, func(ctx context.Context) (map[string]float64, error) {
		s, err := openKV(ctx, targetOptions(d, g, doc, false), binding)
		if err != nil {
			return nil, err
		}
		defer s.close()
		if s.err != nil {
			return nil, s.err
		}
		st, err := cache.ReadStats(ctx, s.kv, key)
		if err != nil {
			return nil, err
		}
		return st.Gauges(), nil
	})
}

// localBucketHandlers opens the configuration's R2 buckets in the local
// state folder, so that serve answers their presigned URLs at
// http://ADDR/r2/NAME — where r2 presign points by default when serve
// listens on ports.dashboard. With --remote there are none: R2 answers
// its own presigned URLs.
func localBucketHandlers(d *deps, g *globalOptions, doc *config.Document, addr string) (map[string]http.Handler, func(), error) {
	handlers := map[string]http.Handler{}
	var open []*r2Bucket
	closeAll := func() {
		for _, b := range open {
			_ = b.Close()
		}
	}
	if g.target.Remote {
		return handlers, closeAll, nil
	}
	for _, rb := range doc.Config.Cloudflare.R2Buckets {
		if _, dup := handlers[rb.Bucket]; dup || objstore.CheckBucketName(rb.Bucket) != nil {
			continue // an invalid name is validate's to report
		}
		b, err := openBucket(d, r2BucketRef{Name: rb.Bucket}, false, "http://"+addr+"/r2/"+rb.Bucket)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		open = append(open, b)
		if h, ok := b.store.(interface{ Handler() http.Handler }); ok {
			handlers[rb.Bucket] = h.Handler()
		}
	}
	return handlers, closeAll, nil
}
