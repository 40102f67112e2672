package wsproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Errors that callers branch on. They are wrapped by [*DialError] and the
// other errors of this package; test for them with errors.Is.
var (
	// ErrProxyAuth means the proxy refused the credentials, or asked for
	// some and none were configured: a 407, or the 401 that tinyproxy 1.11
	// answers for a wrong password.
	ErrProxyAuth = errors.New("proxy authentication failed")
	// ErrProxyRefused means the proxy answered CONNECT with another error
	// status, such as 403 (target not allowed) or 503 (target unreachable).
	ErrProxyRefused = errors.New("proxy refused the connection")
	// ErrHandshake means the WebSocket server answered the opening
	// handshake with something other than 101 Switching Protocols;
	// [DialError.Status] holds its status code.
	ErrHandshake = errors.New("websocket handshake refused")
)

// DefaultHandshakeTimeout bounds a dial when DialOptions.HandshakeTimeout
// is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// DialOptions says how to reach a WebSocket server.
type DialOptions struct {
	// Proxy selects the proxy; the zero value dials directly.
	Proxy ProxyConfig
	// CAFile is a PEM file of CA certificates trusted, besides the system
	// roots, for wss:// servers and https:// proxies. Optional.
	CAFile string
	// Header holds extra headers for the opening handshake, such as
	// Cookie or a subprotocol. Optional.
	Header http.Header
	// BearerToken, when set, is sent to the server (not the proxy) as
	// "Authorization: Bearer <token>". Optional.
	BearerToken string
	// HandshakeTimeout bounds the whole dial: TCP, proxy CONNECT, TLS and
	// the WebSocket handshake. Optional; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// NetDialContext opens TCP connections, to the proxy or to the server.
	// Optional; nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger receives debug records of dials. Optional; nil discards them.
	Logger *slog.Logger
}

// Dialer opens WebSocket connections according to its DialOptions. It is
// safe for concurrent use.
type Dialer struct {
	opts    DialOptions
	proxy   *proxySelector
	tls     *tls.Config // RootCAs for the server and the proxy; nil: system roots
	log     *slog.Logger
	netDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// Buffer settings of the gorilla connections (the Relay tunes them).
	readBufferSize  int
	writeBufferSize int
	writeBufferPool websocket.BufferPool
}

