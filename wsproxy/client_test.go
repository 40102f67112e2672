package wsproxy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// events records a client's events on channels, one per type.
type events struct {
	open, message, close, errs, reconnect chan Event
}

func recordEvents(c *Client) *events {
	e := &events{
		open: make(chan Event, 100), message: make(chan Event, 100), close: make(chan Event, 100),
		errs: make(chan Event, 100), reconnect: make(chan Event, 100),
	}
	c.On(EventOpen, func(ev Event) { e.open <- ev })
	c.On(EventMessage, func(ev Event) { e.message <- ev })
	c.On(EventClose, func(ev Event) { e.close <- ev })
	c.On(EventError, func(ev Event) { e.errs <- ev })
	c.On(EventReconnect, func(ev Event) { e.reconnect <- ev })
	return e
}

func newTestClient(t *testing.T, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		<-c.Done()
	})
	return c
}

func send(t *testing.T, c *Client, msg string) {
	t.Helper()
	if err := c.Send(context.Background(), TextMessage, []byte(msg)); err != nil {
		t.Fatalf("Send(%q): %v", msg, err)
	}
}

func TestClient_EchoEventsAndClose(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	c := newTestClient(t, ClientOptions{URL: echo.URL})
	ev := recordEvents(c)
	var extra atomic.Int64
	id := c.On(EventMessage, func(Event) { extra.Add(1) })
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	receive(t, ev.open, "open")
	send(t, c, "hello")
	if m := receive(t, ev.message, "message"); string(m.Data) != "hello" || m.MessageType != TextMessage {
		t.Errorf("message = %q (%v), want text %q", m.Data, m.MessageType, "hello")
	}
	if !c.Off(id) || c.Off(id) {
		t.Error("Off(id) should remove the handler once")
	}
	if err := c.Send(context.Background(), BinaryMessage, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, ev.message, "message"); m.MessageType != BinaryMessage {
		t.Errorf("message type %v, want binary", m.MessageType)
	}
	if extra.Load() != 1 {
		t.Errorf("removed handler saw %d messages, want 1", extra.Load())
	}
	if err := c.Connect(context.Background()); err == nil {
		t.Error("a second Connect succeeded; want an error (one live connection)")
	}
	c.Close()
	cl := receive(t, ev.close, "close")
	if cl.Code != CloseNormal || cl.Err != nil {
		t.Errorf("close event = %d %v, want 1000 without error", cl.Code, cl.Err)
	}
	<-c.Done()
	if c.Err() != nil {
		t.Errorf("Err() = %v after Close, want nil", c.Err())
	}
	if err := c.Send(context.Background(), TextMessage, []byte("late")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send after Close = %v, want ErrNotConnected", err)
	}
	if err := c.Connect(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Connect after Close = %v, want ErrClosed", err)
	}
	waitFor(t, 5*time.Second, "the server to see the close", func() bool { return echo.live.Load() == 0 })
	if got := echo.closeCode.Load(); got != CloseNormal {
		t.Errorf("server saw close code %d, want 1000", got)
	}
}

func TestClient_HeadersTokenSubprotocolAndPings(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	c := newTestClient(t, ClientOptions{URL: echo.URL, Dial: DialOptions{
		Header:      http.Header{"X-Trace": {"trace-1"}, "Sec-Websocket-Protocol": {"terminal.v1"}},
		BearerToken: "up-token",
	}})
	ev := recordEvents(c)
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	send(t, c, "header")
	if got, want := string(receive(t, ev.message, "header echo").Data), "Bearer up-token|trace-1|terminal.v1"; got != want {
		t.Errorf("server saw %q, want %q", got, want)
	}
	send(t, c, "ping") // the server pings; the client must answer
	if got := string(receive(t, ev.message, "pong ack").Data); got != "pong received" {
		t.Errorf("got %q, want the server's pong acknowledgement", got)
	}
}

