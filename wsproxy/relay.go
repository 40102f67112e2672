package wsproxy

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults of RelayOptions.
const (
	DefaultRelayListen     = "127.0.0.1:8091"
	DefaultIdleTimeout     = 5 * time.Minute
	DefaultRelayWrite      = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultMetricsPath     = "/metrics"
)

// relayBufferSize is the size of the write buffers, which the relay's
// connections borrow from a shared pool only while they write a message,
// so idle connections hold none. Messages are streamed through them in
// frames of this size and never held whole.
const relayBufferSize = 32 << 10

// upstreamReadBufferSize is the read buffer of each upstream connection,
// held for the connection's life. (The client side reuses net/http's
// 4 KiB buffer.) Large messages bypass it.
const upstreamReadBufferSize = 4 << 10

// RelayOptions configures a Relay.
type RelayOptions struct {
	// Listen is the address Run listens on. Optional; "" means
	// DefaultRelayListen (127.0.0.1:8091).
	Listen string
	// Upstream is the ws:// or wss:// URL each client is joined to, each
	// through its own connection. Required.
	Upstream string
	// Dial says how to reach Upstream: proxy, CA file, headers, bearer
	// token towards the upstream, handshake timeout.
	Dial DialOptions
	// Token, when set, is required from clients as
	// "Authorization: Bearer <Token>" (compared in constant time); others
	// get 401. Optional.
	Token string
	// AllowOrigins lists the Origin values browsers may connect from, such
	// as "https://dashboard.example.com"; "*" allows any. Requests without
	// an Origin header (non-browser clients) are always allowed. Optional;
	// empty means only an Origin whose host equals the request's Host.
	AllowOrigins []string
	// MaxMessageSize is the largest message relayed, either way; a larger
	// one closes the sender's connection with 1009 and the other side's
	// with 1009 too. Optional; 0 means DefaultMaxMessageSize (1 MiB).
	MaxMessageSize int64
	// IdleTimeout closes a pair (1001, "idle timeout") when no message has
	// gone either way for this long. Optional; 0 means DefaultIdleTimeout,
	// negative means never.
	IdleTimeout time.Duration
	// WriteTimeout bounds the relaying of one message to a side that does
	// not read; after it the pair is closed. Optional; 0 means
	// DefaultRelayWrite.
	WriteTimeout time.Duration
	// CloseTimeout is how long a side has to answer a close frame before
	// its connection is dropped. Optional; 0 means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown when Run's context
	// ends. Optional; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MaxConnections caps the relayed pairs; further clients get 503.
	// Optional; 0 means no cap (the file descriptor limit is then the cap).
	MaxConnections int
	// MetricsPath is where the metrics are served, in the Prometheus text
	// format, on the relay's own listener. Optional; "" means
	// DefaultMetricsPath, "-" turns it off.
	MetricsPath string
	// Logger receives the relay's records. Optional; nil discards them.
	Logger *slog.Logger
}

// Relay joins each WebSocket client to its own upstream connection. It is
// an http.Handler; Run and Serve add a listener and graceful shutdown.
type Relay struct {
	opts     RelayOptions
	dialer   *Dialer
	upgrader websocket.Upgrader
	metrics  *relayMetrics
	log      *slog.Logger
	allow    []string // normalised AllowOrigins

	mu       sync.Mutex
	pairs    map[*pair]struct{}
	reserved int  // pairs plus upgrades in progress
	shutting bool // no new pairs
	wg       sync.WaitGroup
}

// NewRelay checks opts and returns a Relay.
func NewRelay(opts RelayOptions) (*Relay, error) {
	if opts.Upstream == "" {
		return nil, errors.New("relay: no upstream URL")
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("relay: invalid upstream URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("relay: upstream %s: scheme must be ws or wss", redactURL(u))
	}
	if opts.Listen == "" {
		opts.Listen = DefaultRelayListen
	}
	if opts.MaxMessageSize < 0 {
		return nil, fmt.Errorf("relay: max message size %d is negative (want bytes, 0 for the default %d)", opts.MaxMessageSize, DefaultMaxMessageSize)
	}
	if opts.MaxMessageSize == 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultRelayWrite
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = DefaultCloseTimeout
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.MetricsPath == "" {
		opts.MetricsPath = DefaultMetricsPath
	}
	if opts.Dial.Logger == nil {
		opts.Dial.Logger = opts.Logger
	}
	d, err := NewDialer(opts.Dial)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	pool := &sync.Pool{}
	d.readBufferSize = upstreamReadBufferSize
	d.writeBufferSize = relayBufferSize
	d.writeBufferPool = pool
	r := &Relay{
		opts:    opts,
		dialer:  d,
		metrics: newRelayMetrics(),
		log:     opts.Logger,
		pairs:   map[*pair]struct{}{},
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, o := range opts.AllowOrigins {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o != "" {
			r.allow = append(r.allow, strings.ToLower(o))
		}
	}
	r.upgrader = websocket.Upgrader{
		HandshakeTimeout: d.opts.HandshakeTimeout,
		WriteBufferSize:  relayBufferSize,
		WriteBufferPool:  pool,
		// The Origin was checked before the upstream was dialled.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, http.StatusText(status), status)
		},
	}
	return r, nil
}

// Run listens on opts.Listen and relays until ctx ends, then shuts down
// gracefully (see Serve).
func (r *Relay) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.opts.Listen)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	return r.Serve(ctx, ln)
}

