package wsproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestProxySelector_ProxyFor(t *testing.T) {
	tests := []struct {
		name   string
		config ProxyConfig
		target string
		want   string // "" for direct
	}{
		{"zero value is direct", ProxyConfig{}, "wss://example.com/x", ""},
		{"explicit applies to loopback", ProxyConfig{URL: "http://proxy:3128"}, "ws://127.0.0.1:8080/", "http://proxy:3128"},
		{"explicit applies to localhost", ProxyConfig{URL: "http://proxy:3128"}, "ws://localhost:8080/", "http://proxy:3128"},
		{"explicit bypassed by IP", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"127.0.0.1"}}, "ws://127.0.0.1:8080/", ""},
		{"explicit bypassed by CIDR", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"10.0.0.0/8"}}, "ws://10.1.2.3/", ""},
		{"CIDR does not match host name", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"10.0.0.0/8"}}, "ws://ten.example/", "http://proxy:3128"},
		{"explicit bypassed by domain", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"Example.com"}}, "wss://api.example.com/", ""},
		{"domain matches itself", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"example.com"}}, "wss://example.com/", ""},
		{"domain is not a suffix match", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"example.com"}}, "wss://notexample.com/", "http://proxy:3128"},
		{"leading dot: subdomains only", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{".example.com"}}, "wss://example.com/", "http://proxy:3128"},
		{"leading dot matches subdomain", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{".example.com"}}, "wss://a.example.com/", ""},
		{"wildcard domain", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"*.example.com"}}, "wss://a.example.com/", ""},
		{"port must match", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"example.com:8443"}}, "wss://example.com/", "http://proxy:3128"},
		{"default port matches", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"example.com:443"}}, "wss://example.com/", ""},
		{"ipv6 entry", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"[::1]"}}, "ws://[::1]:80/", ""},
		{"ip with port", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"127.0.0.1:9"}}, "ws://127.0.0.1:8080/", "http://proxy:3128"},
		{"ip does not match other ip", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{"127.0.0.2"}}, "ws://127.0.0.1/", "http://proxy:3128"},
		{"star bypasses all", ProxyConfig{URL: "http://proxy:3128", NoProxy: []string{" ", "*"}}, "wss://example.com/", ""},
		{"credentials from options", ProxyConfig{URL: "https://proxy:443", Username: "u", Password: "p"}, "wss://example.com/", "https://u:p@proxy:443"},
		{"password overrides URL", ProxyConfig{URL: "http://u:old@proxy:3128", Password: "new"}, "wss://example.com/", "http://u:new@proxy:3128"},
		{"user overrides URL", ProxyConfig{URL: "http://u:pw@proxy:3128", Username: "v"}, "wss://example.com/", "http://v:pw@proxy:3128"},
		{"HTTPS_PROXY for wss", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "http://sp:1", HTTPProxy: "http://p:2"}}, "wss://example.com/", "http://sp:1"},
		{"HTTP_PROXY for ws", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "http://sp:1", HTTPProxy: "http://p:2"}}, "ws://example.com/", "http://p:2"},
		{"env without scheme", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "sp:1"}}, "wss://example.com/", "http://sp:1"},
		{"NO_PROXY", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "http://sp:1", NoProxy: "internal.test,example.com"}}, "wss://api.example.com/", ""},
		{"env skips loopback (Go's rule)", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "http://sp:1"}}, "wss://127.0.0.1:8443/", ""},
		{"env credentials from options", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "http://u@sp:1"}, Password: "pw"}, "wss://example.com/", "http://u:pw@sp:1"},
		{"explicit wins over env", ProxyConfig{URL: "http://proxy:3128", Env: ProxyEnv{HTTPSProxy: "http://sp:1"}}, "wss://example.com/", "http://proxy:3128"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newProxySelector(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			target, _ := url.Parse(tc.target)
			got, err := s.proxyFor(target)
			if err != nil {
				t.Fatal(err)
			}
			gotS := ""
			if got != nil {
				gotS = got.String()
			}
			if gotS != tc.want {
				t.Errorf("proxyFor(%q) = %q, want %q", tc.target, gotS, tc.want)
			}
		})
	}
}