func TestClient_BeforeConnect(t *testing.T) {
	if _, err := NewClient(ClientOptions{}); err == nil {
		t.Error("NewClient without URL succeeded")
	}
	if _, err := NewClient(ClientOptions{URL: "ws://x", Dial: DialOptions{Proxy: ProxyConfig{URL: "ftp://x"}}}); err == nil {
		t.Error("NewClient with an ftp proxy succeeded")
	}
	if _, err := NewClient(ClientOptions{URL: "ws://x", MaxMessageSize: -5}); err == nil || !strings.Contains(err.Error(), "-5 is negative") {
		t.Errorf("NewClient with MaxMessageSize -5 = %v, want an error naming it", err)
	}
	c, err := NewClient(ClientOptions{URL: "ws://127.0.0.1:" + freePort(t) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	ev := recordEvents(c)
	if err := c.Send(context.Background(), TextMessage, nil); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Send before Connect = %v, want ErrNotConnected", err)
	}
	err = c.Connect(context.Background())
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if e := receive(t, ev.errs, "error event"); e.Err != err {
		t.Errorf("error event %v, want the Connect error %v", e.Err, err)
	}
	c.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Close of an unconnected client")
	}
}

// TestClient_HandshakeTimeout covers WS-7: a server (here a proxy) that
// accepts the connection and never answers.
func TestClient_HandshakeTimeout(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	for _, tc := range []struct{ name, url, proxy string }{
		{"silent server", "ws://" + ln.Addr().String() + "/", ""},
		{"silent proxy", "ws://127.0.0.1:1/", "http://" + ln.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, ClientOptions{URL: tc.url, Dial: DialOptions{HandshakeTimeout: 100 * time.Millisecond, Proxy: ProxyConfig{URL: tc.proxy}}})
			// The listener never answers: only the handshake timeout
			// can end the dial, so a timeout error is the proof.
			err := c.Connect(context.Background())
			if err == nil || !isTimeout(err) {
				t.Fatalf("Connect = %v, want a timeout", err)
			}
		})
	}
	t.Run("Close during the dial", func(t *testing.T) {
		c := newTestClient(t, ClientOptions{URL: "ws://127.0.0.1:1/", Dial: DialOptions{Proxy: ProxyConfig{URL: "http://" + ln.Addr().String()}}})
		mu.Lock()
		n := len(held)
		mu.Unlock()
		go func() {
			waitFor(t, 5*time.Second, "the proxy connection", func() bool { mu.Lock(); defer mu.Unlock(); return len(held) > n })
			c.Close()
		}()
		if err := c.Connect(context.Background()); !errors.Is(err, ErrClosed) {
			t.Fatalf("Connect = %v, want ErrClosed", err)
		}
		<-c.Done()
	})
	t.Run("cancelled context", func(t *testing.T) {
		c := newTestClient(t, ClientOptions{URL: "ws://127.0.0.1:1/", Dial: DialOptions{Proxy: ProxyConfig{URL: "http://" + ln.Addr().String()}}})
		ctx, cancel := context.WithCancel(context.Background())
		mu.Lock()
		n := len(held)
		mu.Unlock()
		go func() {
			waitFor(t, 5*time.Second, "the proxy connection", func() bool { mu.Lock(); defer mu.Unlock(); return len(held) > n })
			cancel()
		}()
		if err := c.Connect(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Connect = %v, want context.Canceled", err)
		}
	})
}

// TestClient_SlicedTraffic covers WS-7: a proxy that forwards one byte per
// write; handshakes and frames still parse.
func TestClient_SlicedTraffic(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, true)
	proxy := newGoProxy(t, false, "", "")
	proxy.slice.Store(true)
	c := newTestClient(t, ClientOptions{URL: echo.URL, Dial: DialOptions{Proxy: ProxyConfig{URL: proxy.URL}, CAFile: getPKI(t).caFile}})
	ev := recordEvents(c)
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	msg := strings.Repeat("fragmented ", 100)
	send(t, c, msg)
	if got := string(receive(t, ev.message, "echo").Data); got != msg {
		t.Errorf("echo through a slicing proxy differs: %d bytes, want %d", len(got), len(msg))
	}
}