// Serve relays the connections accepted on ln until ctx ends. Then it
// stops accepting, closes every pair with 1001 "relay shutting down" on
// both sides, waits for them to close (at most ShutdownTimeout, after which
// it drops them) and returns nil. It closes ln. A Relay serves once: after
// Serve returns it refuses new clients with 503.
func (r *Relay) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: r.dialer.opts.HandshakeTimeout,
		// A plain-HTTP keep-alive connection (a /metrics scrape, a probe)
		// that goes idle is closed after the handshake timeout too, so idle
		// connections cannot starve handshakes of file descriptors.
		IdleTimeout: r.dialer.opts.HandshakeTimeout,
		BaseContext: func(net.Listener) context.Context { return base },
		ErrorLog:    slog.NewLogLogger(r.log.Handler(), slog.LevelDebug),
	}
	r.log.Info("relay listening", "addr", ln.Addr().String(), "upstream", r.dialer.redactTarget(r.opts.Upstream))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	r.mu.Lock()
	r.shutting = true
	n := len(r.pairs)
	r.mu.Unlock()
	r.log.Info("relay shutting down", "pairs", n)
	sctx, cancel := context.WithTimeout(context.Background(), r.opts.ShutdownTimeout)
	defer cancel()
	cancelBase() // abort upstream dials in progress
	_ = srv.Shutdown(sctx)
	if serveErr == nil {
		<-errc
	}
	r.closeAll(sctx)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("relay: %w", serveErr)
	}
	return nil
}

// Route tells how the relay reaches its upstream: "(direct)" or "via proxy
// URL", with the proxy password redacted.
func (r *Relay) Route() string { return r.dialer.Route(r.opts.Upstream) }

// Active returns the number of relayed pairs.
func (r *Relay) Active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pairs)
}

// closeAll ends every pair and waits for them, dropping the connections
// that have not closed when ctx ends.
func (r *Relay) closeAll(ctx context.Context) {
	r.mu.Lock()
	ps := make([]*pair, 0, len(r.pairs))
	for p := range r.pairs {
		ps = append(ps, p)
	}
	r.mu.Unlock()
	for _, p := range ps {
		go p.terminate(CloseGoingAway, "relay shutting down", "")
	}
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	r.mu.Lock()
	for p := range r.pairs {
		p.drop()
	}
	r.mu.Unlock()
	<-done
}

// ServeHTTP serves the metrics at MetricsPath and relays WebSocket
// upgrades on every other path.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.opts.MetricsPath != "-" && req.URL.Path == r.opts.MetricsPath {
		r.metrics.serveMetrics(w, req)
		return
	}
	r.wg.Add(1)
	defer r.wg.Done()
	log := r.log.With("remote", req.RemoteAddr)
	if !r.originAllowed(req) {
		log.Warn("relay refused a client", "reason", "origin not allowed", "origin", req.Header.Get("Origin"))
		r.refuse(w, http.StatusForbidden, resultForbiddenOrigin)
		return
	}
	if !r.authorized(req) {
		log.Warn("relay refused a client", "reason", "missing or wrong bearer token")
		w.Header().Set("WWW-Authenticate", `Bearer realm="edgeconf ws relay"`)
		r.refuse(w, http.StatusUnauthorized, resultUnauthorized)
		return
	}
	if !websocket.IsWebSocketUpgrade(req) {
		r.refuse(w, http.StatusBadRequest, resultBadRequest)
		return
	}
	if !r.reserve() {
		log.Warn("relay refused a client", "reason", "at capacity or shutting down")
		r.refuse(w, http.StatusServiceUnavailable, resultOverCapacity)
		return
	}
	up, _, err := r.dialer.dial(req.Context(), r.opts.Upstream, websocket.Subprotocols(req))
	if err != nil {
		r.release()
		log.Warn("relay: upstream dial failed", "err", err)
		r.metrics.errors.WithLabelValues(kindUpstreamDial).Inc()
		r.refuse(w, http.StatusBadGateway, resultUpstreamFailed)
		return
	}
	var hdr http.Header
	if p := up.Subprotocol(); p != "" {
		hdr = http.Header{"Sec-Websocket-Protocol": {p}}
	}
	client, err := r.upgrader.Upgrade(w, req, hdr)
	if err != nil { // the upgrader has answered the client
		up.Close()
		r.release()
		r.metrics.connections.WithLabelValues(resultBadRequest).Inc()
		return
	}
	r.metrics.connections.WithLabelValues(resultAccepted).Inc()
	r.start(client, up)
}

