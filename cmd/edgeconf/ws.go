package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/wsproxy"
)

func newWsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ws",
		Short: "Connect to WebSocket servers through proxies, or relay WebSocket clients",
		Long: `ws talks WebSocket through corporate HTTP and HTTPS proxies.

The proxy is, in order: --proxy URL; else proxy.url of the configuration
file (when there is one; with its proxy.noProxy list); else HTTPS_PROXY (for
wss://) or HTTP_PROXY (for ws://) with NO_PROXY. The environment, as in Go's
net/http, never applies to localhost and 127.0.0.1: use --proxy for those.
--proxy '' connects directly. The proxy password is taken from the proxy URL
or, better, from the environment variable named by --proxy-password-env; it
is never printed.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newWsConnectCmd(d, g, nil), newWsRelayCmd(d, g, nil))
	return cmd
}

// wsDialFlags are the flags that say how to reach a WebSocket server.
type wsDialFlags struct {
	Proxy            string
	proxySet         bool // --proxy was given, possibly as ""
	NoProxy          []string
	ProxyUser        string
	ProxyPasswordEnv string
	CAFile           string
	Headers          []string
	TokenEnv         string // environment variable holding the upstream bearer token
	HandshakeTimeout time.Duration
}

func (f *wsDialFlags) register(cmd *cobra.Command, tokenFlag, tokenHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.Proxy, "proxy", "", "proxy URL, http:// or https://, also for loopback targets ('' for none)")
	fl.StringSliceVar(&f.NoProxy, "no-proxy", nil, "hosts, IPs or CIDRs that bypass --proxy (comma-separated or repeated)")
	fl.StringVar(&f.ProxyUser, "proxy-user", "", "proxy user name (overrides the one in the proxy URL)")
	fl.StringVar(&f.ProxyPasswordEnv, "proxy-password-env", "", "environment variable holding the proxy password")
	fl.StringVar(&f.CAFile, "ca-file", "", "PEM file of extra CA certificates for wss:// servers and https:// proxies")
	fl.StringArrayVarP(&f.Headers, "header", "H", nil, "extra handshake header 'Name: value' (repeatable)")
	fl.StringVar(&f.TokenEnv, tokenFlag, "", tokenHelp)
	fl.DurationVar(&f.HandshakeTimeout, "handshake-timeout", wsproxy.DefaultHandshakeTimeout, "limit for connecting: TCP, proxy, TLS and WebSocket handshake")
}

// dialOptions turns the flags, the configuration file and the environment
// into wsproxy.DialOptions. Problems are usage errors.
func (f *wsDialFlags) dialOptions(d *deps, g *globalOptions, log *slog.Logger) (wsproxy.DialOptions, error) {
	opts := wsproxy.DialOptions{CAFile: f.CAFile, HandshakeTimeout: f.HandshakeTimeout, Logger: log}
	for _, h := range f.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return opts, usageErrorf("-H %q: want 'Name: value'", h)
		}
		if opts.Header == nil {
			opts.Header = http.Header{}
		}
		opts.Header.Add(name, strings.TrimSpace(value))
	}
	if f.TokenEnv != "" {
		tok, ok := d.LookupEnv(f.TokenEnv)
		if !ok || tok == "" {
			return opts, usageErrorf("environment variable %s (named by the token flag) is not set", f.TokenEnv)
		}
		opts.BearerToken = tok
	}
	opts.Proxy.Username = f.ProxyUser
	if f.ProxyPasswordEnv != "" {
		pw, ok := d.LookupEnv(f.ProxyPasswordEnv)
		if !ok {
			return opts, usageErrorf("environment variable %s (from --proxy-password-env) is not set", f.ProxyPasswordEnv)
		}
		opts.Proxy.Password = pw
	}
	switch {
	case f.proxySet:
		opts.Proxy.URL = f.Proxy
		opts.Proxy.NoProxy = f.NoProxy
		if f.Proxy == "" {
			return opts, nil // explicitly direct
		}
	default:
		pc, err := configProxy(d, g)
		if err != nil {
			return opts, err
		}
		if pc.URL != "" {
			opts.Proxy.URL = pc.URL
			opts.Proxy.NoProxy = append(pc.NoProxy, f.NoProxy...)
			break
		}
		opts.Proxy.Env = wsproxy.ProxyEnv{
			HTTPSProxy: firstEnv(d, "HTTPS_PROXY", "https_proxy"),
			HTTPProxy:  firstEnv(d, "HTTP_PROXY", "http_proxy"),
			NoProxy:    firstEnv(d, "NO_PROXY", "no_proxy"),
		}
	}
	return opts, nil
}

// configProxy returns the proxy section of the configuration file, or a
// zero value when there is no file and none was asked for.
func configProxy(d *deps, g *globalOptions) (config.ProxyConfig, error) {
	path := g.configPath(d)
	_, explicit := d.LookupEnv("EDGECONF_CONFIG")
	explicit = explicit || g.ConfigPath != ""
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !explicit {
		return config.ProxyConfig{}, nil
	}
	doc, err := g.load(d)
	if err != nil {
		return config.ProxyConfig{}, err
	}
	return doc.Config.Proxy, nil
}

func firstEnv(d *deps, names ...string) string {
	for _, n := range names {
		if v, ok := d.LookupEnv(n); ok && v != "" {
			return v
		}
	}
	return ""
}

// checkWsURL refuses what is not a ws:// or wss:// URL.
func checkWsURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return usageErrorf("%s: want a ws:// or wss:// URL", flag)
	}
	if u.User != nil {
		// Never echo it: the password is a secret.
		return usageErrorf("%s: a WebSocket URL cannot carry user:password@; send credentials in a header (-H 'Authorization: Bearer …') or through the token environment flag", flag)
	}
	return nil
}

func stderrLogger(d *deps, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: level}))
}

type wsConnectOptions struct {
	URL            string
	Dial           wsDialFlags
	PingInterval   time.Duration
	MaxMessageSize int64
	Reconnect      bool
	Verbose        bool
}

func newWsConnectCmd(d *deps, g *globalOptions, runF func(*wsConnectOptions) error) *cobra.Command {
	opts := &wsConnectOptions{}
	cmd := &cobra.Command{
		Use:   "connect URL",
		Short: "Open a WebSocket: stdin lines are sent, messages received are printed",
		Long: `Connect opens a WebSocket connection to URL (ws:// or wss://), through the
proxy if one applies. Each line read from stdin is sent as a text message;
each message received is printed on stdout, followed by a newline. At the
end of stdin the connection is closed normally. Status goes to stderr.

Exit status: 0 after a normal close, 1 when the connection fails or ends
abnormally, 2 for a usage error.`,
		Example: `  edgeconf ws connect wss://dashboard.example.com/term
  HTTPS_PROXY=http://proxy.corp:3128 edgeconf ws connect wss://echo.example.com/
  PROXY_PW=... edgeconf ws connect ws://127.0.0.1:8091/ --proxy http://alice@127.0.0.1:3128 \
      --proxy-password-env PROXY_PW -H 'Authorization: Bearer T'`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.URL = args[0]
			opts.Dial.proxySet = cmd.Flags().Changed("proxy")
			if err := checkWsURL("URL", opts.URL); err != nil {
				return err
			}
			if err := checkMaxMessageSize(opts.MaxMessageSize); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runWsConnect(cmd.Context(), d, g, opts)
		},
	}
	opts.Dial.register(cmd, "token-env", "environment variable holding a bearer token for the server")
	cmd.Flags().DurationVar(&opts.PingInterval, "ping-interval", wsproxy.DefaultPingInterval, "keepalive ping interval; a peer silent for 2x this is dead (0 turns pings off)")
	cmd.Flags().Int64Var(&opts.MaxMessageSize, "max-message-size", wsproxy.DefaultMaxMessageSize, "largest message accepted, in bytes (a larger one closes with 1009)")
	cmd.Flags().BoolVar(&opts.Reconnect, "reconnect", false, "reconnect with backoff when the connection breaks")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "log connection details on stderr")
	return cmd
}

func runWsConnect(ctx context.Context, d *deps, g *globalOptions, opts *wsConnectOptions) error {
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := stderrLogger(d, level)
	dial, err := opts.Dial.dialOptions(d, g, log)
	if err != nil {
		return err
	}
	ping := opts.PingInterval
	if ping == 0 {
		ping = -1 // the flag's 0 means off; the library's 0 means default
	}
	c, err := wsproxy.NewClient(wsproxy.ClientOptions{
		URL: opts.URL, Dial: dial, PingInterval: ping, MaxMessageSize: opts.MaxMessageSize,
		Reconnect: opts.Reconnect, Logger: log,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	var outMu sync.Mutex // handlers and the main loop both write
	c.On(wsproxy.EventMessage, func(e wsproxy.Event) {
		outMu.Lock()
		defer outMu.Unlock()
		d.Stdout.Write(append(e.Data, '\n'))
	})
	c.On(wsproxy.EventClose, func(e wsproxy.Event) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(d.Stderr, "edgeconf: connection closed: %d %s\n", e.Code, e.Reason)
	})
	c.On(wsproxy.EventReconnect, func(e wsproxy.Event) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(d.Stderr, "edgeconf: reconnecting in %s (attempt %d)\n", e.Delay.Round(time.Millisecond), e.Attempt)
	})
	if err := c.Connect(ctx); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	fmt.Fprintf(d.Stderr, "edgeconf: connected to %s %s\n", redactWsURL(opts.URL), c.Route())

	lines := make(chan string)
	limit := opts.MaxMessageSize
	if limit <= 0 {
		limit = wsproxy.DefaultMaxMessageSize
	}
	var skipped atomic.Int64 // lines over the limit: reported, not sent
	go func() {
		defer close(lines)
		readLines(d.Stdin, limit, func(n int64, line []byte, size int64) {
			if line == nil {
				skipped.Add(1)
				outMu.Lock()
				fmt.Fprintf(d.Stderr, "edgeconf: stdin line %d not sent: %d bytes or more is over the message limit of %d bytes (--max-message-size)\n", n, size, limit)
				outMu.Unlock()
				return
			}
			lines <- string(line)
		})
	}()
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := closeAndWait(c)
				if n := skipped.Load(); err == nil && n > 0 {
					err = &exitError{code: exitFailed, err: fmt.Errorf("%d stdin line(s) over the message limit of %d bytes were not sent", n, limit)}
				}
				return err
			}
			if err := c.Send(ctx, wsproxy.TextMessage, []byte(line)); err != nil {
				if opts.Reconnect && errors.Is(err, wsproxy.ErrNotConnected) {
					fmt.Fprintln(d.Stderr, "edgeconf: not connected; line dropped")
					continue
				}
				c.Close()
				<-c.Done()
				return &exitError{code: exitFailed, err: err}
			}
		case <-c.Done():
			return connectResult(c)
		case <-ctx.Done():
			return closeAndWait(c)
		}
	}
}

// readLines calls emit with each line of r (without its newline) and its
// number from 1. A line longer than limit is not kept: emit gets a nil line
// and the size read before giving up (limit+1), and reading goes on with
// the next line. Memory stays bounded by limit.
func readLines(r io.Reader, limit int64, emit func(n int64, line []byte, size int64)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	for {
		var buf []byte
		tooLong := false
		for {
			chunk, err := br.ReadSlice('\n')
			if !tooLong {
				buf = append(buf, chunk...)
				if int64(len(bytes.TrimSuffix(buf, []byte("\n")))) > limit {
					tooLong, buf = true, nil
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && len(chunk) == 0 && len(buf) == 0 && !tooLong {
				return // end of input after a complete line
			}
			n++
			if tooLong {
				emit(n, nil, limit+1)
			} else {
				emit(n, bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), 0)
			}
			if err != nil {
				return
			}
			break
		}
	}
}

func closeAndWait(c *wsproxy.Client) error {
	c.Close()
	<-c.Done()
	return connectResult(c)
}

func connectResult(c *wsproxy.Client) error {
	if err := c.Err(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

// checkMaxMessageSize refuses a --max-message-size below one byte.
func checkMaxMessageSize(n int64) error {
	if n < 1 {
		return usageErrorf("--max-message-size must be at least 1 byte, not %d", n)
	}
	return nil
}

// redactWsURL shows a URL without its password and query.
func redactWsURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.Redacted()
}

type wsRelayOptions struct {
	Listen         string
	Upstream       string
	Dial           wsDialFlags
	Token          string
	ClientTokenEnv string
	AllowOrigins   []string
	MaxMessageSize int64
	IdleTimeout    time.Duration
	MaxConnections int

	onListen func(addr string) // tests: called once the relay listens
}

func newWsRelayCmd(d *deps, g *globalOptions, runF func(*wsRelayOptions) error) *cobra.Command {
	opts := &wsRelayOptions{}
	cmd := &cobra.Command{
		Use:   "relay --upstream URL",
		Short: "Accept WebSocket clients and join each to the upstream through the proxy",
		Long: `Relay listens for WebSocket clients and joins each one to its own connection
to --upstream, through the proxy if one applies, relaying messages both ways
with backpressure. Clients must send "Authorization: Bearer T" when --token
(or --token-env) is set, and browsers must come from an --allow-origin
(default: the relay's own host). Prometheus metrics are served at /metrics.
SIGTERM or Ctrl-C closes every connection with 1001 and exits 0.`,
		Example: `  edgeconf ws relay --upstream wss://dashboard.example.com/term --token-env RELAY_TOKEN \
      --allow-origin https://dashboard.example.com
  edgeconf ws relay --listen 127.0.0.1:8091 --upstream wss://host/path --proxy http://proxy.corp:3128`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dial.proxySet = cmd.Flags().Changed("proxy")
			if opts.Upstream == "" {
				return usageErrorf("ws relay needs --upstream URL")
			}
			if err := checkWsURL("--upstream", opts.Upstream); err != nil {
				return err
			}
			if err := checkMaxMessageSize(opts.MaxMessageSize); err != nil {
				return err
			}
			if opts.ClientTokenEnv != "" {
				tok, ok := d.LookupEnv(opts.ClientTokenEnv)
				if !ok || tok == "" {
					return usageErrorf("environment variable %s (from --token-env) is not set", opts.ClientTokenEnv)
				}
				opts.Token = tok
			}
			if runF != nil {
				return runF(opts)
			}
			return runWsRelay(cmd.Context(), d, g, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", wsproxy.DefaultRelayListen, "address to accept clients on")
	fl.StringVar(&opts.Upstream, "upstream", "", "ws:// or wss:// URL each client is joined to (required)")
	fl.StringVar(&opts.Token, "token", "", "bearer token clients must send (visible in ps; prefer --token-env)")
	fl.StringVar(&opts.ClientTokenEnv, "token-env", "", "environment variable holding the clients' bearer token")
	fl.StringArrayVar(&opts.AllowOrigins, "allow-origin", nil, "Origin browsers may connect from (repeatable; '*' for any)")
	fl.Int64Var(&opts.MaxMessageSize, "max-message-size", wsproxy.DefaultMaxMessageSize, "largest message relayed, in bytes (a larger one closes with 1009)")
	fl.DurationVar(&opts.IdleTimeout, "idle-timeout", wsproxy.DefaultIdleTimeout, "close a pair after this long without messages (0: never)")
	fl.IntVar(&opts.MaxConnections, "max-connections", 0, "most clients at once; more get 503 (0: no limit)")
	opts.Dial.register(cmd, "upstream-token-env", "environment variable holding a bearer token for the upstream")
	return cmd
}

func runWsRelay(ctx context.Context, d *deps, g *globalOptions, opts *wsRelayOptions) error {
	log := stderrLogger(d, slog.LevelInfo)
	dial, err := opts.Dial.dialOptions(d, g, log)
	if err != nil {
		return err
	}
	idle := opts.IdleTimeout
	if idle == 0 {
		idle = -1 // the flag's 0 means never; the library's 0 means default
	}
	relay, err := wsproxy.NewRelay(wsproxy.RelayOptions{
		Upstream: opts.Upstream, Dial: dial, Token: opts.Token, AllowOrigins: opts.AllowOrigins,
		MaxMessageSize: opts.MaxMessageSize, IdleTimeout: idle, MaxConnections: opts.MaxConnections, Logger: log,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	if host, _, _ := net.SplitHostPort(opts.Listen); opts.Token == "" && !isLoopback(host) {
		fmt.Fprintf(d.Stderr, "edgeconf: warning: %s is reachable from other hosts and no --token is set\n", opts.Listen)
	}
	fmt.Fprintf(d.Stderr, "edgeconf: relaying ws://%s/ to %s %s; metrics at http://%s/metrics\n",
		ln.Addr(), redactWsURL(opts.Upstream), relay.Route(), ln.Addr())
	if opts.onListen != nil {
		opts.onListen(ln.Addr().String())
	}
	if err := relay.Serve(ctx, ln); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