// NewDialer checks opts, loads the CA file and returns a Dialer.
func NewDialer(opts DialOptions) (*Dialer, error) {
	p, err := newProxySelector(opts.Proxy)
	if err != nil {
		return nil, err
	}
	d := &Dialer{opts: opts, proxy: p, log: opts.Logger, netDial: opts.NetDialContext}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.netDial == nil {
		d.netDial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	if d.opts.HandshakeTimeout <= 0 {
		d.opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.CAFile != "" {
		pool, err := loadCAFile(opts.CAFile)
		if err != nil {
			return nil, err
		}
		d.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return d, nil
}

// loadCAFile returns the system roots plus the certificates of a PEM file.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// DialError reports a failed dial. Its text names the target and the
// proxy, with the proxy password replaced by "xxxxx" and any query string
// of the target left out.
type DialError struct {
	Target string // the WebSocket URL, redacted
	Proxy  string // the proxy URL, redacted; "" for a direct connection
	// Status is the HTTP status code of the proxy's answer to CONNECT or
	// of the server's answer to the handshake, 0 when there was none.
	Status int
	Err    error
}

func (e *DialError) Error() string {
	via := "(direct)"
	if e.Proxy != "" { // the same words as Route
		via = "via proxy " + e.Proxy
	}
	return fmt.Sprintf("dial %s %s: %v", e.Target, via, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// proxyStatusError is the tunnel's failure when the proxy answers CONNECT
// with a status other than 2xx.
type proxyStatusError struct {
	code int
	err  error
}

func (e *proxyStatusError) Error() string { return e.err.Error() }
func (e *proxyStatusError) Unwrap() error { return e.err }

// Dial opens a WebSocket connection to target, a ws:// or wss:// URL.
// It returns a *DialError on failure.
func (d *Dialer) Dial(ctx context.Context, target string) (*websocket.Conn, error) {
	c, _, err := d.dial(ctx, target, nil)
	return c, err
}

// dial is Dial with subprotocols to request (the Relay passes its
// client's); it also returns the server's handshake response.
func (d *Dialer) dial(ctx context.Context, target string, subprotocols []string) (*websocket.Conn, *http.Response, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid WebSocket URL: %w", unwrapURLError(err))
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, nil, fmt.Errorf("WebSocket URL %s: scheme must be ws or wss", redactURL(u))
	}
	if u.Hostname() == "" {
		return nil, nil, fmt.Errorf("WebSocket URL %s: no host", redactURL(u))
	}
	if u.User != nil {
		return nil, nil, fmt.Errorf("WebSocket URL %s: credentials in the URL are not sent; put them in a header", redactURL(u))
	}
	derr := &DialError{Target: redactURL(u)}
	proxyURL, err := d.proxy.proxyFor(u)
	if err != nil {
		derr.Err = err
		return nil, nil, derr
	}
	derr.Proxy = redactURL(proxyURL)
	gd := &websocket.Dialer{
		HandshakeTimeout: d.opts.HandshakeTimeout,
		TLSClientConfig:  d.tls,
		ReadBufferSize:   d.readBufferSize,
		WriteBufferSize:  d.writeBufferSize,
		WriteBufferPool:  d.writeBufferPool,
		Subprotocols:     subprotocols,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if proxyURL == nil {
				return d.netDial(ctx, network, addr)
			}
			return d.tunnel(ctx, proxyURL, addr)
		},
	}
	header := d.opts.Header.Clone()
	if d.opts.BearerToken != "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Authorization", "Bearer "+d.opts.BearerToken)
	}
	d.log.DebugContext(ctx, "websocket dial", "target", derr.Target, "proxy", derr.Proxy)
	conn, resp, err := gd.DialContext(ctx, u.String(), header)
	if err == nil {
		return conn, resp, nil
	}
	var pse *proxyStatusError
	switch {
	case errors.Is(err, websocket.ErrBadHandshake) && resp != nil:
		derr.Status = resp.StatusCode
		derr.Err = fmt.Errorf("%w: the server answered %s", ErrHandshake, resp.Status)
	case errors.As(err, &pse):
		derr.Status = pse.code
		derr.Err = err
	case ctx.Err() == nil && isTimeout(err):
		derr.Err = fmt.Errorf("handshake timed out after %s: %w", d.opts.HandshakeTimeout, err)
	default:
		derr.Err = err
	}
	d.log.DebugContext(ctx, "websocket dial failed", "err", derr)
	return nil, resp, derr
}

// unwrapURLError drops url.Error's copy of the URL, which may hold
// credentials.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// tunnel connects to the proxy and asks it with CONNECT for a tunnel to
// addr (host:port). The proxy's own TLS, for https:// proxies, is done here;
// the server's TLS, for wss:// targets, is done by the caller inside the
// tunnel.
func (d *Dialer) tunnel(ctx context.Context, proxyURL *url.URL, addr string) (conn net.Conn, err error) {
	raw, err := d.netDial(ctx, "tcp", hostPort(proxyURL))
	if err != nil {
		return nil, fmt.Errorf("connect to proxy: %w", err)
	}
	conn = raw
	defer func() {
		if err != nil {
			raw.Close()
		}
	}()
	// The exchange below blocks on reads; end it when ctx ends.
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() || err != nil && ctx.Err() != nil {
			if err == nil {
				raw.Close()
			}
			conn, err = nil, fmt.Errorf("proxy CONNECT: %w", ctx.Err())
		}
	}()

	if proxyURL.Scheme == "https" {
		cfg := &tls.Config{ServerName: proxyURL.Hostname(), MinVersion: tls.VersionTLS12}
		if d.tls != nil {
			cfg.RootCAs = d.tls.RootCAs
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake with proxy: %w", err)
		}
		conn = tc
	}

	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: edgeconf-wsproxy\r\n", addr, addr)
	user, hasCreds := "", false
	if proxyURL.User != nil {
		user, hasCreds = proxyURL.User.Username(), true
		pass, _ := proxyURL.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		b.WriteString("Proxy-Authorization: Basic " + cred + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, fmt.Errorf("proxy CONNECT: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("proxy CONNECT: reading the answer: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, connectStatusError(resp, addr, user, hasCreds)
	}
	_ = conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// connectStatusError explains a proxy's refusal of CONNECT.
func connectStatusError(resp *http.Response, addr, user string, hasCreds bool) error {
	code := resp.StatusCode
	if code == http.StatusProxyAuthRequired || code == http.StatusUnauthorized {
		why := "no credentials were sent (put user:password in the proxy URL or configure the proxy password)"
		if hasCreds {
			why = fmt.Sprintf("the proxy rejected the credentials of user %q", user)
		}
		return &proxyStatusError{code: code, err: fmt.Errorf("%w: the proxy answered %s; %s", ErrProxyAuth, resp.Status, why)}
	}
	return &proxyStatusError{code: code, err: fmt.Errorf("%w: CONNECT %s: the proxy answered %s", ErrProxyRefused, addr, resp.Status)}
}

// bufferedConn is a connection whose first bytes were already read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) {
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// permanent reports whether a dial error will not go away by retrying:
// refused credentials, a certificate that does not verify, or a 4xx
// answer to the handshake other than 408 and 429.
func permanent(err error) bool {
	if errors.Is(err, ErrProxyAuth) {
		return true
	}
	var de *DialError
	if errors.As(err, &de) && errors.Is(err, ErrHandshake) && de.Status >= 400 && de.Status < 500 &&
		de.Status != http.StatusRequestTimeout && de.Status != http.StatusTooManyRequests {
		return true
	}
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	return errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie)
}

// Route tells how Dial would reach target: "(direct)" or "via proxy URL"
// with the proxy password redacted, as DialError shows it.
func (d *Dialer) Route(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "(invalid URL)"
	}
	p, err := d.proxy.proxyFor(u)
	switch {
	case err != nil:
		return "(invalid proxy)"
	case p == nil:
		return "(direct)"
	}
	return "via proxy " + redactURL(p)
}

// redactTarget returns a target URL as errors and logs show it.
func (d *Dialer) redactTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return redactURL(u)
}