func (r *Relay) refuse(w http.ResponseWriter, status int, result string) {
	r.metrics.connections.WithLabelValues(result).Inc()
	http.Error(w, http.StatusText(status), status)
}

func (r *Relay) originAllowed(req *http.Request) bool {
	origin := req.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(r.allow) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, req.Host)
	}
	origin = strings.ToLower(strings.TrimSuffix(origin, "/"))
	for _, o := range r.allow {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

func (r *Relay) authorized(req *http.Request) bool {
	if r.opts.Token == "" {
		return true
	}
	h := req.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[7:])), []byte(r.opts.Token)) == 1
}

func (r *Relay) reserve() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutting || r.opts.MaxConnections > 0 && r.reserved >= r.opts.MaxConnections {
		return false
	}
	r.reserved++
	return true
}

func (r *Relay) release() {
	r.mu.Lock()
	r.reserved--
	r.mu.Unlock()
}

// start joins client and upstream and returns; two fresh goroutines (with
// small stacks, unlike the handler's) relay the two directions.
func (r *Relay) start(client, upstream *websocket.Conn) {
	p := &pair{r: r, client: client, upstream: upstream}
	client.SetReadLimit(r.opts.MaxMessageSize)
	upstream.SetReadLimit(r.opts.MaxMessageSize)
	// Close frames are passed on by the pumps, not answered here.
	client.SetCloseHandler(ignoreClose)
	upstream.SetCloseHandler(ignoreClose)
	p.touch()
	r.mu.Lock()
	if r.shutting {
		r.mu.Unlock()
		p.sendClose(client, CloseGoingAway, "relay shutting down")
		p.sendClose(upstream, CloseGoingAway, "relay shutting down")
		client.Close()
		upstream.Close()
		r.release()
		return
	}
	r.pairs[p] = struct{}{}
	r.wg.Add(2)
	r.mu.Unlock()
	r.metrics.active.Inc()
	if r.opts.IdleTimeout > 0 {
		p.mu.Lock()
		p.idle = time.AfterFunc(r.opts.IdleTimeout, p.checkIdle)
		p.mu.Unlock()
	}
	go p.pump(true)
	go p.pump(false)
}

func ignoreClose(int, string) error { return nil }

// pair is one client joined to its upstream connection.
type pair struct {
	r                *Relay
	client, upstream *websocket.Conn
	last             atomic.Int64 // UnixNano of the last relayed message

	mu     sync.Mutex
	idle   *time.Timer // closes the pair after IdleTimeout without messages
	ending bool        // a close has started
	ended  int         // pumps that returned
	kill   *time.Timer // drops both connections if the close stalls
}

func (p *pair) touch() { p.last.Store(time.Now().UnixNano()) }

// errReader remembers the error of the reader it wraps, to tell read
// errors from write errors after io.Copy.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// pump relays the messages of one direction until either side fails.
// A message is streamed frame by frame: while the destination does not
// read, the copy blocks and the source is not read either, so TCP flow
// control slows the sender and memory stays bounded.
func (p *pair) pump(up bool) {
	defer p.r.wg.Done()
	src, dst := p.upstream, p.client
	bytes, msgs := p.r.metrics.bytesDown, p.r.metrics.msgsDown
	if up {
		src, dst = p.client, p.upstream
		bytes, msgs = p.r.metrics.bytesUp, p.r.metrics.msgsUp
	}
	er := &errReader{}
	for {
		t, rd, err := src.NextReader()
		if err != nil {
			p.end(up, err, true)
			return
		}
		_ = dst.SetWriteDeadline(time.Now().Add(p.r.opts.WriteTimeout))
		w, err := dst.NextWriter(t)
		if err != nil {
			p.end(up, err, false)
			return
		}
		er.r, er.err = rd, nil
		n, err := io.Copy(w, er)
		if err == nil {
			err = w.Close()
		}
		if err != nil {
			p.end(up, err, er.err != nil)
			return
		}
		bytes.Add(float64(n))
		msgs.Inc()
		p.touch()
	}
}

