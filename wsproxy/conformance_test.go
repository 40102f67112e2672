package wsproxy

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// proxyUnderTest is one proxy of the conformance table.
type proxyUnderTest struct {
	name                string
	url                 string // without credentials
	user, pass          string
	wrongPasswordStatus int
}

// TestProxyConformance runs every proxy case against every proxy: squid
// and tinyproxy with Basic auth (WS-1), and the in-process CONNECT proxy
// over plain TCP and over TLS with a custom CA.
func TestProxyConformance(t *testing.T) {
	t.Parallel()
	ws := newEchoServer(t, false)
	wss := newEchoServer(t, true)
	caFile := getPKI(t).caFile
	const goPass = "g0-Pr0xy-Secret"
	proxies := []struct {
		name  string
		start func(t *testing.T) proxyUnderTest
	}{
		{"squid", func(t *testing.T) proxyUnderTest {
			p := startSquid(t)
			return proxyUnderTest{p.name, p.url, realProxyUser, realProxyPass, p.wrongPasswordStatus}
		}},
		{"tinyproxy", func(t *testing.T) proxyUnderTest {
			p := startTinyproxy(t)
			return proxyUnderTest{p.name, p.url, realProxyUser, realProxyPass, p.wrongPasswordStatus}
		}},
		{"go-http", func(t *testing.T) proxyUnderTest {
			p := newGoProxy(t, false, "alice", goPass)
			return proxyUnderTest{"go-http", p.URL, "alice", goPass, 407}
		}},
		{"go-https-custom-ca", func(t *testing.T) proxyUnderTest {
			p := newGoProxy(t, true, "alice", goPass)
			return proxyUnderTest{"go-https", p.URL, "alice", goPass, 407}
		}},
	}
	const wrongPass = "Wr0ng-Canary-Pass"
	cases := []struct {
		name   string
		target string // "ws" or "wss"
		// proxy builds the ProxyConfig from the proxy's URL and credentials.
		proxy      func(p proxyUnderTest) ProxyConfig
		wantStatus func(p proxyUnderTest) int // 0: the echo must work
	}{
		{
			name:   "ws echo, credentials in the URL",
			target: "ws",
			proxy: func(p proxyUnderTest) ProxyConfig {
				return ProxyConfig{URL: withUserinfo(p.url, url.UserPassword(p.user, p.pass))}
			},
		},
		{
			name:   "wss echo, user in the URL, password in the options",
			target: "wss",
			proxy: func(p proxyUnderTest) ProxyConfig {
				return ProxyConfig{URL: withUserinfo(p.url, url.User(p.user)), Password: p.pass}
			},
		},
		{
			name:   "wss echo, credentials in the options",
			target: "wss",
			proxy: func(p proxyUnderTest) ProxyConfig {
				return ProxyConfig{URL: p.url, Username: p.user, Password: p.pass}
			},
		},
		{
			name:       "missing credentials",
			target:     "wss",
			proxy:      func(p proxyUnderTest) ProxyConfig { return ProxyConfig{URL: p.url} },
			wantStatus: func(proxyUnderTest) int { return 407 },
		},
		{
			name:   "wrong password",
			target: "ws",
			proxy: func(p proxyUnderTest) ProxyConfig {
				return ProxyConfig{URL: withUserinfo(p.url, url.UserPassword(p.user, wrongPass))}
			},
			wantStatus: func(p proxyUnderTest) int { return p.wrongPasswordStatus },
		},
		{
			name:   "wrong password from the options",
			target: "wss",
			proxy: func(p proxyUnderTest) ProxyConfig {
				return ProxyConfig{URL: withUserinfo(p.url, url.UserPassword(p.user, p.pass)), Password: wrongPass}
			},
			wantStatus: func(p proxyUnderTest) int { return p.wrongPasswordStatus },
		},
	}
	for _, px := range proxies {
		t.Run(px.name, func(t *testing.T) {
			t.Parallel()
			p := px.start(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					target := ws.URL
					if tc.target == "wss" {
						target = wss.URL
					}
					var logs logBuffer
					d, err := NewDialer(DialOptions{Proxy: tc.proxy(p), CAFile: caFile, Logger: debugLogger(&logs), HandshakeTimeout: 10 * time.Second})
					if err != nil {
						t.Fatal(err)
					}
					conn, err := d.Dial(context.Background(), target)
					defer func() {
						for _, secret := range []string{p.pass, wrongPass} {
							if err != nil && strings.Contains(err.Error(), secret) {
								t.Errorf("error contains a proxy password: %v", err)
							}
							if strings.Contains(logs.String(), secret) {
								t.Errorf("logs contain a proxy password:\n%s", logs.String())
							}
						}
					}()
					if tc.wantStatus == nil {
						if err != nil {
							t.Fatalf("Dial(%s) through %s: %v", target, p.name, err)
						}
						defer conn.Close()
						_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
						if err := conn.WriteMessage(int(TextMessage), []byte("hello "+p.name)); err != nil {
							t.Fatal(err)
						}
						_, got, err := conn.ReadMessage()
						if err != nil || string(got) != "hello "+p.name {
							t.Fatalf("echo = %q, %v; want %q", got, err, "hello "+p.name)
						}
						return
					}
					if err == nil {
						conn.Close()
						t.Fatalf("Dial through %s succeeded; want proxy authentication failure", p.name)
					}
					de := dialErr(t, err)
					if want := tc.wantStatus(p); de.Status != want || !errors.Is(err, ErrProxyAuth) {
						t.Errorf("status %d, errors.Is(ErrProxyAuth) = %v; want %d, true (%v)", de.Status, errors.Is(err, ErrProxyAuth), want, err)
					}
					u, _ := url.Parse(p.url)
					for _, want := range []string{"proxy authentication failed", u.Host, "dial " + tc.target + "://127.0.0.1:"} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not contain %q", err, want)
						}
					}
					if !permanent(err) {
						t.Errorf("permanent(%v) = false; an auth failure must not be retried", err)
					}
				})
			}
		})
	}
}

func withUserinfo(raw string, ui *url.Userinfo) string {
	u, _ := url.Parse(raw)
	u.User = ui
	return u.String()
}
