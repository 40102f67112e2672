package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startEmulate runs `edgeconf emulate` in-process until the test ends and
// returns its base URL.
func startEmulate(t *testing.T, opts *emulateOptions, stdout, stderr *lockedBuffer) (string, func() error) {
	t.Helper()
	d := &deps{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, LookupEnv: func(string) (string, bool) { return "", false }, Now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runEmulate(ctx, d, opts, func(addr string) { ready <- addr }) }()
	select {
	case addr := <-ready:
		stop := func() error { cancel(); return <-done }
		return "http://" + addr + "/client/v4", stop
	case err := <-done:
		cancel()
		t.Fatalf("emulate did not start: %v", err)
	}
	return "", nil
}

func TestEmulate_ServesAndKeepsState(t *testing.T) {
	const token = "emulate-test-token-CANARY"
	const account = "0123456789abcdef0123456789abcdef"
	dir := filepath.Join(t.TempDir(), "state")
	var stdout, stderr lockedBuffer
	opts := &emulateOptions{Listen: "127.0.0.1:0", StateDir: dir, Token: token, RateLimit: 1200, Zones: []string{"factory-wager.com"}, AccountID: account, Propagation: time.Millisecond, Latency: time.Microsecond, FailRate: 0.01, Verbose: true}
	base, stop := startEmulate(t, opts, &stdout, &stderr)
	out := stdout.String()
	for _, want := range []string{"serving the Cloudflare API emulator at " + base, "state: " + dir, "auth: only the --token value", "export CLOUDFLARE_API_BASE_URL=" + base, "fail rate 0.01", "latency 1µs", "KV propagation 1ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	ctx := context.Background()
	c, err := cloudflare.New(cloudflare.Options{BaseURL: base, Token: token, AccountID: account, Retry: cloudflare.RetryPolicy{BaseDelay: time.Millisecond, MaxAttempts: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyToken(ctx); err != nil {
		t.Fatal(err)
	}
	ns, _, err := c.EnsureNamespace(ctx, "quantum-config")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.KVNamespace(ns).Put(ctx, "k", []byte("kept"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "stopped; state saved in "+dir) {
		t.Errorf("no goodbye:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "cfemu") {
		t.Errorf("--verbose logged no request:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), token) {
		t.Error("the token was printed")
	}

	// A second run serves the saved state.
	stdout, stderr = lockedBuffer{}, lockedBuffer{}
	base, stop = startEmulate(t, &emulateOptions{Listen: "127.0.0.1:0", StateDir: dir, RateLimit: -1}, &stdout, &stderr)
	defer stop()
	if !strings.Contains(stdout.String(), "any Bearer token") || !strings.Contains(stdout.String(), "no rate limit") {
		t.Errorf("second run output:\n%s", stdout.String())
	}
	c, _ = cloudflare.New(cloudflare.Options{BaseURL: base, Token: "any-other-token", AccountID: account})
	e, err := c.KV(ns.ID).Get(ctx, "k")
	if err != nil || string(e.Value) != "kept" {
		t.Errorf("after restart: %q, %v", e.Value, err)
	}
}

func TestEmulate_InMemory(t *testing.T) {
	var stdout, stderr lockedBuffer
	_, stop := startEmulate(t, &emulateOptions{Listen: "127.0.0.1:0", RateLimit: 1200}, &stdout, &stderr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "accepts ANY Bearer token") {
		t.Errorf("no warning that any token is accepted on stderr:\n%s", stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "state: in memory") || !strings.HasSuffix(out, "cfemu: stopped\n") || strings.Contains(out, "faults:") {
		t.Errorf("output:\n%s", out)
	}
}

func TestEmulate_Errors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fail rate above 1", []string{"emulate", "--fail-rate", "1.5"}, exitUsage, "--fail-rate 1.5 is outside 0..1"},
		{"fail rate NaN", []string{"emulate", "--fail-rate", "NaN"}, exitUsage, "--fail-rate NaN is outside 0..1"},
		{"negative latency", []string{"emulate", "--latency", "-1s"}, exitUsage, "cannot be negative"},
		{"bad duration", []string{"emulate", "--propagation", "soon"}, exitUsage, "invalid argument"},
		{"extra argument", []string{"emulate", "now"}, exitUsage, "unknown command"},
		{"bad listen address", []string{"emulate", "--listen", "256.0.0.1:99999"}, exitFailed, "emulate:"},
		{"bad zone", []string{"emulate", "--listen", "127.0.0.1:0", "--zone", "not a zone"}, exitFailed, "invalid zone name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d; output:\n%s%s", code, tc.code, out, errOut)
			}
		})
	}
	// A port already in use.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if code, _, errOut := runCLI(t, nil, "emulate", "--listen", ln.Addr().String()); code != exitFailed || !strings.Contains(errOut, "address already in use") {
		t.Errorf("busy port: exit %d: %s", code, errOut)
	}
	// A state folder that cannot be read.
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if code, _, errOut := runCLI(t, nil, "emulate", "--listen", "127.0.0.1:0", "--state", filepath.Join(file, "sub")); code != exitFailed || !strings.Contains(errOut, "state") {
		t.Errorf("bad state folder: exit %d: %s", code, errOut)
	}
}
