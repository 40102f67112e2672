package devrun_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/devrun"
	"github.com/factory-wager/edgeconf/internal/testtool"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

func memOpen(m *kvstore.Memory) devrun.OpenStore {
	return func(bool) (kvstore.Store, func() error, error) { return m, func() error { return nil }, nil }
}

func do(t *testing.T, method, url string, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestKVHandler_Protocol(t *testing.T) {
	m := kvstore.NewMemory(nil)
	srv := httptest.NewServer(devrun.KVHandler(memOpen(m), nil))
	defer srv.Close()
	key := "edgeconf%2Fv1%2Foverrides%2F_base%2Fa.b"
	if code, _, _ := do(t, "PUT", srv.URL+"/"+key+"?urlencoded=true&expiration_ttl=3600", "42", map[string]string{"CF-KV-Metadata": `{"setBy":"t"}`}); code != 200 {
		t.Fatalf("put: %d", code)
	}
	code, h, body := do(t, "GET", srv.URL+"/"+key+"?urlencoded=true", "", nil)
	if code != 200 || body != "42" || h.Get("CF-KV-Metadata") != `{"setBy":"t"}` {
		t.Errorf("get: %d %q %q", code, body, h.Get("CF-KV-Metadata"))
	}
	code, _, body = do(t, "GET", srv.URL+"/?prefix=edgeconf%2Fv1%2F&key_count_limit=10", "", nil)
	var list struct {
		Keys []struct {
			Name       string          `json:"name"`
			Expiration int64           `json:"expiration"`
			Metadata   json.RawMessage `json:"metadata"`
		} `json:"keys"`
		ListComplete bool `json:"list_complete"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != 200 {
		t.Fatalf("list: %d %v %s", code, err, body)
	}
	if len(list.Keys) != 1 || list.Keys[0].Name != "edgeconf/v1/overrides/_base/a.b" || list.Keys[0].Expiration == 0 || !list.ListComplete || string(list.Keys[0].Metadata) != `{"setBy":"t"}` {
		t.Errorf("list = %+v", list)
	}
	if code, _, _ := do(t, "DELETE", srv.URL+"/"+key, "", nil); code != 200 {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := do(t, "GET", srv.URL+"/"+key, "", nil); code != 404 {
		t.Errorf("get after delete: %d", code)
	}
	for _, bad := range []string{"/?key_count_limit=x", "/k?expiration_ttl=x", "/k?expiration=x"} {
		method := "GET"
		if strings.HasPrefix(bad, "/k") {
			method = "PUT"
		}
		if code, _, _ := do(t, method, srv.URL+bad, "v", nil); code != 400 {
			t.Errorf("%s %s: %d, want 400", method, bad, code)
		}
	}
	if code, _, _ := do(t, "POST", srv.URL+"/k", "", nil); code != 405 {
		t.Errorf("POST: %d", code)
	}
	failing := httptest.NewServer(devrun.KVHandler(func(bool) (kvstore.Store, func() error, error) {
		return nil, nil, errors.New("state folder is in use")
	}, nil))
	defer failing.Close()
	if code, _, _ := do(t, "GET", failing.URL+"/k", "", nil); code != 503 {
		t.Errorf("unavailable store: %d", code)
	}
}

func TestConfig_SecretsStayOut(t *testing.T) {
	o := devrun.Options{Listen: "127.0.0.1:1", Name: "w", Vars: map[string]string{"LOG_LEVEL": "info"},
		Secrets: map[string]string{"DASHBOARD_TOKEN": "s3cr3t-value"}, CompatibilityFlags: []string{"nodejs_compat"},
		KV: []devrun.KVNamespace{{Binding: "CONFIG"}}, DurableObjects: []devrun.DurableObject{{Binding: "SESSIONS", ClassName: "TerminalSession"}},
		VersionID: `a"b`}
	c := devrun.Config(o, map[string]string{"CONFIG": "127.0.0.1:5"}, "/s/do")
	if strings.Contains(c, "s3cr3t") || strings.Contains(c, `"info"`) {
		t.Errorf("a value is in the config:\n%s", c)
	}
	for _, want := range []string{`fromEnvironment = "EDGECONF_SECRET_DASHBOARD_TOKEN"`, `kvNamespace = "kv-CONFIG"`, `address = "127.0.0.1:5"`,
		`durableObjectNamespace = "TerminalSession"`, `localDisk = "do-storage"`, `"nodejs_compat"`, `\"id\":\"a\\\"b\"`} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %s:\n%s", want, c)
		}
	}
}