// TestClient_DeadPeer covers WS-6: the proxy stops forwarding without
// closing, and the client notices within 2 × the ping interval.
func TestClient_DeadPeer(t *testing.T) {
	t.Parallel()
	const interval = 500 * time.Millisecond
	echo := newEchoServer(t, false)
	proxy := newGoProxy(t, false, "u", "p")
	c := newTestClient(t, ClientOptions{URL: echo.URL, PingInterval: interval, Dial: DialOptions{Proxy: ProxyConfig{URL: withUserinfo(proxy.URL, nil), Username: "u", Password: "p"}}})
	ev := recordEvents(c)
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	send(t, c, "alive")
	receive(t, ev.message, "echo")
	// Pings keep a healthy but quiet connection open past 2 × interval:
	// three pings answered span at least three intervals.
	waitFor(t, 10*time.Second, "three pings", func() bool { return echo.pings.Load() >= 3 })
	select {
	case cl := <-ev.close:
		t.Fatalf("healthy idle connection closed: %+v", cl)
	default:
	}
	// Silence, not a closed connection, is what ends it: only the read
	// deadline (2 × interval after the last pong) can produce ErrDeadPeer.
	proxy.blackhole.Store(true)
	cl := receive(t, ev.close, "close after the proxy went silent")
	if !errors.Is(cl.Err, ErrDeadPeer) || cl.Code != CloseAbnormal {
		t.Errorf("close event = %d %v, want 1006 wrapping ErrDeadPeer", cl.Code, cl.Err)
	}
	<-c.Done()
	if !errors.Is(c.Err(), ErrDeadPeer) {
		t.Errorf("Err() = %v, want ErrDeadPeer", c.Err())
	}
}

// TestClient_MessageSizeLimit covers WS-4: the default 1 MiB limit
// accepts exactly 1 MiB and closes with 1009 on one byte more.
func TestClient_MessageSizeLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit int64
		size  int
		want  int // 0: delivered
	}{
		{"default limit, exactly 1 MiB", 0, 1 << 20, 0},
		{"default limit, 1 MiB + 1", 0, 1<<20 + 1, CloseMessageTooBig},
		{"1 KiB limit", 1024, 4096, CloseMessageTooBig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			echo := newEchoServer(t, false)
			c := newTestClient(t, ClientOptions{URL: echo.URL, MaxMessageSize: tc.limit, Reconnect: true})
			ev := recordEvents(c)
			if err := c.Connect(context.Background()); err != nil {
				t.Fatal(err)
			}
			send(t, c, fmt.Sprintf("big %d", tc.size))
			if tc.want == 0 {
				if m := receive(t, ev.message, "big message"); len(m.Data) != tc.size {
					t.Errorf("got %d bytes, want %d", len(m.Data), tc.size)
				}
				return
			}
			cl := receive(t, ev.close, "close")
			if cl.Code != tc.want || !errors.Is(cl.Err, ErrMessageTooBig) {
				t.Errorf("close = %d %v, want %d wrapping ErrMessageTooBig", cl.Code, cl.Err, tc.want)
			}
			waitFor(t, 5*time.Second, "the server to see the close", func() bool { return echo.live.Load() == 0 })
			if got := echo.closeCode.Load(); got != CloseMessageTooBig {
				t.Errorf("server saw close code %d, want 1009", got)
			}
			<-c.Done() // 1009 is not retried
		})
	}
}

// countingDialer counts the client's live TCP connections.
type countingDialer struct {
	live, max, total atomic.Int64
}

func (d *countingDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	n := d.live.Add(1)
	d.total.Add(1)
	for m := d.max.Load(); n > m && !d.max.CompareAndSwap(m, n); m = d.max.Load() {
	}
	return &countedConn{Conn: c, d: d}, nil
}

type countedConn struct {
	net.Conn
	d    *countingDialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.d.live.Add(-1) })
	return c.Conn.Close()
}

