// Package cloudflare is edgeconf's client of the Cloudflare REST API:
// a Workers KV store that implements kvstore.Store (and passes the same
// conformance suite as the local store), namespace, bucket and database
// lookups that adopt existing resources instead of duplicating them,
// token verification, and the credentials edgeconf needs.
//
// Every call goes through one RetryPolicy (see retry.go) with a
// client-wide retry budget and rate-limit gate; the SDK's own retries are
// off. It is built on sub-packages of github.com/cloudflare/cloudflare-go/v6
// (kv, user, accounts, r2, d1, option); the SDK's root package is never
// imported, because it adds minutes to every build. The two hottest calls,
// KV Get and Put, build their requests by hand (see Client.send).
//
// The API token goes only into the Authorization header: it never appears
// in errors or logs.
package cloudflare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/accounts"
	"github.com/cloudflare/cloudflare-go/v6/d1"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/r2"
	"github.com/cloudflare/cloudflare-go/v6/user"
	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// DefaultBaseURL is Cloudflare's API; `edgeconf emulate` serves the same
// paths under http://HOST:PORT/client/v4.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Options configures a Client. Token is required; AccountID is required
// for account-scoped calls (KV, R2, D1, Workers).
type Options struct {
	BaseURL   string // optional; "" means DefaultBaseURL
	Token     string // an API token, sent as "Authorization: Bearer"
	AccountID string // the 32-hex-digit account id
	// HTTPClient is optional; nil means a transport with connection and
	// header timeouts. Only its Transport is used: API calls follow no
	// redirects and keep no cookies, and the retry policy, not
	// Client.Timeout, bounds how long a call takes.
	HTTPClient *http.Client
	Logger     *slog.Logger // optional; nil discards
	Retry      RetryPolicy  // optional; zero fields take DefaultRetryPolicy's values
	Clock      Clock        // optional; nil means the real clock
	UserAgent  string       // optional; "" means "edgeconf"
	// Timeout bounds each API call from its first attempt to the end of
	// reading the answer, retries and their waits included: a server that
	// never answers, or stalls in the middle of a body, fails the call
	// with a *TimeoutError naming it. Optional; 0 means DefaultTimeout
	// (none when Clock is set: the deadline is a wall-clock one),
	// a negative value means no bound (the caller's context only).
	Timeout time.Duration
}

// DefaultTimeout is Options.Timeout when none is given.
const DefaultTimeout = 10 * time.Second

// TimeoutError is the error of a call that did not finish within
// Options.Timeout. errors.Is(err, context.DeadlineExceeded) holds.
type TimeoutError struct {
	Method, Path string
	Timeout      time.Duration
}

func (e *TimeoutError) Error() string {
	what := strings.TrimSpace(e.Method + " " + e.Path)
	if what != "" {
		what += ": "
	}
	return fmt.Sprintf("cloudflare: %sno complete answer within the timeout of %s", what, e.Timeout)
}

// sdkErr is the error of an SDK call named what: the SDK reports a
// context that ended as its bare ctx.Err(), which loses a *TimeoutError
// cause the caller set; sdkErr restores it.
func sdkErr(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	return timedOut(ctx, &TimeoutError{Path: what}, err)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// String describes the options without the token.
func (o Options) String() string {
	tok := "unset"
	if o.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("base URL %q, account %q, token %s", o.BaseURL, o.AccountID, tok)
}

// Format keeps every fmt verb from printing the token.
func (o Options) Format(f fmt.State, _ rune) { fmt.Fprint(f, "cloudflare.Options{"+o.String()+"}") }

// LogValue keeps slog from printing the token.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", o.BaseURL), slog.String("account", o.AccountID), slog.Bool("token_set", o.Token != ""))
}

// Client calls the Cloudflare API. It is safe for concurrent use; its
// retry budget and rate-limit gate are shared by all its calls, so make
// one per process and token.
type Client struct {
	baseURL   string
	accountID string
	logger    *slog.Logger
	timeout   time.Duration // <= 0: none
	retrier   *retrier
	clock     Clock
	doer      transportDoer
	auth      []string // the Authorization header's value
	userAgent []string

	kv       *kv.NamespaceService
	users    *user.TokenService
	accounts *accounts.TokenService
	buckets  *r2.BucketService
	dbs      *d1.DatabaseService
	sdk      []option.RequestOption // for the services made on first use (workers, dns, zones)

	workersOnce sync.Once
	workers     *workers.WorkerService
}

