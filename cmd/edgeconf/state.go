package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/pflag"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/refs"
	"github.com/factory-wager/edgeconf/target"
)

// configBinding is the KV binding overrides live in.
const configBinding = target.ConfigBinding

// stateDir is the state folder the target package resolved for this run
// (EDGECONF_STATE_DIR, else .edgeconf beside the configuration).
func stateDir(d *deps) string {
	if d.stateDir != "" {
		return d.stateDir
	}
	return target.StateDir(d.LookupEnv, config.DefaultFile)
}

// store is an open KV namespace and how to release it.
type store struct {
	kv      kvstore.Store
	target  string
	close   func() error
	lkgPath string
	err     error // the store could not be opened (tolerated readers only)
}

// targetFlags is the one definition of --local/--remote and the flags
// that go with a store: every command that reads one adds them with add.
type targetFlags struct {
	Local, Remote bool
	Timeout       time.Duration
	Quiet         bool
}

func (t *targetFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&t.Local, "local", false, "use the local state folder ($EDGECONF_STATE_DIR, else .edgeconf beside the configuration); the default")
	fs.BoolVar(&t.Remote, "remote", false, "use Cloudflare: needs CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (environment or .env; CLOUDFLARE_API_BASE_URL points at an emulator)")
	fs.DurationVar(&t.Timeout, "timeout", target.DefaultRemoteTimeout, "with --remote: give up on Cloudflare after this long, retries included")
	fs.BoolVarP(&t.Quiet, "quiet", "q", false, "do not print the target and retry progress on stderr")
}

// addRemoteOnly adds the flags of a command that always works on
// Cloudflare (deploy's rollback, versions, deployments): --timeout and -q.
func (t *targetFlags) addRemoteOnly(fs *pflag.FlagSet) {
	fs.DurationVar(&t.Timeout, "timeout", target.DefaultRemoteTimeout, "give up on Cloudflare after this long, retries included")
	fs.BoolVarP(&t.Quiet, "quiet", "q", false, "do not print the target and retry progress on stderr")
}

func (t *targetFlags) check() error {
	if t.Local && t.Remote {
		return usageErrorf("give --local or --remote, not both")
	}
	if t.Timeout <= 0 {
		return usageErrorf("--timeout must be positive, not %s", t.Timeout)
	}
	return nil
}

// context bounds a command's calls, made under ctx (the command's, which
// Ctrl-C cancels): with --remote also by --timeout.
func (t *targetFlags) context(ctx context.Context) (context.Context, context.CancelFunc) {
	if !t.Remote {
		return context.WithCancel(ctx)
	}
	// The cause names the bound in the error of the call it ends.
	return context.WithTimeoutCause(ctx, t.Timeout, &cloudflare.TimeoutError{Timeout: t.Timeout})
}

// targetOptions are the target package's options for this command line.
func targetOptions(d *deps, g *globalOptions, doc *config.Document, write bool) target.Options {
	return target.Options{
		ConfigPath: g.configPath(d),
		LookupEnv:  d.LookupEnv,
		Doc:        doc,
		Env:        g.Env,
		Remote:     g.target.Remote,
		Write:      write,
		Now:        d.Now,
		Retry:      cloudflare.RetryPolicy{OnRetry: retryProgress(d, g)},
		Timeout:    g.target.Timeout,
		Clock:      d.cfClock,
	}
}

// retryProgress prints each retry of a Cloudflare call on stderr.
func retryProgress(d *deps, g *globalOptions) func(int, time.Duration, error) {
	return func(attempt int, wait time.Duration, reason error) {
		if !g.target.Quiet {
			fmt.Fprintf(d.Stderr, "edgeconf: attempt %d failed (%v); retrying in %s (gives up after --timeout %s)\n",
				attempt, reason, wait.Round(time.Millisecond), g.target.Timeout)
		}
	}
}

// openKV opens binding's namespace through the target package.
func openKV(ctx context.Context, opts target.Options, binding string) (*store, error) {
	k, err := target.OpenKV(ctx, opts, binding)
	switch {
	case errors.Is(err, target.ErrUsage):
		return nil, &exitError{code: exitUsage, err: err}
	case err != nil:
		return nil, &exitError{code: exitFailed, err: err}
	}
	return &store{kv: k.Store, target: k.Description, close: k.Close, lkgPath: k.LKGPath, err: k.Err}, nil
}

// who is --by, else $USER, else the OS user name.
func who(d *deps, by string) string {
	if by != "" {
		return by
	}
	if u, ok := d.LookupEnv("USER"); ok && u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// session is a loaded configuration with its override manager.
type session struct {
	doc    *config.Document
	store  *store
	mgr    *overrides.Manager
	ctx    context.Context
	cancel context.CancelFunc
}

// openSession loads the configuration and the overrides store: the local
// state folder, or with remote the environment's CONFIG namespace on
// Cloudflare. With tolerate a store that cannot be opened is still a
// session (its calls fail, so Resolve falls back to the last-known-good
// copy).
func openSession(ctx context.Context, d *deps, g *globalOptions, write bool, by string, tolerate bool) (*session, error) {
	if err := g.target.check(); err != nil {
		return nil, err
	}
	doc, err := g.load(d)
	if err != nil {
		return nil, err
	}
	ctx, cancel := g.target.context(ctx)
	topts := targetOptions(d, g, doc, write)
	topts.Tolerate = tolerate
	st, err := openKV(ctx, topts, configBinding)
	if err != nil {
		cancel()
		return nil, err
	}
	if st.lkgPath != "" && g.target.Remote {
		_ = os.MkdirAll(stateDir(d), 0o700) // the remote store's copy is kept locally
	}
	opts := overrides.Options{Store: st.kv, Doc: doc, Env: g.Env, By: who(d, by), Now: d.Now, LKGPath: st.lkgPath}
	// r2:// references resolve through the configuration's buckets, where
	// they exist: a local folder that was never written is not created.
	r2Fetcher, closeR2, err := openR2Fetcher(d, doc, g.target.Remote)
	if err != nil {
		st.close()
		cancel()
		return nil, err
	}
	kv := st.kv
	opts.Resolver = &refs.Resolver{
		KV:       func(b string) (kvstore.Store, bool) { return kv, b == configBinding },
		R2:       r2Fetcher,
		D1:       d1RefFetcher(d, doc, g.target.Remote),
		CacheTTL: overrides.DefaultRefCacheTTL,
		Now:      d.Now,
	}
	closeStore := st.close
	st.close = func() error { cancel(); return errors.Join(closeR2(), closeStore()) }
	return &session{doc: doc, store: st, mgr: overrides.New(opts), ctx: ctx, cancel: cancel}, nil
}

func (s *session) Close() error { return s.store.close() }

// snapshot resolves the effective configuration, saying on stderr when
// it had to fall back to the last-known-good copy.
func (s *session) snapshot(d *deps) (*overrides.Snapshot, error) {
	snap, err := s.mgr.Resolve(s.ctx)
	if err != nil {
		return nil, err
	}
	if snap.Source == overrides.SourceLKG {
		fmt.Fprintf(d.Stderr, "edgeconf: %s could not be read (%v); using the last-known-good overrides saved %s ago\n",
			s.store.target, snap.StoreErr, snap.Age(d.Now()).Round(time.Second))
	}
	return snap, nil
}

// printTarget says which store a command used, on stderr (--quiet
// silences it).
func printTarget(d *deps, g *globalOptions, target string) {
	if !g.target.Quiet {
		fmt.Fprintf(d.Stderr, "edgeconf: using %s\n", target)
	}
}
