package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/refs"
)

// configBinding is the KV binding overrides live in.
const configBinding = "CONFIG"

// stateDir is EDGECONF_STATE_DIR, else ./.edgeconf.
func stateDir(d *deps) string {
	if dir, ok := d.LookupEnv("EDGECONF_STATE_DIR"); ok && dir != "" {
		return dir
	}
	return local.DefaultDir
}

// store is an open KV namespace and how to release it.
type store struct {
	kv     kvstore.Store
	target string
	close  func() error
	state  *local.State // nil when nothing is on disk yet
}

// openLocal opens the CONFIG-like namespace ns of the local state folder.
// For reading (write false) a folder that does not exist yet is an empty
// in-memory store, so read-only commands leave nothing behind.
func openLocal(d *deps, ns string, write bool) (*store, error) {
	dir := stateDir(d)
	if !write {
		if _, err := os.Stat(filepath.Join(dir, local.DBFile)); errors.Is(err, fs.ErrNotExist) {
			target := fmt.Sprintf("local state %s (namespace %s, empty: nothing written yet)", dir, ns)
			return &store{
				kv:     namedMemory{kvstore.NewMemory(d.Now), target},
				target: target,
				close:  func() error { return nil },
			}, nil
		}
	}
	s, err := local.Open(local.Options{Dir: dir, Now: d.Now, ReadOnly: !write})
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	kv := s.KV(ns)
	return &store{kv: kv, target: kv.Target(), close: s.Close, state: s}, nil
}

// targetFlags chooses the store: the local state folder or Cloudflare.
type targetFlags struct {
	Local, Remote bool
}

func (t *targetFlags) add(fs *pflag.FlagSet) {
	fs.BoolVar(&t.Local, "local", false, "use the local state folder ($EDGECONF_STATE_DIR, else ./.edgeconf); the default")
	fs.BoolVar(&t.Remote, "remote", false, "use Cloudflare: needs CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (CLOUDFLARE_API_BASE_URL points at an emulator)")
}

func (t *targetFlags) check() error {
	if t.Local && t.Remote {
		return usageErrorf("give --local or --remote, not both")
	}
	return nil
}

// openRemote opens the KV namespace bound as binding in the configuration
// (doc may be nil) on Cloudflare. The namespace is the binding's id, else
// KV_NAMESPACE_ID for CONFIG, else the binding's title looked up by name.
func openRemote(ctx context.Context, d *deps, doc *config.Document, binding string) (*store, error) {
	creds := cloudflare.CredentialsFromEnv(d.LookupEnv)
	if err := creds.MissingError(); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	var id, title string
	if doc != nil {
		for _, ns := range doc.Config.Cloudflare.KVNamespaces {
			if ns.Binding == binding {
				id, title = ns.ID, ns.Title
			}
		}
	}
	if id == "" && binding == configBinding {
		id = creds.NamespaceID
	}
	if id == "" && title == "" {
		return nil, usageErrorf("no KV namespace is bound as %s: declare it under cloudflare.kvNamespaces (id or title) or set %s", binding, cloudflare.EnvNamespaceID)
	}
	kv, err := cloudflare.NewKV(ctx, cloudflare.KVOptions{Options: creds.Options(), NamespaceID: id, Title: title})
	var apiErr *cloudflare.APIError
	if errors.As(err, &apiErr) && (apiErr.Status == 401 || apiErr.Status == 403) {
		err = fmt.Errorf("the API token (%s) was refused for account %s: %w", cloudflare.EnvAPIToken, creds.AccountID, err)
	}
	if err != nil {
		return nil, &exitError{code: exitFailed, err: err}
	}
	return &store{kv: kv, target: kv.Target(), close: func() error { return nil }}, nil
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
	doc   *config.Document
	store *store
	mgr   *overrides.Manager
}

// openSession loads the configuration and the overrides store: the local
// state folder, or with remote the environment's CONFIG namespace on
// Cloudflare.
func openSession(d *deps, g *globalOptions, write bool, by string) (*session, error) {
	if err := g.target.check(); err != nil {
		return nil, err
	}
	doc, err := g.load(d)
	if err != nil {
		return nil, err
	}
	var st *store
	if g.target.Remote {
		st, err = openRemote(context.Background(), d, doc, configBinding)
	} else {
		st, err = openLocal(d, configBinding, write)
	}
	if err != nil {
		return nil, err
	}
	opts := overrides.Options{Store: st.kv, Doc: doc, Env: g.Env, By: who(d, by), Now: d.Now}
	// r2:// references resolve through the configuration's buckets, where
	// they exist: a local folder that was never written is not created.
	r2Fetcher, closeR2, err := openR2Fetcher(d, doc, g.target.Remote)
	if err != nil {
		st.close()
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
	st.close = func() error { return errors.Join(closeR2(), closeStore()) }
	switch {
	case g.target.Remote:
		// The remote store is the one that can fail: keep its copy locally.
		if err := os.MkdirAll(stateDir(d), 0o700); err == nil {
			opts.LKGPath = filepath.Join(stateDir(d), "lkg-remote.json")
		}
	case st.state != nil:
		// Only a real state folder keeps a last-known-good copy.
		opts.LKGPath = filepath.Join(stateDir(d), "lkg.json")
	}
	return &session{doc: doc, store: st, mgr: overrides.New(opts)}, nil
}

func (s *session) Close() error { return s.store.close() }

// snapshot resolves the effective configuration, saying on stderr when
// it had to fall back to the last-known-good copy.
func (s *session) snapshot(ctx context.Context, d *deps) (*overrides.Snapshot, error) {
	snap, err := s.mgr.Resolve(ctx)
	if err != nil {
		return nil, err
	}
	if snap.Source == overrides.SourceLKG {
		fmt.Fprintf(d.Stderr, "edgeconf: %s could not be read (%v); using the last-known-good overrides saved %s ago\n",
			s.store.target, snap.StoreErr, snap.Age(d.Now()).Round(1e9))
	}
	return snap, nil
}

// printTarget says which store a command used, on stderr.
func printTarget(d *deps, target string) {
	fmt.Fprintf(d.Stderr, "edgeconf: using %s\n", target)
}

// namedMemory is the empty stand-in for a state folder that does not exist
// yet, named after that folder in messages.
type namedMemory struct {
	*kvstore.Memory
	name string
}

func (n namedMemory) Target() string { return n.name }
