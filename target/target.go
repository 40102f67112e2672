// Package target resolves where a command reads and writes: from the
// configuration file's path, the environment, the .env file beside the
// configuration and the --local/--remote choice, it yields the KV store of
// a binding, the Cloudflare credentials and a one-line description of the
// target. It is the one way from configuration to stores: every command of
// cmd/edgeconf goes through it.
//
// Environment: every variable edgeconf reads (Cloudflare and R2
// credentials, EDGECONF_STATE_DIR, the ${VAR}s of the YAML) comes from the
// real environment first and then from the .env beside the configuration.
//
// State: the local state folder is EDGECONF_STATE_DIR when set, else
// .edgeconf/ beside the configuration file, so two projects never share
// overrides.
package target

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/refs"
)

// Environment variables the package reads.
const (
	EnvStateDir = "EDGECONF_STATE_DIR"
	EnvConfig   = "EDGECONF_CONFIG"
)

// ConfigBinding is the KV binding the overrides live in.
const ConfigBinding = "CONFIG"

// MaxDotEnvBytes bounds the .env file read beside the configuration.
const MaxDotEnvBytes = 1 << 20

// DefaultRemoteTimeout bounds a CLI call that reaches Cloudflare: opening
// the store and the calls that follow, retries included.
const DefaultRemoteTimeout = 10 * time.Second

// ErrUsage marks errors that come from what the user asked (missing
// credentials, an unbound namespace): the CLI maps them to exit code 2.
var ErrUsage = errors.New("usage")

// usageErr wraps err so errors.Is(err, ErrUsage) holds and the message is err's.
type usageErr struct{ err error }

func (u usageErr) Error() string      { return u.err.Error() }
func (u usageErr) Unwrap() []error    { return []error{u.err, ErrUsage} }
func usagef(f string, a ...any) error { return usageErr{fmt.Errorf(f, a...)} }
func noEnv(string) (string, bool)     { return "", false }
func orNoEnv(l func(string) (string, bool)) func(string) (string, bool) {
	if l == nil {
		return noEnv
	}
	return l
}

// Env returns a lookup that answers from lookup (the real environment)
// first and then from the .env file beside configPath, when there is one.
// A .env that cannot be read or is larger than MaxDotEnvBytes is an error
// naming the file.
func Env(lookup func(string) (string, bool), configPath string) (func(string) (string, bool), error) {
	lookup = orNoEnv(lookup)
	path := filepath.Join(filepath.Dir(configPath), ".env")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return lookup, nil
	}
	vars, err := config.ReadDotEnv(path, MaxDotEnvBytes, "MaxDotEnvBytes")
	if err != nil {
		return nil, err
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		v, ok := vars[name]
		return v, ok
	}, nil
}

// ConfigPath is flag when set, else EDGECONF_CONFIG, else
// config.DefaultFile in the current directory.
func ConfigPath(flag string, lookup func(string) (string, bool)) string {
	if flag != "" {
		return flag
	}
	if p, ok := orNoEnv(lookup)(EnvConfig); ok && p != "" {
		return p
	}
	return config.DefaultFile
}

// StateDir is EDGECONF_STATE_DIR when set, else .edgeconf beside the
// configuration file.
func StateDir(lookup func(string) (string, bool), configPath string) string {
	if dir, ok := orNoEnv(lookup)(EnvStateDir); ok && dir != "" {
		return dir
	}
	return filepath.Join(filepath.Dir(configPath), local.DefaultDir)
}

// Options says which target to resolve. ConfigPath and LookupEnv are
// required; LookupEnv should already include the .env (see Env).
type Options struct {
	ConfigPath string
	LookupEnv  func(string) (string, bool)
	Doc        *config.Document // optional: declares the namespaces' ids and titles
	Env        string           // the --env environment, for the last-known-good file name
	Remote     bool             // Cloudflare instead of the local state folder
	Write      bool             // the command writes: the local folder is created

	// Tolerate turns a store that cannot be opened into a KV whose every
	// call fails with the reason (KV.Err set), so a reader such as validate
	// can fall back to its last-known-good copy and still report. Usage
	// errors (missing credentials, an unbound namespace) are never tolerated.
	Tolerate bool

	Now         func() time.Time       // optional; nil means time.Now
	LockTimeout time.Duration          // optional; see local.Options
	Logger      *slog.Logger           // optional; nil discards
	HTTPClient  *http.Client           // optional; for tests
	Retry       cloudflare.RetryPolicy // optional; zero fields take the defaults
	Timeout     time.Duration          // optional; bounds each Cloudflare call (cloudflare.Options.Timeout)
	Clock       cloudflare.Clock       // optional; nil means the real clock
}

// KV is a resolved KV store.
type KV struct {
	Store       kvstore.Store
	Description string // one line: "local state DIR (namespace CONFIG)", "Cloudflare account ... namespace ..."
	StateDir    string // the local state folder (remote targets keep their last-known-good copy there)
	LKGPath     string // where the last-known-good overrides are kept; "" for none
	Remote      bool
	Err         error // with Options.Tolerate: why the store could not be opened
	close       func() error
}

// Close releases the store.
func (k *KV) Close() error {
	if k.close == nil {
		return nil
	}
	return k.close()
}

// Credentials reads the Cloudflare credentials with lookup.
func Credentials(lookup func(string) (string, bool)) cloudflare.Credentials {
	return cloudflare.CredentialsFromEnv(orNoEnv(lookup))
}

