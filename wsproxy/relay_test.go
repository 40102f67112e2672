package wsproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// testRelay is a Relay serving on 127.0.0.1 until the test ends.
type testRelay struct {
	*Relay
	url  string // ws://127.0.0.1:PORT/
	addr string
	stop func() error // cancels Serve and returns its result
}

func startRelay(t *testing.T, opts RelayOptions) *testRelay {
	t.Helper()
	r, err := NewRelay(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, ln) }()
	var once sync.Once
	var result error
	tr := &testRelay{Relay: r, addr: ln.Addr().String(), url: "ws://" + ln.Addr().String() + "/term"}
	tr.stop = func() error {
		once.Do(func() { cancel(); result = receive(t, done, "Serve to return") })
		return result
	}
	t.Cleanup(func() { tr.stop() })
	return tr
}

// dialRelay opens a raw gorilla connection to the relay with the given
// headers; the tests that inspect handshake statuses use it.
func dialRelay(t *testing.T, url string, header http.Header) (*websocket.Conn, error) {
	t.Helper()
	d, err := NewDialer(DialOptions{Header: header, HandshakeTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Dial(context.Background(), url)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func echoOnce(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
}

// readClose reads until the connection ends and returns its close code,
// or -1 when it ended without a close frame.
func readClose(c *websocket.Conn) (int, string) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			return -1, err.Error()
		}
	}
}

// TestRelay_EchoThroughProxy joins a Client to a wss upstream through an
// authenticating https proxy with a custom CA, and checks headers, token,
// subprotocol and metrics on the way.
func TestRelay_EchoThroughProxy(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, true)
	proxy := newGoProxy(t, true, "relay", "relay-Pass-Canary")
	var logs logBuffer
	tr := startRelay(t, RelayOptions{
		Upstream: echo.URL,
		Token:    "client-token",
		Logger:   debugLogger(&logs),
		Dial: DialOptions{
			Proxy:       ProxyConfig{URL: withUserinfo(proxy.URL, nil), Username: "relay", Password: "relay-Pass-Canary"},
			CAFile:      getPKI(t).caFile,
			BearerToken: "upstream-token",
			Header:      http.Header{"X-Trace": {"relay-trace"}},
		},
	})
	c := newTestClient(t, ClientOptions{URL: tr.url, Dial: DialOptions{
		BearerToken: "client-token",
		Header:      http.Header{"Sec-Websocket-Protocol": {"terminal.v1"}},
	}})
	ev := recordEvents(c)
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	send(t, c, "hello relay")
	if got := string(receive(t, ev.message, "echo").Data); got != "hello relay" {
		t.Errorf("echo = %q", got)
	}
	send(t, c, "header")
	if got, want := string(receive(t, ev.message, "header").Data), "Bearer upstream-token|relay-trace|terminal.v1"; got != want {
		t.Errorf("upstream saw %q, want %q", got, want)
	}
	big := bytes.Repeat([]byte("b"), 200<<10) // streamed in several frames
	if err := c.Send(context.Background(), BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ev.message, "big echo"); !bytes.Equal(m.Data, big) || m.MessageType != BinaryMessage {
		t.Errorf("big echo: %d bytes of type %v, want %d binary", len(m.Data), m.MessageType, len(big))
	}
	if got := tr.Active(); got != 1 {
		t.Errorf("Active() = %d, want 1", got)
	}
	// The pumps count a message once its last frame is written, which may
	// be just after the client has it.
	m := tr.metrics
	waitFor(t, 5*time.Second, "3 messages up and 200 KiB down counted", func() bool {
		return float64(m.msgsUp.value()) == 3 && float64(m.bytesDown.value()) >= float64(len(big)+len("hello relay"))
	})
	resp, err := http.Get("http://" + tr.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wsproxy_relay_connections 1", `wsproxy_relay_connections_total{result="accepted"} 1`, "wsproxy_relay_bytes_total", "process_open_fds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	c.Close()
	<-c.Done()
	waitFor(t, 5*time.Second, "the pair to end", func() bool { return tr.Active() == 0 && echo.live.Load() == 0 })
	if got := echo.closeCode.Load(); got != CloseNormal {
		t.Errorf("upstream saw close %d, want the client's 1000", got)
	}
	if strings.Contains(logs.String(), "relay-Pass-Canary") {
		t.Errorf("relay logs contain the proxy password:\n%s", logs.String())
	}
}