// New returns a client. It makes no request.
func New(opts Options) (*Client, error) {
	if opts.Token == "" {
		return nil, errors.New("cloudflare: an API token is required (CLOUDFLARE_API_TOKEN)")
	}
	if strings.ContainsAny(opts.Token, " \t\r\n") {
		return nil, errors.New("cloudflare: the API token contains white space; copy it again without spaces or line breaks")
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cloudflare: base URL %q is not an http(s) URL", redactURL(base))
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("cloudflare: base URL %q must not carry credentials or a query", redactURL(base))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	} else if opts.Timeout == 0 {
		// The timeout is a wall-clock deadline: on an injected clock
		// (tests whose waits take no real time) there is none unless
		// one is asked for.
		opts.Timeout = -1
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "edgeconf"
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	c := &Client{
		baseURL:   strings.TrimSuffix(base, "/"),
		accountID: opts.AccountID,
		logger:    opts.Logger,
		timeout:   opts.Timeout,
		retrier:   newRetrier(opts.Retry, opts.Clock, opts.Logger),
		clock:     opts.Clock,
	}
	// The token and user agent are set by the middleware, once per call,
	// rather than by SDK options that re-format them for every request.
	c.auth, c.userAgent = []string{"Bearer " + opts.Token}, []string{opts.UserAgent}
	c.doer = transportDoer{opts.HTTPClient.Transport}
	sdk := []option.RequestOption{
		option.WithBaseURL(c.baseURL),
		option.WithHTTPClient(c.doer),
		option.WithMaxRetries(0), // our policy retries, not the SDK's
		option.WithMiddleware(func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
			req.Header["Authorization"], req.Header["User-Agent"] = c.auth, c.userAgent
			return c.do(req, next)
		}),
	}
	c.sdk = sdk
	c.kv = kv.NewNamespaceService(sdk...)
	c.users = user.NewTokenService(sdk...)
	c.accounts = accounts.NewTokenService(sdk...)
	c.buckets = r2.NewBucketService(sdk...)
	c.dbs = d1.NewDatabaseService(sdk...)
	return c, nil
}

// AccountID returns the account the client works on.
func (c *Client) AccountID() string { return c.accountID }

// BaseURL returns the API base URL the client calls.
func (c *Client) BaseURL() string { return c.baseURL }

// Target describes where the client points, for the line commands print.
func (c *Client) Target() string {
	t := "cloudflare account " + c.accountID
	if c.baseURL != DefaultBaseURL {
		t += " at " + c.baseURL
	}
	return t
}

func (c *Client) needAccount() error {
	if c.accountID == "" {
		return errors.New("cloudflare: an account id is required for this call (CLOUDFLARE_ACCOUNT_ID)")
	}
	return nil
}

// send makes one hand-built request through the retry policy. KV Get and
// Put use it instead of the SDK: measured against hand-written net/http
// code (bench/RESULTS.md), the SDK spends about 20 µs of CPU more per
// request (request building by reflection and fmt, header maps, a second
// URL parse), which on the two hottest calls is the difference between
// about 1.1× and 1.3–1.5× a raw client. Everything else goes through the SDK.
func (c *Client) send(ctx context.Context, method, path, contentType string, body []byte, accept string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+"/"+path, r)
	if err != nil {
		return nil, fmt.Errorf("cloudflare: %s %s: %w", method, path, redactURLError(err))
	}
	req.Header = http.Header{"Authorization": c.auth, "User-Agent": c.userAgent, "Accept": {accept}}
	if contentType != "" {
		req.Header["Content-Type"] = []string{contentType}
	}
	return c.do(req, c.doer.Do)
}

// do runs req through the retry policy within the client's timeout. The
// deadline stays on the response body until it is closed, so a body that
// stalls fails too; either way the error is a *TimeoutError.
func (c *Client) do(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if c.timeout <= 0 {
		return c.retrier.do(req, next)
	}
	te := &TimeoutError{Method: req.Method, Path: req.URL.EscapedPath(), Timeout: c.timeout}
	ctx, cancel := context.WithTimeoutCause(req.Context(), c.timeout, te)
	res, err := c.retrier.do(req.WithContext(ctx), next)
	if err != nil {
		cancel()
		return nil, timedOut(ctx, te, err)
	}
	res.Body = &timedBody{ReadCloser: res.Body, ctx: ctx, cancel: cancel, te: te}
	return res, nil
}

// timedOut returns a *TimeoutError for the call te describes when a
// deadline ended it: the client's own, or the caller's when the caller set
// its context's cause to a *TimeoutError (context.WithTimeoutCause) to
// name its own bound. Otherwise it returns err.
func timedOut(ctx context.Context, te *TimeoutError, err error) error {
	var cause *TimeoutError
	if ctx.Err() == nil || !errors.As(context.Cause(ctx), &cause) || errors.As(err, new(*TimeoutError)) {
		return err
	}
	out := *cause
	out.Method, out.Path = te.Method, te.Path
	return &out
}

// timedBody is a response body under the call's deadline.
type timedBody struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	te     *TimeoutError
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = timedOut(b.ctx, b.te, err)
	}
	return n, err
}

func (b *timedBody) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// transportDoer sends requests straight to the transport: the API needs
// none of http.Client's redirect and cookie handling, which copies every
// request's headers.
type transportDoer struct{ rt http.RoundTripper }

func (d transportDoer) Do(req *http.Request) (*http.Response, error) {
	rt := d.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	return rt.RoundTrip(req)
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.MaxIdleConnsPerHost = 32
	return &http.Client{Transport: t}
}

// redactURLError drops the query string (cursors, presigned signatures)
// and user info from a *url.Error, so that errors carry no secrets.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}