// OpenKV opens the namespace bound as binding: the local state folder's
// namespace of that name, or with Options.Remote the Cloudflare namespace
// the configuration binds (its id, else KV_NAMESPACE_ID for CONFIG, else
// its title looked up by name). A local folder that does not exist yet is,
// for a reader, an empty in-memory store, so reading leaves nothing behind.
func OpenKV(ctx context.Context, opts Options, binding string) (*KV, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.LookupEnv = orNoEnv(opts.LookupEnv)
	dir := StateDir(opts.LookupEnv, opts.ConfigPath)
	var (
		k   *KV
		err error
	)
	if opts.Remote {
		k, err = openRemote(ctx, opts, binding)
	} else {
		k, err = openLocal(opts, dir, binding)
	}
	if err != nil {
		if !opts.Tolerate || errors.Is(err, ErrUsage) {
			return nil, err
		}
		k = &KV{Store: unavailable{notAvailable{err}}, Description: describeFailed(opts, dir, binding), Remote: opts.Remote, Err: err}
	}
	k.StateDir = dir
	if binding == ConfigBinding && (k.Remote || k.Err != nil || k.close != nil) {
		k.LKGPath = lkgPath(dir, opts.Remote, opts.Env)
	}
	return k, nil
}

// lkgPath names the last-known-good file of a target; remote targets keep
// theirs apart from the local one. The base environment keeps the names
// earlier versions used.
func lkgPath(dir string, remote bool, env string) string {
	name := "lkg"
	if remote {
		name += "-remote"
	}
	if env != "" {
		name += "-" + sanitize(env)
	}
	return filepath.Join(dir, name+".json")
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

func describeFailed(opts Options, dir, binding string) string {
	if opts.Remote {
		return fmt.Sprintf("Cloudflare namespace bound as %s (unavailable)", binding)
	}
	return fmt.Sprintf("local state %s (namespace %s, unavailable)", dir, binding)
}

func openLocal(opts Options, dir, binding string) (*KV, error) {
	if !opts.Write {
		if _, err := os.Stat(filepath.Join(dir, local.DBFile)); errors.Is(err, fs.ErrNotExist) {
			desc := fmt.Sprintf("local state %s (namespace %s, empty: nothing written yet)", dir, binding)
			return &KV{Store: namedMemory{kvstore.NewMemory(opts.Now), desc}, Description: desc}, nil
		}
	}
	s, err := local.Open(local.Options{Dir: dir, Now: opts.Now, ReadOnly: !opts.Write, LockTimeout: opts.LockTimeout, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	kv := s.KV(binding)
	return &KV{Store: kv, Description: kv.Target(), close: s.Close}, nil
}

func openRemote(ctx context.Context, opts Options, binding string) (*KV, error) {
	creds := Credentials(opts.LookupEnv)
	if err := creds.MissingError(); err != nil {
		return nil, usageErr{err}
	}
	var id, title string
	if opts.Doc != nil {
		for _, ns := range opts.Doc.Config.Cloudflare.KVNamespaces {
			if ns.Binding == binding {
				id, title = ns.ID, ns.Title
			}
		}
	}
	if id == "" && binding == ConfigBinding {
		id = creds.NamespaceID
	}
	if id == "" && title == "" {
		return nil, usagef("no KV namespace is bound as %s: declare it under cloudflare.kvNamespaces (id or title) or set %s", binding, cloudflare.EnvNamespaceID)
	}
	kv, err := cloudflare.NewKV(ctx, cloudflare.KVOptions{Options: CloudflareOptions(opts), NamespaceID: id, Title: title})
	var apiErr *cloudflare.APIError
	if errors.As(err, &apiErr) && (apiErr.Status == 401 || apiErr.Status == 403) {
		err = fmt.Errorf("the API token (%s) was refused for account %s: %w", cloudflare.EnvAPIToken, creds.AccountID, err)
	}
	if err != nil {
		return nil, err
	}
	return &KV{Store: kv, Description: kv.Target(), Remote: true}, nil
}

// CloudflareOptions are the client options of a remote target: the
// credentials of opts.LookupEnv plus its logger, retry policy, clock and
// HTTP client.
func CloudflareOptions(opts Options) cloudflare.Options {
	o := Credentials(opts.LookupEnv).Options()
	o.Logger = opts.Logger
	o.Retry = opts.Retry
	o.Timeout = opts.Timeout
	o.Clock = opts.Clock
	if opts.HTTPClient != nil {
		o.HTTPClient = opts.HTTPClient
	}
	return o
}

// namedMemory is the empty stand-in for a state folder that does not
// exist yet, named after that folder.
type namedMemory struct {
	*kvstore.Memory
	name string
}

func (n namedMemory) Target() string { return n.name }

// notAvailable is the reason a store could not be opened; it also
// matches refs.ErrNotAvailable, so a reference into that store is reported
// as not checked rather than broken.
type notAvailable struct{ err error }

func (n notAvailable) Error() string   { return n.err.Error() }
func (n notAvailable) Unwrap() []error { return []error{n.err, refs.ErrNotAvailable} }

// unavailable is a store that could not be opened: every call fails with
// the reason.
type unavailable struct{ err error }

func (u unavailable) Get(context.Context, string) (kvstore.Entry, error) {
	return kvstore.Entry{}, u.err
}
func (u unavailable) Put(context.Context, string, []byte, kvstore.PutOptions) error {
	return u.err
}
func (u unavailable) Delete(context.Context, string) error { return u.err }
func (u unavailable) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, u.err
}

// Unavailable is a KV store whose every call fails with err: readers of
// overrides built on it fall back to the last-known-good copy.
func Unavailable(err error) kvstore.Store { return unavailable{err} }

// LKGPath is where the last-known-good copy of opts's overrides is kept.
func LKGPath(opts Options) string {
	return lkgPath(StateDir(orNoEnv(opts.LookupEnv), opts.ConfigPath), opts.Remote, opts.Env)
}