func TestFindWorkerd(t *testing.T) {
	dir := t.TempDir()
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if _, err := devrun.FindWorkerd(env(map[string]string{"EDGECONF_WORKERD": filepath.Join(dir, "nope")})); err == nil || !strings.Contains(err.Error(), "EDGECONF_WORKERD") {
		t.Errorf("missing EDGECONF_WORKERD: %v", err)
	}
	bin := filepath.Join(dir, "tools", "node_modules", ".bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "workerd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "a", "b")
	_ = os.MkdirAll(sub, 0o755)
	got, err := devrun.FindWorkerd(env(nil), sub)
	if err != nil || got != filepath.Join(bin, "workerd") {
		t.Errorf("walk up: %q %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := devrun.FindWorkerd(env(nil), t.TempDir()); !errors.Is(err, devrun.ErrNoWorkerd) || !strings.Contains(err.Error(), "make tools") {
		t.Errorf("missing: %v", err)
	}
}

func TestFingerprint(t *testing.T) {
	dir := t.TempDir()
	a := devrun.Fingerprint(dir)
	if err := os.WriteFile(filepath.Join(dir, "x.js"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if devrun.Fingerprint(dir) == a {
		t.Error("a new source file did not change the fingerprint")
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startExample builds the example Worker with refresh 0 and runs it on workerd.
func startExample(t *testing.T, store *kvstore.Memory) (*devrun.Server, *config.Document) {
	return startExampleWith(t, store, nil)
}

func startExampleWith(t *testing.T, store *kvstore.Memory, secrets map[string]string) (*devrun.Server, *config.Document) {
	t.Helper()
	return startExampleOpen(t, memOpen(store), secrets)
}

// startExampleOpen is startExample with the CONFIG namespace behind open,
// and secrets.
func startExampleOpen(t *testing.T, open devrun.OpenStore, secrets map[string]string) (*devrun.Server, *config.Document) {
	t.Helper()
	return startExampleIn(t, open, secrets, t.TempDir(), filepath.Join("..", config.DefaultFile))
}

func startExampleIn(t *testing.T, open devrun.OpenStore, secrets map[string]string, stateDir, configPath string) (*devrun.Server, *config.Document) {
	t.Helper()
	workerd := testtool.Require(t, "workerd", "make tools")
	doc, err := config.Load(configPath, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bo, err := bundle.FromDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	bo.RefreshSeconds = 0
	res, err := bundle.Build(bo)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := devrun.Start(context.Background(), devrun.Options{
		Workerd: workerd, Script: res.Script, Listen: freeAddr(t), StateDir: stateDir, Name: "quantum-dashboard",
		CompatibilityDate: "2025-01-01", KV: []devrun.KVNamespace{{Binding: "CONFIG", Open: open}},
		DurableObjects: []devrun.DurableObject{{Binding: "SESSIONS", ClassName: "TerminalSession"}},
		Vars:           map[string]string{"LOG_LEVEL": "info"}, VersionID: res.Revision, VersionTag: "test", Secrets: secrets,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv, doc
}

func TestStart_ServesExampleWithOverrides(t *testing.T) {
	store := kvstore.NewMemory(nil)
	srv, doc := startExample(t, store)
	code, _, body := do(t, "GET", srv.URL+"/healthz", "", nil)
	if code != 200 || !strings.Contains(body, `"tag": "test"`) || !strings.Contains(body, `"kv": "ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "parity-test"})
	if _, err := m.Set(context.Background(), "features.premium.rolloutPercentage", 75, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	_, _, body = do(t, "GET", srv.URL+"/api/config?path=features.premium.rolloutPercentage", "", nil)
	var got struct {
		Value     float64                   `json:"value"`
		Overrides map[string]map[string]any `json:"overrides"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	src := got.Overrides["features.premium.rolloutPercentage"]
	if got.Value != 75 || src["setBy"] != "parity-test" || src["key"] != "edgeconf/v1/overrides/_base/features.premium.rolloutPercentage" {
		t.Errorf("/api/config = %s", body)
	}
	if code, _, body := do(t, "GET", srv.URL+"/nope", "", nil); code != 404 || !strings.Contains(body, "not found") {
		t.Errorf("unknown path: %d %s", code, body)
	}
}

// TestStart_RelativeStateDir: the default state folder is relative
// (.edgeconf beside the configuration, often the working folder); workerd
// runs inside it and must still find its files.
func TestStart_RelativeStateDir(t *testing.T) {
	cfg, err := filepath.Abs(filepath.Join("..", config.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	workerd := testtool.Require(t, "workerd", "make tools") // found from here, then on PATH
	t.Setenv("PATH", filepath.Dir(workerd)+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Chdir(t.TempDir())
	srv, _ := startExampleIn(t, memOpen(kvstore.NewMemory(nil)), nil, ".edgeconf", cfg)
	if code, _, body := do(t, "GET", srv.URL+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
}

func TestStart_PortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = devrun.Start(context.Background(), devrun.Options{Workerd: "/nonexistent", Listen: ln.Addr().String(), StateDir: t.TempDir()})
	if !errors.Is(err, devrun.ErrPortInUse) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("err = %v", err)
	}
}

func TestStop_LeavesNoProcess(t *testing.T) {
	srv, _ := startExample(t, kvstore.NewMemory(nil))
	pid := srv.Pid()
	if err := syscall.Kill(-pid, 0); err != nil {
		t.Fatalf("workerd's group %d is not running: %v", pid, err)
	}
	_ = srv.Stop()
	<-srv.Done()
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Stop (kill: %v)", pid, err)
	}
	if _, err := http.Get(srv.URL + "/healthz"); err == nil {
		t.Error("the Worker still answers after Stop")
	}
	_ = fmt.Sprint()
	_ = time.Second
}

func TestStart_WorkerdFails(t *testing.T) {
	_, err := devrun.Start(context.Background(), devrun.Options{Workerd: "/bin/false", Script: []byte("x"), Listen: freeAddr(t), StateDir: t.TempDir(),
		KV: []devrun.KVNamespace{{Binding: "CONFIG", Open: memOpen(kvstore.NewMemory(nil))}}})
	if err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Errorf("err = %v", err)
	}
	_, err = devrun.Start(context.Background(), devrun.Options{Workerd: "/nonexistent/workerd", Listen: freeAddr(t), StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/workerd") {
		t.Errorf("err = %v", err)
	}
}

// TestHelperDevParent is the parent process killed by TestParentKill_LeavesNoOrphan.
func TestHelperDevParent(t *testing.T) {
	if os.Getenv("EDGECONF_DEVRUN_HELPER") != "1" {
		t.Skip("helper process")
	}
	srv, _ := startExample(t, kvstore.NewMemory(nil))
	fmt.Printf("PID %d\n", srv.Pid())
	<-srv.Done()
}

func TestParentKill_LeavesNoOrphan(t *testing.T) {
	testtool.Require(t, "workerd", "make tools")
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDevParent$", "-test.v")
			cmd.Env = append(os.Environ(), "EDGECONF_DEVRUN_HELPER=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			sc := bufio.NewScanner(out)
			pid := 0
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "PID %d", &pid); err == nil {
					break
				}
			}
			if pid == 0 {
				t.Fatal("the helper did not start workerd")
			}
			go func() { _, _ = io.Copy(io.Discard, out) }()
			_ = cmd.Process.Signal(sig)
			_ = cmd.Wait()
			deadline := time.Now().Add(10 * time.Second)
			for syscall.Kill(pid, 0) == nil {
				if time.Now().After(deadline) {
					_ = syscall.Kill(-pid, syscall.SIGKILL)
					t.Fatalf("workerd %d outlived its parent killed by %s", pid, sig)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