// end records that the pump of one direction stopped with err, which came
// from reading its source (readErr) or writing its destination. A clean
// close frame is passed on to the other side whenever it comes, so the close
// handshake runs end to end (the relay does not answer closes itself, and
// messages the far side sends before its answer still arrive). Otherwise the
// first end closes the other side with a fitting code; the second cleans up.
func (p *pair) end(up bool, err error, readErr bool) {
	p.mu.Lock()
	p.ended++
	first, last := !p.ending, p.ended == 2
	p.ending = true
	p.mu.Unlock()
	src, dst := p.upstream, p.client
	srcLost, dstLost := kindUpstreamLost, kindClientLost
	if up {
		src, dst = p.client, p.upstream
		srcLost, dstLost = kindClientLost, kindUpstreamLost
	}
	var ce *websocket.CloseError
	switch {
	case readErr && errors.As(err, &ce) && ce.Code != CloseAbnormal: // gorilla reports a lost connection as 1006
		p.closeOther(dst, ce.Code, ce.Text)
	case !first: // already closing; this direction has simply ended
	case !readErr: // dst is stuck or gone
		kind := dstLost
		if isTimeout(err) {
			kind = kindWriteFailed
		}
		p.fail(kind, err, src, dst)
	case errors.Is(err, websocket.ErrReadLimit): // gorilla has sent src 1009
		p.r.metrics.errors.WithLabelValues(kindMessageTooBig).Inc()
		p.closeOther(dst, CloseMessageTooBig, "message too big")
	default: // src is gone
		p.fail(srcLost, err, dst, src)
	}
	if last {
		p.cleanup()
	}
}

// fail handles a broken connection: it tells the healthy side, drops the
// broken one, and counts the failure.
func (p *pair) fail(kind string, err error, healthy, broken *websocket.Conn) {
	p.r.metrics.errors.WithLabelValues(kind).Inc()
	p.r.log.Debug("relay pair failed", "kind", kind, "err", err)
	broken.Close()
	// To the client, a lost upstream is the relay's unexpected condition
	// (1011; 1014 "bad gateway" is refused by gorilla and other clients).
	code := CloseGoingAway
	if healthy == p.client {
		code = CloseInternalError
	}
	p.closeOther(healthy, code, strings.ReplaceAll(kind, "_", " "))
}

// closeOther sends a close frame to c and gives it CloseTimeout to answer
// before both connections are dropped.
func (p *pair) closeOther(c *websocket.Conn, code int, reason string) {
	p.armKill()
	p.sendClose(c, code, reason)
}

// terminate closes both sides with code, for an idle timeout or a
// shutdown; kind is counted unless "".
func (p *pair) terminate(code int, reason, kind string) {
	p.mu.Lock()
	if p.ending {
		p.mu.Unlock()
		return
	}
	p.ending = true
	p.mu.Unlock()
	if kind != "" {
		p.r.metrics.errors.WithLabelValues(kind).Inc()
	}
	p.armKill()
	p.sendClose(p.client, code, reason)
	p.sendClose(p.upstream, code, reason)
}

// sendClose sends a close frame (at most one per connection: gorilla
// refuses a second with ErrCloseSent). A connection that cannot take it is
// dropped.
func (p *pair) sendClose(c *websocket.Conn, code int, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	wait := min(p.r.opts.CloseTimeout, time.Second)
	err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(wait))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		c.Close()
	}
}

func (p *pair) armKill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kill == nil {
		p.kill = time.AfterFunc(p.r.opts.CloseTimeout, p.drop)
	}
}

// drop closes both connections, which ends both pumps.
func (p *pair) drop() {
	p.client.Close()
	p.upstream.Close()
}

// checkIdle closes the pair if nothing was relayed for IdleTimeout, and
// else waits for the rest of it.
func (p *pair) checkIdle() {
	idle := p.r.opts.IdleTimeout
	since := time.Since(time.Unix(0, p.last.Load()))
	if since >= idle {
		p.terminate(CloseGoingAway, "idle timeout", kindIdleTimeout)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ending {
		p.idle.Reset(idle - since)
	}
}

func (p *pair) cleanup() {
	p.mu.Lock()
	if p.kill != nil {
		p.kill.Stop()
	}
	if p.idle != nil {
		p.idle.Stop()
	}
	p.mu.Unlock()
	p.drop()
	r := p.r
	r.mu.Lock()
	delete(r.pairs, p)
	r.reserved--
	r.mu.Unlock()
	r.metrics.active.Dec()
}