// TestRelay_Refusals checks token auth, the Origin allowlist (D-4) and
// the other refusals, each with its status and metric.
func TestRelay_Refusals(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	withAllow := startRelay(t, RelayOptions{Upstream: echo.URL, Token: "s3cret", AllowOrigins: []string{"https://dash.example.com/", "http://localhost:3000"}})
	sameHost := startRelay(t, RelayOptions{Upstream: echo.URL})
	anyOrigin := startRelay(t, RelayOptions{Upstream: echo.URL, AllowOrigins: []string{"*"}})
	down := startRelay(t, RelayOptions{Upstream: "ws://127.0.0.1:" + freePort(t) + "/"})
	bearer := http.Header{"Authorization": {"Bearer s3cret"}}
	with := func(h http.Header, k, v string) http.Header { h = h.Clone(); h.Set(k, v); return h }
	tests := []struct {
		name   string
		relay  *testRelay
		header http.Header
		want   int // 0: accepted
		result string
	}{
		{"token accepted", withAllow, bearer, 0, resultAccepted},
		{"scheme is case-insensitive", withAllow, http.Header{"Authorization": {"bearer s3cret"}}, 0, resultAccepted},
		{"no token", withAllow, nil, 401, resultUnauthorized},
		{"wrong token", withAllow, http.Header{"Authorization": {"Bearer s3cre7"}}, 401, resultUnauthorized},
		{"basic auth is not a token", withAllow, http.Header{"Authorization": {"Basic czNjcmV0"}}, 401, resultUnauthorized},
		{"allowed origin", withAllow, with(bearer, "Origin", "https://dash.example.com"), 0, resultAccepted},
		{"allowed origin, other case", withAllow, with(bearer, "Origin", "HTTP://LOCALHOST:3000"), 0, resultAccepted},
		{"evil origin", withAllow, with(bearer, "Origin", "https://evil.example"), 403, resultForbiddenOrigin},
		{"evil origin without token", withAllow, http.Header{"Origin": {"https://evil.example"}}, 403, resultForbiddenOrigin},
		{"same host without allowlist", sameHost, http.Header{"Origin": {"http://" + sameHost.addr}}, 0, resultAccepted},
		{"other host without allowlist", sameHost, http.Header{"Origin": {"https://evil.example"}}, 403, resultForbiddenOrigin},
		{"bad origin without allowlist", sameHost, http.Header{"Origin": {"%zz"}}, 403, resultForbiddenOrigin},
		{"star allows any origin", anyOrigin, http.Header{"Origin": {"https://evil.example"}}, 0, resultAccepted},
		{"upstream down", down, nil, 502, resultUpstreamFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := float64(tc.relay.metrics.connections.WithLabelValues(tc.result).value())
			c, err := dialRelay(t, tc.relay.url, tc.header)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				echoOnce(t, c, "through")
			} else {
				if err == nil {
					t.Fatalf("accepted; want %d", tc.want)
				}
				if de := dialErr(t, err); de.Status != tc.want || !errors.Is(err, ErrHandshake) {
					t.Errorf("status %d (%v), want %d", de.Status, err, tc.want)
				}
			}
			if got := float64(tc.relay.metrics.connections.WithLabelValues(tc.result).value()); got != before+1 {
				t.Errorf("connections_total{result=%q} went from %v to %v, want +1", tc.result, before, got)
			}
		})
	}
	t.Run("plain GET", func(t *testing.T) {
		resp, err := http.Get("http://" + sameHost.addr + "/term")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	if got := float64(down.metrics.errors.WithLabelValues(kindUpstreamDial).value()); got != 1 {
		t.Errorf("errors_total{kind=upstream_dial} = %v, want 1", got)
	}
}

func TestRelay_MessageTooBig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		send string // what the client sends
	}{
		{"from the client", strings.Repeat("c", 2048)},
		{"from the upstream", "big 2048"}, // the echo server answers 2 KiB
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			echo := newEchoServer(t, false)
			tr := startRelay(t, RelayOptions{Upstream: echo.URL, MaxMessageSize: 1024})
			c, err := dialRelay(t, tr.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			echoOnce(t, c, "small")
			if err := c.WriteMessage(websocket.TextMessage, []byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			if code, reason := readClose(c); code != CloseMessageTooBig {
				t.Errorf("client got close %d %q, want 1009", code, reason)
			}
			waitFor(t, 5*time.Second, "the upstream to close", func() bool { return echo.live.Load() == 0 })
			if got := echo.closeCode.Load(); got != CloseMessageTooBig {
				t.Errorf("upstream got close %d, want 1009", got)
			}
			waitFor(t, 5*time.Second, "the pair to end", func() bool { return tr.Active() == 0 })
			if got := float64(tr.metrics.errors.WithLabelValues(kindMessageTooBig).value()); got != 1 {
				t.Errorf("errors_total{kind=message_too_big} = %v, want 1", got)
			}
		})
	}
}

