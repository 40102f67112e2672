package target

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/refs"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestEnvReadsDotEnvRealEnvWins(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cloudflare-config.yaml")
	writeFile(t, filepath.Join(dir, ".env"), "CLOUDFLARE_API_TOKEN=from-dotenv\nCLOUDFLARE_ACCOUNT_ID=acct-dotenv\n")
	lookup, err := Env(envOf(map[string]string{"CLOUDFLARE_ACCOUNT_ID": "acct-real"}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, want string }{
		{"CLOUDFLARE_API_TOKEN", "from-dotenv"},
		{"CLOUDFLARE_ACCOUNT_ID", "acct-real"},
	}
	for _, tt := range tests {
		if got, ok := lookup(tt.name); !ok || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := lookup("UNSET"); ok {
		t.Error("UNSET is set")
	}
	creds := Credentials(lookup)
	if creds.Token != "from-dotenv" || creds.AccountID != "acct-real" {
		t.Errorf("credentials = %v", creds)
	}
	// The state folder can be set in .env too.
	writeFile(t, filepath.Join(dir, ".env"), "EDGECONF_STATE_DIR=/from/dotenv\n")
	if lookup, err = Env(nil, cfg); err != nil || StateDir(lookup, cfg) != "/from/dotenv" {
		t.Errorf("EDGECONF_STATE_DIR from .env: %v %q", err, StateDir(lookup, cfg))
	}
}

func TestEnvWithoutDotEnv(t *testing.T) {
	lookup, err := Env(nil, filepath.Join(t.TempDir(), "c.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lookup("HOME"); ok {
		t.Error("a nil lookup reads the process environment")
	}
}

func TestEnvBadDotEnv(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big", "c.yaml")
	writeFile(t, filepath.Join(dir, "big", ".env"), strings.Repeat("#", MaxDotEnvBytes+1))
	if _, err := Env(nil, big); err == nil || !strings.Contains(err.Error(), "MaxDotEnvBytes") {
		t.Errorf("oversized .env: err = %v", err)
	}
	// A malformed line is located, its text (a secret) never shown.
	writeFile(t, filepath.Join(dir, "bad", ".env"), "A=1\nTOKEN='s3cr3t-value\n")
	if _, err := Env(nil, filepath.Join(dir, "bad", "c.yaml")); err == nil || strings.Contains(err.Error(), "s3cr3t") || !strings.Contains(err.Error(), ".env") {
		t.Errorf("malformed .env: err = %v", err)
	}
	// A directory named .env cannot be read.
	if err := os.MkdirAll(filepath.Join(dir, "d", ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Env(nil, filepath.Join(dir, "d", "c.yaml")); err == nil || !strings.Contains(err.Error(), ".env") {
		t.Errorf(".env directory: err = %v", err)
	}
}

func TestConfigPathAndStateDir(t *testing.T) {
	if got := ConfigPath("x.yaml", envOf(map[string]string{EnvConfig: "y.yaml"})); got != "x.yaml" {
		t.Errorf("flag: %q", got)
	}
	if got := ConfigPath("", envOf(map[string]string{EnvConfig: "y.yaml"})); got != "y.yaml" {
		t.Errorf("env: %q", got)
	}
	if got := ConfigPath("", nil); got != config.DefaultFile {
		t.Errorf("default: %q", got)
	}
	if got := StateDir(nil, filepath.Join("a", "b", "c.yaml")); got != filepath.Join("a", "b", ".edgeconf") {
		t.Errorf("beside the config: %q", got)
	}
	if got := StateDir(envOf(map[string]string{EnvStateDir: "/s"}), "a/c.yaml"); got != "/s" {
		t.Errorf("EDGECONF_STATE_DIR: %q", got)
	}
}

// Two configurations in two folders keep separate overrides.
func TestLocalTwoProjectsSeparate(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	a := Options{ConfigPath: filepath.Join(root, "a", "c.yaml"), Write: true, Now: func() time.Time { return testNow }}
	b := Options{ConfigPath: filepath.Join(root, "b", "c.yaml"), Write: true}
	ka, err := OpenKV(ctx, a, ConfigBinding)
	if err != nil {
		t.Fatal(err)
	}
	if err := ka.Store.Put(ctx, "k", []byte("a"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ka.Description, filepath.Join(root, "a", ".edgeconf")) || ka.LKGPath != filepath.Join(root, "a", ".edgeconf", "lkg.json") {
		t.Errorf("a: %q, lkg %q", ka.Description, ka.LKGPath)
	}
	if err := ka.Close(); err != nil {
		t.Fatal(err)
	}
	kb, err := OpenKV(ctx, b, ConfigBinding)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	if _, err := kb.Store.Get(ctx, "k"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("b sees a's key: %v", err)
	}
}

func TestLocalReadOnlyNothingWritten(t *testing.T) {
	dir := t.TempDir()
	k, err := OpenKV(context.Background(), Options{ConfigPath: filepath.Join(dir, "c.yaml"), Env: "staging"}, ConfigBinding)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if !strings.Contains(k.Description, "nothing written yet") || k.LKGPath != "" {
		t.Errorf("description %q, lkg %q", k.Description, k.LKGPath)
	}
	if n, ok := k.Store.(kvstore.Namer); !ok || n.Target() != k.Description {
		t.Error("the empty store is not named after the folder")
	}
	if _, err := os.Stat(filepath.Join(dir, ".edgeconf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reading created the state folder: %v", err)
	}
}

func TestLocalLockedTolerated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	held, err := local.Open(local.Options{Dir: StateDir(nil, cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	opts := Options{ConfigPath: cfg, LockTimeout: time.Millisecond, Env: "prod/x"}
	if _, err := OpenKV(ctx, opts, ConfigBinding); !errors.Is(err, local.ErrLocked) {
		t.Fatalf("not tolerated: err = %v", err)
	}
	opts.Tolerate = true
	k, err := OpenKV(ctx, opts, ConfigBinding)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(k.Err, local.ErrLocked) || !strings.Contains(k.Description, "unavailable") {
		t.Errorf("err %v, description %q", k.Err, k.Description)
	}
	if k.LKGPath != filepath.Join(dir, ".edgeconf", "lkg-prod_x.json") {
		t.Errorf("lkg %q", k.LKGPath)
	}
	for name, call := range map[string]func() error{
		"get":    func() error { _, err := k.Store.Get(ctx, "k"); return err },
		"put":    func() error { return k.Store.Put(ctx, "k", nil, kvstore.PutOptions{}) },
		"delete": func() error { return k.Store.Delete(ctx, "k") },
		"list":   func() error { _, err := k.Store.List(ctx, kvstore.ListOptions{}); return err },
	} {
		if err := call(); !errors.Is(err, local.ErrLocked) || !errors.Is(err, refs.ErrNotAvailable) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := k.Close(); err != nil {
		t.Error(err)
	}
}

func TestRemote(t *testing.T) {
	const token = "target-canary-token-91c3"
	emu, err := cfemu.New(cfemu.Options{Token: token, Clock: func() time.Time { return testNow }, KeyWriteInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	// The credentials come from the .env beside the configuration only.
	writeFile(t, filepath.Join(dir, ".env"), "CLOUDFLARE_API_BASE_URL="+srv.URL+"/client/v4\nCLOUDFLARE_API_TOKEN="+token+"\nCLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef\n")
	lookup, err := Env(nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	client, err := cloudflare.New(Credentials(lookup).Options())
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := client.EnsureNamespace(ctx, "quantum-config")
	if err != nil {
		t.Fatal(err)
	}
	doc := &config.Document{}
	doc.Config.Cloudflare.KVNamespaces = []config.KVNamespace{{Binding: "CONFIG", Title: "quantum-config"}, {Binding: "CACHE", ID: ns.ID}}
	for _, binding := range []string{"CONFIG", "CACHE"} {
		k, err := OpenKV(ctx, Options{ConfigPath: cfg, LookupEnv: lookup, Doc: doc, Remote: true, Retry: cloudflare.RetryPolicy{MaxAttempts: 1}}, binding)
		if err != nil {
			t.Fatalf("%s: %v", binding, err)
		}
		if !k.Remote || !strings.Contains(k.Description, ns.ID) || strings.Contains(k.Description, token) {
			t.Errorf("%s: description %q", binding, k.Description)
		}
		if err := k.Store.Put(ctx, "k", []byte(binding), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if binding == "CONFIG" && k.LKGPath != filepath.Join(dir, ".edgeconf", "lkg-remote.json") {
			t.Errorf("lkg %q", k.LKGPath)
		}
		k.Close()
	}

	// Usage errors are never tolerated.
	for name, tc := range map[string]struct {
		env     map[string]string
		binding string
		want    string
	}{
		"no credentials": {map[string]string{}, "CONFIG", "CLOUDFLARE_API_TOKEN"},
		"unbound":        {map[string]string{"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": "a"}, "OTHER", "no KV namespace is bound as OTHER"},
	} {
		_, err := OpenKV(ctx, Options{ConfigPath: cfg, LookupEnv: envOf(tc.env), Remote: true, Tolerate: true}, tc.binding)
		if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A refused token names the variable and not the token.
	bad := envOf(map[string]string{"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4", "CLOUDFLARE_API_TOKEN": "wrong-secret-4411", "CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef", "KV_NAMESPACE_ID": ns.ID})
	_, err = OpenKV(ctx, Options{ConfigPath: cfg, LookupEnv: bad, Remote: true, Retry: cloudflare.RetryPolicy{MaxAttempts: 1}}, ConfigBinding)
	if err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") || strings.Contains(err.Error(), "wrong-secret-4411") {
		t.Errorf("bad token: %v", err)
	}
	// A missing namespace is tolerated for readers.
	missing := envOf(map[string]string{"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4", "CLOUDFLARE_API_TOKEN": token, "CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef"})
	doc.Config.Cloudflare.KVNamespaces = []config.KVNamespace{{Binding: "CONFIG", Title: "no-such-namespace"}}
	k, err := OpenKV(ctx, Options{ConfigPath: cfg, LookupEnv: missing, Doc: doc, Remote: true, Tolerate: true, Retry: cloudflare.RetryPolicy{MaxAttempts: 1}}, ConfigBinding)
	if err != nil || k.Err == nil || !strings.Contains(k.Description, "unavailable") {
		t.Fatalf("missing namespace: %v, %+v", err, k)
	}
}