// TestClient_ReconnectUnderResets covers WS-5: the proxy resets every
// tunnel again and again; the client reconnects each time, never holds two
// connections, and its "subscribe" (sent on open) is live exactly once.
func TestClient_ReconnectUnderResets(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	proxy := newGoProxy(t, false, "u", "pw")
	var cd countingDialer
	var w waits
	c := newTestClient(t, ClientOptions{
		URL:       echo.URL,
		Reconnect: true,
		Backoff:   Backoff{Min: time.Second, Max: 4 * time.Second, Sleep: w.sleep},
		Dial:      DialOptions{Proxy: ProxyConfig{URL: withUserinfo(proxy.URL, nil), Username: "u", Password: "pw"}, NetDialContext: cd.dial},
	})
	ev := recordEvents(c)
	c.On(EventOpen, func(Event) {
		if err := c.Send(context.Background(), TextMessage, []byte("subscribe")); err != nil {
			t.Errorf("subscribe: %v", err)
		}
	})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	const resets = 15
	for i := 0; i <= resets; i++ {
		receive(t, ev.open, "open")
		waitFor(t, 5*time.Second, "one live subscribed connection", func() bool {
			return echo.subs.Load() == 1 && echo.live.Load() == 1
		})
		if i < resets {
			proxy.resetAll()
		}
	}
	if got := cd.max.Load(); got != 1 {
		t.Errorf("the client held %d connections at once, want 1", got)
	}
	if got := echo.accepted.Load(); got != resets+1 {
		t.Errorf("server accepted %d connections, want %d", got, resets+1)
	}
	// Each reconnection attempt asks Sleep for the delay its event
	// announced, within [Min/2, Max].
	got := w.all()
	if len(got) < resets {
		t.Errorf("%d waits, want at least %d (one per reset)", len(got), resets)
	}
	for i := 0; len(ev.reconnect) > 0; i++ {
		r := <-ev.reconnect
		if r.Attempt < 1 || r.Delay < 500*time.Millisecond || r.Delay > 4*time.Second || i >= len(got) || got[i] != r.Delay {
			t.Errorf("reconnect event %d %+v: want attempt ≥ 1, a delay in [500ms, 4s] and the same wait asked of Sleep (waits %v)", i, r, got)
		}
	}
	send(t, c, "still here")
	for m := range ev.message {
		if string(m.Data) == "still here" {
			break
		}
	}
}

// TestClient_ReconnectStops checks when the client gives up: on refused
// credentials (at once), after MaxReconnectAttempts, on Close during the
// backoff, and on a normal close by the server.
func TestClient_ReconnectStops(t *testing.T) {
	t.Parallel()
	t.Run("credentials refused", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		proxy := newGoProxy(t, false, "u", "pw-Canary-1")
		var logs logBuffer
		c := newTestClient(t, ClientOptions{URL: echo.URL, Reconnect: true, Backoff: Backoff{Min: time.Millisecond},
			Logger: debugLogger(&logs),
			Dial:   DialOptions{Proxy: ProxyConfig{URL: withUserinfo(proxy.URL, nil), Username: "u", Password: "pw-Canary-1"}}})
		ev := recordEvents(c)
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		rotated := "rotated-pw"
		proxy.pass.Store(&rotated)
		proxy.resetAll()
		<-c.Done()
		if !errors.Is(c.Err(), ErrProxyAuth) {
			t.Errorf("Err() = %v, want ErrProxyAuth", c.Err())
		}
		if n := len(ev.errs); n != 1 {
			t.Errorf("%d error events, want 1 (no retry after an auth failure)", n)
		}
		if strings.Contains(logs.String(), "pw-Canary-1") || strings.Contains(c.Err().Error(), "pw-Canary-1") {
			t.Errorf("logs or error show the proxy password: %v\n%s", c.Err(), logs.String())
		}
	})
	t.Run("max attempts", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		var w waits
		c := newTestClient(t, ClientOptions{URL: echo.URL, Reconnect: true, MaxReconnectAttempts: 3,
			Backoff: Backoff{Min: time.Second, Sleep: w.sleep}})
		ev := recordEvents(c)
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		echo.closeAll()
		<-c.Done()
		if err := c.Err(); err == nil || !strings.Contains(err.Error(), "gave up after 3 reconnection attempts") {
			t.Errorf("Err() = %v, want gave up after 3", err)
		}
		if n := len(ev.reconnect); n != 3 {
			t.Errorf("%d reconnect events, want 3", n)
		}
		// The waits double: attempt n waits in [2ⁿ⁻¹/2, 2ⁿ⁻¹] seconds.
		got := w.all()
		for n, d := range got {
			if ceil := time.Second << n; d < ceil/2 || d > ceil {
				t.Errorf("wait before attempt %d = %v, want in [%v, %v]", n+1, d, ceil/2, ceil)
			}
		}
		if len(got) != 3 {
			t.Errorf("waits %v, want 3", got)
		}
	})
	t.Run("close during backoff", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		// Sleep blocks until Close cancels it, as the real one would.
		waiting := make(chan time.Duration, 1)
		c := newTestClient(t, ClientOptions{URL: echo.URL, Reconnect: true, Backoff: Backoff{Min: time.Minute,
			Sleep: func(ctx context.Context, d time.Duration) error {
				waiting <- d
				<-ctx.Done()
				return ctx.Err()
			}}})
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		send(t, c, "close 1001")
		if d := receive(t, waiting, "the backoff wait"); d < 15*time.Second || d > MaxBackoff {
			t.Errorf("wait %s, want within [15s, 30s] (Min 1m is capped at 30s)", d)
		}
		c.Close()
		<-c.Done()
		if c.Err() != nil {
			t.Errorf("Err() = %v, want nil after Close", c.Err())
		}
	})
	t.Run("normal close by the server", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		c := newTestClient(t, ClientOptions{URL: echo.URL, Reconnect: true, Backoff: Backoff{Min: time.Millisecond}})
		ev := recordEvents(c)
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		send(t, c, "close 1000")
		if cl := receive(t, ev.close, "close"); cl.Code != CloseNormal || cl.Reason != "bye" || cl.Err != nil {
			t.Errorf("close = %+v, want 1000 bye", cl)
		}
		<-c.Done()
		if c.Err() != nil || len(ev.reconnect) != 0 {
			t.Errorf("Err() = %v, %d reconnects; want nil, 0", c.Err(), len(ev.reconnect))
		}
	})
	t.Run("policy close is an error", func(t *testing.T) {
		t.Parallel()
		echo := newEchoServer(t, false)
		c := newTestClient(t, ClientOptions{URL: echo.URL, Reconnect: true})
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		send(t, c, "close 1008")
		<-c.Done()
		if err := c.Err(); err == nil || !strings.Contains(err.Error(), "1008") {
			t.Errorf("Err() = %v, want the 1008 close", err)
		}
	})
}