func TestNewProxySelector_InvalidURLsAreRedacted(t *testing.T) {
	const secret = "s3cr3t-pw"
	tests := []struct {
		name    string
		config  ProxyConfig
		wantErr string
	}{
		{"bad escape", ProxyConfig{URL: "http://u:" + secret + "%zz@proxy:3128"}, "invalid proxy URL"},
		{"socks", ProxyConfig{URL: "socks5://u:" + secret + "@proxy:1080"}, `scheme "socks5" is not supported`},
		{"no host", ProxyConfig{URL: "http://u:" + secret + "@:3128"}, "no host"},
		{"port out of range", ProxyConfig{URL: "http://u:" + secret + "@proxy:99999"}, "port 99999 is not in 1..65535"},
		{"env socks", ProxyConfig{Env: ProxyEnv{HTTPSProxy: "socks5://u:" + secret + "@proxy:1080"}}, "proxy from environment"},
		{"env bad", ProxyConfig{Env: ProxyEnv{HTTPProxy: "http://u:" + secret + "%zz@proxy"}}, "invalid proxy URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDialer(DialOptions{Proxy: tc.config})
			if err == nil {
				t.Fatal("NewDialer succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), secret) {
				t.Errorf("error %q: want it to contain %q and not the password", err, tc.wantErr)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://u:pw@proxy:3128", "http://u:xxxxx@proxy:3128"},
		{"http://u@proxy:3128", "http://u@proxy:3128"},
		{"wss://h/p?token=abc#frag", "wss://h/p?…"},
		{"wss://h/p#frag", "wss://h/p"},
	}
	for _, tc := range tests {
		u, _ := url.Parse(tc.in)
		if got := redactURL(u); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := redactURL(nil); got != "" {
		t.Errorf("redactURL(nil) = %q", got)
	}
}

// TestDial_NoProxyBypass checks that NO_PROXY entries reach the server
// directly while other targets use the proxy, for the explicit proxy and
// for the environment (WS-3). A resolver maps echo.internal.test to the
// loopback echo server, since Go never proxies loopback names from the
// environment.
func TestDial_NoProxyBypass(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	_, port, _ := net.SplitHostPort(echo.Listener.Addr().String())
	resolve := func(ctx context.Context, network, addr string) (net.Conn, error) {
		addr = strings.Replace(addr, "echo.internal.test", "127.0.0.1", 1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	proxy := newGoProxy(t, false, "", "")
	proxy.dial = resolve
	named := "ws://echo.internal.test:" + port + "/echo"
	tests := []struct {
		name      string
		proxy     ProxyConfig
		target    string
		wantProxy bool
	}{
		{"explicit proxy", ProxyConfig{URL: proxy.URL}, echo.URL, true},
		{"explicit proxy, NoProxy loopback", ProxyConfig{URL: proxy.URL, NoProxy: []string{"localhost", "127.0.0.1"}}, echo.URL, false},
		{"HTTP_PROXY", ProxyConfig{Env: ProxyEnv{HTTPProxy: proxy.URL}}, named, true},
		{"HTTP_PROXY with NO_PROXY", ProxyConfig{Env: ProxyEnv{HTTPProxy: proxy.URL, NoProxy: "internal.test"}}, named, false},
		{"HTTP_PROXY skips loopback", ProxyConfig{Env: ProxyEnv{HTTPProxy: proxy.URL}}, echo.URL, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := proxy.connects.Load()
			d, err := NewDialer(DialOptions{Proxy: tc.proxy, NetDialContext: resolve})
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.Dial(context.Background(), tc.target)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if used := proxy.connects.Load() > before; used != tc.wantProxy {
				t.Errorf("went through the proxy: %v, want %v", used, tc.wantProxy)
			}
		})
	}
}

func TestDial_Errors(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	wss := newEchoServer(t, true)
	refusing := newGoProxy(t, false, "", "")
	refusing.dial = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no route") }
	closed := freePort(t)
	tests := []struct {
		name       string
		opts       DialOptions
		target     string
		wantIs     error
		wantStatus int
		wantText   []string
	}{
		{"bad scheme", DialOptions{}, "http://127.0.0.1/", nil, 0, []string{"scheme must be ws or wss"}},
		{"bad URL", DialOptions{}, "ws://%zz", nil, 0, []string{"invalid WebSocket URL"}},
		{"no host", DialOptions{}, "ws:///path", nil, 0, []string{"no host"}},
		{"handshake refused", DialOptions{}, strings.Replace(echo.URL, "/echo", "/forbidden", 1), ErrHandshake, 403, []string{"403 Forbidden", "(direct)"}},
		{"proxy refuses", DialOptions{Proxy: ProxyConfig{URL: refusing.URL}}, echo.URL, ErrProxyRefused, 502, []string{"proxy refused the connection", "502"}},
		{"proxy down", DialOptions{Proxy: ProxyConfig{URL: "http://u:pw-canary@127.0.0.1:" + closed}}, echo.URL, nil, 0, []string{"connect to proxy", "u:xxxxx@127.0.0.1:" + closed}},
		{"unknown CA", DialOptions{}, wss.URL, nil, 0, []string{"certificate"}},
		{"query redacted", DialOptions{}, "ws://127.0.0.1:" + closed + "/p?token=t0ken", nil, 0, []string{"/p?…"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDialer(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.Dial(context.Background(), tc.target)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded; want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
			var de *DialError
			if errors.As(err, &de) && de.Status != tc.wantStatus {
				t.Errorf("Status = %d, want %d", de.Status, tc.wantStatus)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"pw-canary", "t0ken"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains %q", err, secret)
				}
			}
		})
	}
}

func TestNewDialer_CAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewDialer(DialOptions{CAFile: dir + "/missing.pem"}); err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Errorf("missing CA file: err = %v", err)
	}
	bad := dir + "/bad.pem"
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDialer(DialOptions{CAFile: bad}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file: err = %v", err)
	}
}

// TestTunnel_KeepsBytesAfterTheAnswer: bytes a proxy sends right after
// its 200, in the same segment, belong to the tunnel.
func TestTunnel_KeepsBytesAfterTheAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		_, _ = c.Read(buf) // the CONNECT request
		_, _ = c.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\nearly bytes"))
		_, _ = c.Read(buf) // hold the connection until the client closes
	}()
	d, err := NewDialer(DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, _ := url.Parse("http://" + ln.Addr().String())
	conn, err := d.tunnel(context.Background(), proxyURL, "example.com:443")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	got := make([]byte, 64)
	n, err := io.ReadFull(conn, got[:len("early bytes")])
	if err != nil || string(got[:n]) != "early bytes" {
		t.Errorf("read %q, %v; want the bytes after the answer", got[:n], err)
	}
}

func TestRoute(t *testing.T) {
	r, err := NewRelay(RelayOptions{Upstream: "wss://up.example/term", Dial: DialOptions{Proxy: ProxyConfig{URL: "http://u:pw@proxy:3128", NoProxy: []string{"direct.example"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Route(), "via proxy http://u:xxxxx@proxy:3128"; got != want {
		t.Errorf("Relay.Route() = %q, want %q", got, want)
	}
	for target, want := range map[string]string{"wss://direct.example/": "(direct)", "ws://%zz": "(invalid URL)"} {
		if got := r.dialer.Route(target); got != want {
			t.Errorf("Route(%q) = %q, want %q", target, got, want)
		}
	}
}
