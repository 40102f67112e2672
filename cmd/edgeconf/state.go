package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
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
			return &store{
				kv:     kvstore.NewMemory(d.Now),
				target: fmt.Sprintf("local state %s (namespace %s, empty: nothing written yet)", dir, ns),
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

// openSession loads the configuration and the overrides store.
func openSession(d *deps, g *globalOptions, write bool, by string) (*session, error) {
	doc, err := g.load(d)
	if err != nil {
		return nil, err
	}
	st, err := openLocal(d, configBinding, write)
	if err != nil {
		return nil, err
	}
	opts := overrides.Options{Store: st.kv, Doc: doc, Env: g.Env, By: who(d, by), Now: d.Now}
	if st.state != nil {
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