func TestRelay_IdleTimeout(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	tr := startRelay(t, RelayOptions{Upstream: echo.URL, IdleTimeout: 200 * time.Millisecond})
	c, err := dialRelay(t, tr.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, reason := readClose(c); code != CloseGoingAway || reason != "idle timeout" {
		t.Errorf("close %d %q, want 1001 idle timeout", code, reason)
	}
	waitFor(t, 5*time.Second, "the upstream to close", func() bool { return echo.live.Load() == 0 })
	if got := echo.closeCode.Load(); got != CloseGoingAway {
		t.Errorf("upstream got close %d, want 1001", got)
	}
	if got := float64(tr.metrics.errors.WithLabelValues(kindIdleTimeout).value()); got != 1 {
		t.Errorf("errors_total{kind=idle_timeout} = %v, want 1", got)
	}
}

// TestPair_CheckIdle drives the idle check by hand: recent traffic
// re-arms the timer, silence for IdleTimeout ends the pair.
func TestPair_CheckIdle(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	tr := startRelay(t, RelayOptions{Upstream: echo.URL, IdleTimeout: time.Hour})
	c, err := dialRelay(t, tr.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c, "hi")
	tr.mu.Lock()
	var p *pair
	for q := range tr.pairs {
		p = q
	}
	tr.mu.Unlock()
	p.checkIdle() // just active
	p.mu.Lock()
	ending := p.ending
	p.mu.Unlock()
	if ending {
		t.Fatal("an active pair was closed as idle")
	}
	p.last.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	p.checkIdle()
	if code, reason := readClose(c); code != CloseGoingAway || reason != "idle timeout" {
		t.Errorf("close %d %q, want 1001 idle timeout", code, reason)
	}
}

// TestRelay_CloseForwarding checks that a clean close goes through with its
// code, and that a side that disappears is reported to the other.
func TestRelay_CloseForwarding(t *testing.T) {
	t.Parallel()
	t.Run("client closes with an application code", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		tr := startRelay(t, RelayOptions{Upstream: echo.URL})
		c, err := dialRelay(t, tr.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "hi")
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "done"), time.Now().Add(time.Second))
		if code, _ := readClose(c); code != 4000 {
			t.Errorf("client's close answered with %d, want 4000", code)
		}
		waitFor(t, 5*time.Second, "the upstream to close", func() bool { return echo.live.Load() == 0 })
		if got := echo.closeCode.Load(); got != 4000 {
			t.Errorf("upstream got close %d, want 4000", got)
		}
	})
	t.Run("upstream closes normally", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		tr := startRelay(t, RelayOptions{Upstream: echo.URL})
		c, err := dialRelay(t, tr.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("close 1000")); err != nil {
			t.Fatal(err)
		}
		if code, reason := readClose(c); code != CloseNormal || reason != "bye" {
			t.Errorf("client got %d %q, want 1000 bye", code, reason)
		}
		waitFor(t, 5*time.Second, "the pair to end", func() bool { return tr.Active() == 0 })
	})
	t.Run("upstream disappears", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		tr := startRelay(t, RelayOptions{Upstream: echo.URL})
		c, err := dialRelay(t, tr.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "hi")
		echo.closeAll()
		if code, reason := readClose(c); code != CloseInternalError || reason != "upstream lost" {
			t.Errorf("client got %d %q, want 1011 upstream lost", code, reason)
		}
		waitFor(t, 5*time.Second, "the pair to end", func() bool { return tr.Active() == 0 })
		if got := float64(tr.metrics.errors.WithLabelValues(kindUpstreamLost).value()); got != 1 {
			t.Errorf("errors_total{kind=upstream_lost} = %v, want 1", got)
		}
	})
	t.Run("client disappears", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		tr := startRelay(t, RelayOptions{Upstream: echo.URL})
		c, err := dialRelay(t, tr.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "hi")
		c.NetConn().Close()
		waitFor(t, 5*time.Second, "the upstream to close", func() bool { return echo.live.Load() == 0 })
		if got := echo.closeCode.Load(); got != CloseGoingAway {
			t.Errorf("upstream got close %d, want 1001", got)
		}
		waitFor(t, 5*time.Second, "the pair to end", func() bool { return tr.Active() == 0 })
		if got := float64(tr.metrics.errors.WithLabelValues(kindClientLost).value()); got != 1 {
			t.Errorf("errors_total{kind=client_lost} = %v, want 1", got)
		}
	})
}

// stuckUpstream accepts WebSocket connections and never reads them.
func stuckUpstream(t *testing.T) string {
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
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "ws://" + srv.Listener.Addr().String() + "/"
}

