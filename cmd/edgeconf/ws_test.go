package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/factory-wager/edgeconf/wsproxy"
)

// wsEcho starts a WebSocket echo server; "hdr" is answered with the
// X-Trace and Authorization headers of the handshake.
func wsEcho(t *testing.T) string {
	t.Helper()
	var mu sync.Mutex
	var conns []*websocket.Conn
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		defer c.Close()
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			if string(data) == "hdr" {
				data = []byte(r.Header.Get("X-Trace") + "|" + r.Header.Get("Authorization"))
			}
			if c.WriteMessage(mt, data) != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "ws://" + srv.Listener.Addr().String() + "/echo"
}

// runWsCLI runs edgeconf in-process with stdin and an environment.
func runWsCLI(t *testing.T, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	d := &deps{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Now: func() time.Time { return testNow },
	}
	code := run(d, args)
	return code, out.String(), errOut.String()
}

func TestWsCmd_Usage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"ws"}, nil, exitOK, ""},
		{"connect without URL", []string{"ws", "connect"}, nil, exitUsage, "accepts 1 arg"},
		{"connect http URL", []string{"ws", "connect", "http://example.com/"}, nil, exitUsage, "want a ws:// or wss:// URL"},
		{"bad header", []string{"ws", "connect", "ws://127.0.0.1:1/", "-H", "NoColon"}, nil, exitUsage, "want 'Name: value'"},
		{"missing password variable", []string{"ws", "connect", "ws://127.0.0.1:1/", "--proxy", "http://u@127.0.0.1:1", "--proxy-password-env", "PW"}, nil, exitUsage, "PW (from --proxy-password-env) is not set"},
		{"missing token variable", []string{"ws", "connect", "ws://127.0.0.1:1/", "--token-env", "TOK"}, nil, exitUsage, "TOK"},
		{"socks proxy", []string{"ws", "connect", "ws://127.0.0.1:1/", "--proxy", "socks5://u:pw@127.0.0.1:1"}, nil, exitUsage, "not supported"},
		{"relay without upstream", []string{"ws", "relay"}, nil, exitUsage, "needs --upstream"},
		{"relay http upstream", []string{"ws", "relay", "--upstream", "http://x/"}, nil, exitUsage, "--upstream: want a ws://"},
		{"relay missing token variable", []string{"ws", "relay", "--upstream", "ws://x/", "--token-env", "RT"}, nil, exitUsage, "RT (from --token-env)"},
		{"relay busy port", []string{"ws", "relay", "--upstream", "ws://x/", "--listen", "127.0.0.1:99999", "--proxy", ""}, nil, exitFailed, "listen"},
		{"relay bad proxy", []string{"ws", "relay", "--upstream", "ws://x/", "--proxy", "ftp://p"}, nil, exitUsage, "not supported"},
		{"missing config file", []string{"-c", "/nonexistent/cfg.yaml", "ws", "connect", "ws://127.0.0.1:1/"}, nil, exitUsage, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runWsCLI(t, "", tc.env, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("edgeconf %s = %d, stderr %q; want %d containing %q", strings.Join(tc.args, " "), code, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

func TestWsConnect_EchoesStdin(t *testing.T) {
	url := wsEcho(t)
	env := map[string]string{"TOKEN": "tok-1"}
	code, out, stderr := runWsCLI(t, "one\ntwo\nhdr\n", env, "ws", "connect", url, "-H", "X-Trace: trace-9", "--token-env", "TOKEN", "--proxy", "")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if want := "one\ntwo\ntrace-9|Bearer tok-1\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "connected to "+url+" (direct)") || !strings.Contains(stderr, "connection closed: 1000") {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestWsConnect_ProxyFailureIsRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	env := map[string]string{"PROXY_PW": "Pw-Canary-42"}
	code, _, stderr := runWsCLI(t, "", env, "ws", "connect", "ws://127.0.0.1:1/", "--proxy", "http://alice@"+addr, "--proxy-password-env", "PROXY_PW")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "via proxy http://alice:xxxxx@"+addr) || strings.Contains(stderr, "Pw-Canary-42") {
		t.Errorf("stderr %q: want the redacted proxy and no password", stderr)
	}
}

// TestWsDialFlags_ProxySelection checks where the proxy comes from: the
// flag, the configuration file, the environment.
func TestWsDialFlags_ProxySelection(t *testing.T) {
	dir := t.TempDir()
	withProxy := filepath.Join(dir, "with-proxy.yaml")
	if err := os.WriteFile(withProxy, []byte("proxy: { url: \"http://cfg:3128\", noProxy: [localhost] }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noProxy := filepath.Join(dir, "no-proxy.yaml")
	if err := os.WriteFile(noProxy, []byte("proxy: { url: \"${HTTPS_PROXY:-}\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HTTPS_PROXY": "http://envs:1", "http_proxy": "http://env:2", "NO_PROXY": "internal", "PW": "secret"}
	tests := []struct {
		name   string
		config string
		env    map[string]string
		args   []string
		want   wsproxy.ProxyConfig
	}{
		{"flag", "", env, []string{"--proxy", "http://flag:1", "--no-proxy", "a,b", "--proxy-user", "u", "--proxy-password-env", "PW"},
			wsproxy.ProxyConfig{URL: "http://flag:1", NoProxy: []string{"a", "b"}, Username: "u", Password: "secret"}},
		{"empty flag is direct", withProxy, env, []string{"--proxy", ""}, wsproxy.ProxyConfig{}},
		{"config file", withProxy, env, []string{"--no-proxy", "extra"}, wsproxy.ProxyConfig{URL: "http://cfg:3128", NoProxy: []string{"localhost", "extra"}}},
		{"config file expands the environment, default noProxy", noProxy, env, nil,
			wsproxy.ProxyConfig{URL: "http://envs:1", NoProxy: []string{"localhost", "127.0.0.1"}}},
		{"environment", "", env, nil, wsproxy.ProxyConfig{Env: wsproxy.ProxyEnv{HTTPSProxy: "http://envs:1", HTTPProxy: "http://env:2", NoProxy: "internal"}}},
		{"nothing", "", nil, nil, wsproxy.ProxyConfig{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *wsConnectOptions
			d := &deps{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
				LookupEnv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }}
			g := &globalOptions{ConfigPath: tc.config}
			if tc.config == "" {
				t.Chdir(dir) // no cloudflare-config.yaml here
			}
			cmd := newWsConnectCmd(d, g, func(o *wsConnectOptions) error { got = o; return nil })
			cmd.SetArgs(append([]string{"ws://127.0.0.1:1/"}, tc.args...))
			cmd.SetOut(&bytes.Buffer{})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			opts, err := got.Dial.dialOptions(d, g, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(opts.Proxy, tc.want) {
				t.Errorf("proxy = %+v, want %+v", opts.Proxy, tc.want)
			}
		})
	}
}

// TestWsRelay_SIGTERM runs the relay command under main's signal context,
// relays one client, and checks that SIGTERM closes the client with 1001
// and exits 0.
func TestWsRelay_SIGTERM(t *testing.T) {
	upstream := wsEcho(t)
	var stderr bytes.Buffer
	d := &deps{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &lockedWriter{w: &stderr},
		LookupEnv: func(string) (string, bool) { return "", false }}
	listening := make(chan string, 1)
	opts := &wsRelayOptions{Listen: "127.0.0.1:0", Upstream: upstream, Token: "t0k", MaxMessageSize: 1 << 20,
		onListen: func(addr string) { listening <- addr }}
	opts.Dial.proxySet = true // direct
	done := make(chan error, 1)
	ctx, stop := interruptContext()
	defer stop()
	go func() { done <- runWsRelay(ctx, d, &globalOptions{}, opts) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("relay ended before listening: %v", err)
	}
	dialer := websocket.Dialer{}
	c, _, err := dialer.Dial("ws://"+addr+"/", http.Header{"Authorization": {"Bearer t0k"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte("via relay")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "via relay" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("client read after SIGTERM: %v, want close 1001", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("relay returned %v after SIGTERM, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("relay did not stop after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "relaying ws://"+addr+"/ to "+upstream+" (direct)") {
		t.Errorf("stderr = %q", stderr.String())
	}
}

func TestWsRelayCmd_Options(t *testing.T) {
	var got *wsRelayOptions
	d := &deps{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{},
		LookupEnv: func(k string) (string, bool) { v, ok := map[string]string{"RT": "env-token"}[k]; return v, ok }}
	cmd := newWsRelayCmd(d, &globalOptions{}, func(o *wsRelayOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--upstream", "wss://h/p", "--token-env", "RT", "--allow-origin", "https://a", "--allow-origin", "https://b", "--idle-timeout", "1m"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Token != "env-token" || got.Listen != "127.0.0.1:8091" || !reflect.DeepEqual(got.AllowOrigins, []string{"https://a", "https://b"}) || got.IdleTimeout != time.Minute {
		t.Errorf("options = %+v", got)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "0.0.0.0": false, "": false, "example.com": false} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// lockedWriter serialises writes from the relay's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestWsConnect_LineOverLimit: a stdin line longer than the message limit
// is reported on stderr with the limit, the lines after it are still sent,
// and the exit status is 1.
func TestWsConnect_LineOverLimit(t *testing.T) {
	url := wsEcho(t)
	stdin := "one\n" + strings.Repeat("x", 40) + "\ntwo\nthree"
	code, out, stderr := runWsCLI(t, stdin, nil, "ws", "connect", url, "--max-message-size", "16", "--proxy", "")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFailed, stderr)
	}
	if want := "one\ntwo\nthree\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if !strings.Contains(stderr, "stdin line 2 not sent") || !strings.Contains(stderr, "message limit of 16 bytes") {
		t.Errorf("stderr does not name the line and the limit:\n%s", stderr)
	}
}

func TestWs_MaxMessageSizeMustBePositive(t *testing.T) {
	for _, args := range [][]string{
		{"ws", "connect", "ws://127.0.0.1:1/", "--max-message-size", "-5"},
		{"ws", "relay", "--upstream", "ws://127.0.0.1:1/", "--max-message-size", "-5"},
		{"ws", "connect", "ws://127.0.0.1:1/", "--max-message-size", "0"},
	} {
		code, _, stderr := runWsCLI(t, "", nil, args...)
		if code != exitUsage || !strings.Contains(stderr, "--max-message-size must be at least 1 byte") {
			t.Errorf("%v: exit %d, want %d naming the flag; stderr:\n%s", args, code, exitUsage, stderr)
		}
	}
}

func TestReadLines(t *testing.T) {
	type got struct {
		n    int64
		line string
		long bool
	}
	for _, tc := range []struct {
		in   string
		want []got
	}{
		{"", nil},
		{"a", []got{{1, "a", false}}},
		{"a\r\n\nbb\n", []got{{1, "a", false}, {2, "", false}, {3, "bb", false}}},
		{"abcdef\nab", []got{{1, "", true}, {2, "ab", false}}},
		{"abcde", []got{{1, "", true}}},
		{"abcd\n", []got{{1, "abcd", false}}},
	} {
		var lines []got
		readLines(strings.NewReader(tc.in), 4, func(n int64, line []byte, size int64) {
			lines = append(lines, got{n, string(line), line == nil})
		})
		if fmt.Sprint(lines) != fmt.Sprint(tc.want) {
			t.Errorf("readLines(%q) = %v, want %v", tc.in, lines, tc.want)
		}
	}
	// A line far over bufio's buffer is skipped without keeping it.
	var long []int64
	readLines(strings.NewReader(strings.Repeat("y", 200<<10)+"\nok\n"), 1<<10, func(n int64, line []byte, size int64) {
		if line == nil {
			long = append(long, n)
		}
	})
	if fmt.Sprint(long) != "[1]" {
		t.Errorf("200 KiB line: skipped %v, want [1]", long)
	}
}