// waits is a Backoff.Sleep that records each wait and returns at once,
// so backoff is checked by value, never by the clock.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

func TestClient_SendCancelled(t *testing.T) {
	t.Parallel()
	echo := newEchoServer(t, false)
	c := newTestClient(t, ClientOptions{URL: echo.URL})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Send(ctx, TextMessage, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestBackoff_Delay(t *testing.T) {
	fixed := func(v float64) func() float64 { return func() float64 { return v } }
	tests := []struct {
		name    string
		b       Backoff
		attempt int
		want    time.Duration
	}{
		{"first, no jitter", Backoff{Rand: fixed(0)}, 1, 250 * time.Millisecond},
		{"first, full jitter", Backoff{Rand: fixed(1)}, 1, 500 * time.Millisecond},
		{"doubles", Backoff{Min: time.Second, Rand: fixed(1)}, 4, 8 * time.Second},
		{"capped at Max", Backoff{Min: time.Second, Max: 5 * time.Second, Rand: fixed(1)}, 10, 5 * time.Second},
		{"capped at 30s", Backoff{Min: time.Second, Max: time.Hour, Rand: fixed(1)}, 1000, 30 * time.Second},
		{"attempt 0 is 1", Backoff{Min: time.Second, Rand: fixed(1)}, 0, time.Second},
		{"min above max", Backoff{Min: time.Minute, Max: 2 * time.Second, Rand: fixed(1)}, 1, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.attempt); got != tc.want {
				t.Errorf("Delay(%d) = %s, want %s", tc.attempt, got, tc.want)
			}
		})
	}
}

// TestBackoff_Jitter checks that 100 clients failing together spread their
// retries (KV-6's measure) and stay within [ceil/2, ceil].
func TestBackoff_Jitter(t *testing.T) {
	b := Backoff{Min: time.Second}
	var sum, sumSq float64
	for range 100 {
		d := b.Delay(3)
		if d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("Delay(3) = %s, want within [2s, 4s]", d)
		}
		sum += d.Seconds()
		sumSq += d.Seconds() * d.Seconds()
	}
	mean := sum / 100
	sd := math.Sqrt(sumSq/100 - mean*mean)
	if sd/mean < 0.1 {
		t.Errorf("stddev/mean = %.3f, want ≥ 0.1 (jitter)", sd/mean)
	}
}

func TestMessageType_String(t *testing.T) {
	for mt, want := range map[MessageType]string{TextMessage: "text", BinaryMessage: "binary", 9: "MessageType(9)"} {
		if got := mt.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(mt), got, want)
		}
	}
}