// TestRelay_Backpressure: an upstream that does not read stops the client
// too, after at most the socket buffers' worth of data (the relay holds one
// 32 KiB buffer per direction), until the relay's WriteTimeout ends the
// stuck pair.
func TestRelay_Backpressure(t *testing.T) {
	t.Parallel()
	tr := startRelay(t, RelayOptions{Upstream: stuckUpstream(t), WriteTimeout: time.Second})
	c, err := dialRelay(t, tr.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 64<<10)
	const limit = 64 << 20
	sent := 0
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for ; sent < limit; sent += len(msg) {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			break // the relay closed the stuck pair
		}
	}
	if sent >= limit {
		t.Fatalf("the client wrote %d MiB into a relay whose upstream reads nothing", limit>>20)
	}
	relayed := float64(tr.metrics.bytesUp.value())
	t.Logf("the client was stopped after %.1f MiB; the relay completed %.1f MiB", float64(sent)/(1<<20), relayed/(1<<20))
	if relayed > float64(sent) {
		t.Errorf("relayed %v bytes, more than the %d sent", relayed, sent)
	}
	waitFor(t, 10*time.Second, "the stuck pair to be closed", func() bool { return tr.Active() == 0 })
	if got := float64(tr.metrics.errors.WithLabelValues(kindWriteFailed).value()); got != 1 {
		t.Errorf("errors_total{kind=write_failed} = %v, want 1", got)
	}
}

func TestRelay_MaxConnections(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	tr := startRelay(t, RelayOptions{Upstream: echo.URL, MaxConnections: 1})
	first, err := dialRelay(t, tr.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the first pair", func() bool { return tr.Active() == 1 })
	_, err = dialRelay(t, tr.url, nil)
	if de := dialErr(t, err); de.Status != http.StatusServiceUnavailable {
		t.Errorf("second client: %v, want 503", err)
	}
	first.Close()
	waitFor(t, 5*time.Second, "the first pair to end", func() bool { return tr.Active() == 0 })
	if _, err := dialRelay(t, tr.url, nil); err != nil {
		t.Errorf("after the first left: %v", err)
	}
}

// TestRelay_Shutdown: cancelling Serve's context closes every pair with
// 1001 on both sides and refuses new clients.
func TestRelay_Shutdown(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	tr := startRelay(t, RelayOptions{Upstream: echo.URL})
	var conns []*websocket.Conn
	for range 3 {
		c, err := dialRelay(t, tr.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		echoOnce(t, c, "up")
		conns = append(conns, c)
	}
	codes := make(chan int, len(conns))
	for _, c := range conns {
		go func() { code, _ := readClose(c); codes <- code }()
	}
	if err := tr.stop(); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	for range conns {
		if code := receive(t, codes, "close"); code != CloseGoingAway {
			t.Errorf("client got close %d, want 1001", code)
		}
	}
	if n := tr.Active(); n != 0 {
		t.Errorf("Active() = %d after Serve returned", n)
	}
	waitFor(t, 5*time.Second, "the upstream connections to close", func() bool { return echo.live.Load() == 0 })
	if _, err := dialRelay(t, tr.url, nil); err == nil {
		t.Error("dial after shutdown succeeded")
	}
}

func TestNewRelay_Errors(t *testing.T) {
	tests := []struct {
		name string
		opts RelayOptions
		want string
	}{
		{"no upstream", RelayOptions{}, "no upstream"},
		{"bad URL", RelayOptions{Upstream: "ws://%zz"}, "invalid upstream URL"},
		{"http upstream", RelayOptions{Upstream: "http://x/"}, "scheme must be ws or wss"},
		{"bad proxy", RelayOptions{Upstream: "ws://x/", Dial: DialOptions{Proxy: ProxyConfig{URL: "socks5://p"}}}, "not supported"},
		{"negative message size", RelayOptions{Upstream: "ws://x/", MaxMessageSize: -5}, "max message size -5 is negative"},
		{"proxy port out of range", RelayOptions{Upstream: "ws://x/", Dial: DialOptions{Proxy: ProxyConfig{URL: "http://p:99999"}}}, "port 99999 is not in 1..65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewRelay(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewRelay = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRelay_Run(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	r, err := NewRelay(RelayOptions{Upstream: "ws://127.0.0.1:1/", Listen: busy.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("Run on a busy port succeeded")
	}
	r, err = NewRelay(RelayOptions{Upstream: "ws://127.0.0.1:1/", Listen: "127.0.0.1:0", MetricsPath: "-"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context = %v, want nil", err)
	}
}
