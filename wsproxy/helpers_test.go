package wsproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitFor polls cond until it holds or timeout passes; it is how the tests
// wait for something to happen without sleeping for a guessed duration.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// receive waits for a value on ch.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// testPKI is a throwaway CA with one certificate for 127.0.0.1/localhost.
type testPKI struct {
	caFile string // PEM of the CA, for DialOptions.CAFile
	server tls.Certificate
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
	pkiDir  string
)

// TestMain removes the shared CA directory after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if pkiDir != "" {
		os.RemoveAll(pkiDir)
	}
	os.Exit(code)
}

func getPKI(t *testing.T) *testPKI {
	t.Helper()
	pkiOnce.Do(func() { pki, pkiErr = newPKI() })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func newPKI() (*testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsproxy test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pkiDir, err = os.MkdirTemp("", "wsproxy-pki-")
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(pkiDir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return nil, err
	}
	return &testPKI{
		caFile: caFile,
		server: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key},
	}, nil
}

// echoServer is a gorilla WebSocket server that echoes messages. A text
// message "big N" makes it send N bytes instead, and "close N" makes it
// close with code N. It counts live connections.
type echoServer struct {
	*httptest.Server
	URL       string // ws:// or wss://
	live      atomic.Int64
	maxLive   atomic.Int64
	accepted  atomic.Int64
	subs      atomic.Int64 // live connections that sent "subscribe"
	closeCode atomic.Int64 // the close code of the last connection that ended with one
	pings     atomic.Int64 // pings received from clients

	mu      sync.Mutex
	closed  bool
	conns   map[*websocket.Conn]bool
	headers []http.Header // of each handshake
}

func newEchoServer(t *testing.T, useTLS bool) *echoServer {
	t.Helper()
	e := &echoServer{conns: map[*websocket.Conn]bool{}}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, Subprotocols: []string{"terminal.v1"}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.headers = append(e.headers, r.Header.Clone())
		e.mu.Unlock()
		if r.URL.Path == "/forbidden" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		e.accepted.Add(1)
		c.SetPingHandler(func(data string) error {
			e.pings.Add(1)
			// A failed pong needs no handling: the read loop notices.
			_ = c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			return nil
		})
		n := e.live.Add(1)
		for {
			m := e.maxLive.Load()
			if n <= m || e.maxLive.CompareAndSwap(m, n) {
				break
			}
		}
		e.mu.Lock()
		if e.closed { // closeAll came between the handshake and here
			e.mu.Unlock()
			c.Close()
			e.live.Add(-1)
			return
		}
		e.conns[c] = true
		e.mu.Unlock()
		subscribed := false
		defer func() {
			if subscribed {
				e.subs.Add(-1)
			}
			e.mu.Lock()
			delete(e.conns, c)
			e.mu.Unlock()
			e.live.Add(-1)
			c.Close()
		}()
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					e.closeCode.Store(int64(ce.Code))
				}
				return
			}
			msg := string(data)
			switch {
			case msg == "ping":
				c.SetPongHandler(func(string) error { return c.WriteMessage(websocket.TextMessage, []byte("pong received")) })
				if c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)) != nil {
					return
				}
				continue
			case msg == "subscribe":
				if !subscribed {
					subscribed = true
					e.subs.Add(1)
				}
			case strings.HasPrefix(msg, "big "):
				n, _ := strconv.Atoi(strings.TrimPrefix(msg, "big "))
				if c.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte("x"), n)) != nil {
					return
				}
				continue
			case strings.HasPrefix(msg, "close "):
				code, _ := strconv.Atoi(strings.TrimPrefix(msg, "close "))
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "bye"), time.Now().Add(time.Second))
				continue
			case msg == "header":
				e.mu.Lock()
				hdr := e.headers[len(e.headers)-1]
				e.mu.Unlock()
				data = fmt.Appendf(nil, "%s|%s|%s", hdr.Get("Authorization"), hdr.Get("X-Trace"), c.Subprotocol())
			}
			if c.WriteMessage(mt, data) != nil {
				return
			}
		}
	})
	if useTLS {
		e.Server = httptest.NewUnstartedServer(h)
		e.Server.TLS = &tls.Config{Certificates: []tls.Certificate{getPKI(t).server}}
		e.Server.StartTLS()
		e.URL = "wss://" + e.Listener.Addr().String() + "/echo"
	} else {
		e.Server = httptest.NewServer(h)
		e.URL = "ws://" + e.Listener.Addr().String() + "/echo"
	}
	t.Cleanup(e.closeAll)
	return e
}

// closeAll drops the live WebSocket connections (hijacked, so
// httptest.Server.Close does not) and stops the server.
func (e *echoServer) closeAll() {
	e.Listener.Close() // first, so that no client reconnects meanwhile
	e.mu.Lock()
	e.closed = true
	for c := range e.conns {
		c.Close()
	}
	e.mu.Unlock()
	e.Server.Close()
}

// goProxy is an HTTP CONNECT proxy with Basic auth, optionally behind TLS,
// that the tests can make misbehave.
type goProxy struct {
	URL       string // http:// or https:// without credentials
	user      string
	ln        net.Listener
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	connects  atomic.Int64
	blackhole atomic.Bool            // drop all data without closing
	slice     atomic.Bool            // forward one byte per write
	pass      atomic.Pointer[string] // the password it accepts; tests may change it

	mu      sync.Mutex
	tunnels map[net.Conn]bool
	wg      sync.WaitGroup
}

// newGoProxy starts a proxy on 127.0.0.1 requiring user:pass (none when
// user is "").
func newGoProxy(t *testing.T, useTLS bool, user, pass string) *goProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if useTLS {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{getPKI(t).server}})
		scheme = "https"
	}
	p := &goProxy{
		URL: scheme + "://" + ln.Addr().String(), user: user, ln: ln,
		dial:    (&net.Dialer{}).DialContext,
		tunnels: map[net.Conn]bool{},
	}
	p.pass.Store(&pass)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *goProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *goProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.tunnels[c] = true
	} else {
		delete(p.tunnels, c)
	}
}

func (p *goProxy) handle(c net.Conn) {
	p.track(c, true)
	defer func() { p.track(c, false); c.Close() }()
	br := bufio.NewReader(c) // the tunnel forwards what it buffered
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+*p.pass.Load()))
		if req.Header.Get("Proxy-Authorization") != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
			return
		}
	}
	p.connects.Add(1)
	up, err := p.dial(context.Background(), "tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	p.track(up, true)
	defer func() { p.track(up, false); up.Close() }()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{}, 2)
	go func() { p.copy(up, br); done <- struct{}{} }()
	go func() { p.copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// copy forwards src to dst until either fails; while blackholed it reads
// and drops the data, like toxiproxy's timeout toxic with timeout=0.
func (p *goProxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.blackhole.Load() {
			step := n
			if p.slice.Load() {
				step = 1
			}
			for i := 0; i < n; i += step {
				if _, werr := dst.Write(buf[i:min(i+step, n)]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// resetAll kills every tunnel with a TCP RST on both sides.
func (p *goProxy) resetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.tunnels {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		} else if tc, ok := c.(*tls.Conn); ok {
			if raw, ok := tc.NetConn().(*net.TCPConn); ok {
				raw.SetLinger(0)
			}
		}
		c.Close()
	}
}

func (p *goProxy) close() {
	p.ln.Close()
	p.resetAll()
	p.wg.Wait()
}

// logBuffer is a concurrency-safe sink for a test logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func debugLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// dialErr asserts that err is a *DialError and returns it.
func dialErr(t *testing.T, err error) *DialError {
	t.Helper()
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DialError", err, err)
	}
	return de
}
