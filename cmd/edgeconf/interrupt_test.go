package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterrupt_CancelsRemoteCalls: Ctrl-C stops a command whose remote
// call hangs on a server that never answers. The command runs in a child
// process (main's signal handling included) with --timeout 1h, so only the
// signal can end the call: a command that ignored it would hang the test.
// It exits 1 at once, saying it was stopped and what was cut short.
func TestInterrupt_CancelsRemoteCalls(t *testing.T) {
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-r.Context().Done() // stall until the client goes away
	}))
	defer srv.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEdgeconf$", "--",
		"kv", "get", "greeting", "--remote", "--timeout", "1h", "-c", example)
	cmd.Env = append(os.Environ(), "EDGECONF_CLI_HELPER=1",
		"EDGECONF_STATE_DIR="+filepath.Join(t.TempDir(), "state"),
		"CLOUDFLARE_API_BASE_URL="+srv.URL+"/client/v4",
		"CLOUDFLARE_API_TOKEN="+canaryToken,
		"CLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef",
		"KV_NAMESPACE_ID="+strings.Repeat("a", 32))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	<-arrived // the call is in flight and will not be answered
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("after Ctrl-C: %v, want exit status 1\nstderr:\n%s", err, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "edgeconf: stopped (interrupt signal received)") || !strings.Contains(msg, "context canceled") {
		t.Errorf("stderr does not say the command was interrupted:\n%s", msg)
	}
	if strings.Contains(msg, canaryToken) {
		t.Error("the token appears on stderr")
	}
}
