// Package cfemu is a local emulator of the part of the Cloudflare v4 REST API
// that edgeconf uses: Workers KV, Workers scripts, versions, deployments,
// secrets, routes and custom domains, zones and DNS records, R2 bucket
// management, D1 (SQLite inside) and token verification.
//
// It answers with Cloudflare's envelope, status codes, error codes,
// pagination and limits, enforces Bearer authentication, the global rate
// limit (1,200 requests per 5 minutes, then 429 with code 971) and the KV
// rules (TTL ≥ 60 s, sizes, one write per second per key), and can inject
// faults (500/502/503/429 and connection resets), latency and an
// eventual-consistency delay. Tests run it behind httptest.Server; the
// `edgeconf emulate` command serves it on a port.
//
// Everything is served under /client/v4, so clients point their base URL
// at http://HOST:PORT/client/v4. Anything else answers like Cloudflare does
// for an unknown route (code 7000), never with a Go 404 page.
package cfemu

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/factory-wager/edgeconf/internal/clock"
)

// Defaults of the options.
const (
	DefaultRateLimit        = 1200            // requests per DefaultRateWindow per token
	DefaultRateWindow       = 5 * time.Minute // Cloudflare blocks for the whole window once exceeded
	DefaultKeyWriteInterval = time.Second     // Workers KV: one write per second per key
	DefaultSaveDelay        = 50 * time.Millisecond
	// PathPrefix is where the API is served, as on api.cloudflare.com.
	PathPrefix = "/client/v4"
	// DefaultAccountID is the account `edgeconf emulate` seeds zones into
	// when none is given (the example id of Cloudflare's documentation).
	DefaultAccountID = "023e105f4ecef8ad9ca31a8372d0c353"
)

// DefaultMaxBodyBytes bounds a request body: a bulk write may be up to 100 MB.
const DefaultMaxBodyBytes = 110 << 20

// Options configures an Emulator. The zero value is a strongly consistent,
// fault-free, in-memory emulator that accepts any Bearer token.
type Options struct {
	// Token is the one API token accepted; "" accepts any well-formed
	// Bearer token. Tokens never appear in logs or events.
	Token string
	// AccountOwnedToken makes the token behave as an account-owned token:
	// /user/tokens/verify rejects it (code 1000) and
	// /accounts/{id}/tokens/verify accepts it, as on Cloudflare.
	AccountOwnedToken bool
	// Clock is the emulator's time (expiry, rate limits, propagation,
	// timestamps); nil means time.Now.
	Clock func() time.Time
	// FailRate is the share of requests (0..1) answered with an injected
	// fault: 500, 502, 503, 429, or a connection reset before or after the
	// request is applied. 0 injects none.
	FailRate float64
	// FaultRetryAfter is the Retry-After sent with injected 429s; 0 sends
	// none (the client then backs off on its own).
	FaultRetryAfter time.Duration
	// Latency is added to every request (real time, not Clock).
	Latency time.Duration
	// Sleep spends Latency: it waits for d or until ctx is done, and then
	// returns ctx.Err(). Optional; nil waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Propagation is how long reads keep seeing the previous value of a
	// KV key after a write or delete, as reads from other Cloudflare
	// locations do (≈60 s on Cloudflare). 0 means reads see writes at once.
	Propagation time.Duration
	// StateDir keeps the state (a JSON snapshot and the D1 SQLite files)
	// across runs; "" keeps everything in memory.
	StateDir string
	// SaveDelay coalesces snapshot writes: state is saved at most this
	// long after a change, and on Close. 0 means DefaultSaveDelay.
	SaveDelay time.Duration
	// RateLimit is the number of requests per RateWindow per token; 0
	// means DefaultRateLimit, negative disables the limit.
	RateLimit int
	// RateWindow is the rate-limit window, which is also how long all
	// calls are blocked once the limit is exceeded; 0 means 5 minutes.
	RateWindow time.Duration
	// KeyWriteInterval is the shortest time between two writes of one KV
	// key (faster writes get 429); 0 means 1 s, negative disables.
	KeyWriteInterval time.Duration
	// MaxBodyBytes bounds request bodies (413 above it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Seed seeds the fault generator, so a run's faults can be replayed.
	Seed uint64
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
	// Zones are created at start (if absent), so that zone lookups, DNS
	// records and routes have something to work on.
	Zones []ZoneSeed
	// OnRequest, if set, is called after every request with what the
	// emulator did, for tests that count attempts, applies and faults.
	OnRequest func(Event)
}

// ZoneSeed is a zone to create at start.
type ZoneSeed struct {
	Name      string
	AccountID string // "" means DefaultAccountID
}

// Event is what the emulator did with one request.
type Event struct {
	Time       time.Time // the Clock's time when the request arrived
	Method     string
	Path       string // escaped path, without the query
	Query      string
	Status     int    // 0 when the connection was reset
	Code       int    // the first error code of a failed request
	Fault      string // the injected fault, "" for none
	Applied    bool   // the request changed state (even if its answer was then lost)
	BodySHA256 [32]byte
	BodyBytes  int
}

// Faults the emulator injects.
const (
	Fault500         = "500"
	Fault502         = "502"
	Fault503         = "503"
	Fault429         = "429"
	FaultResetBefore = "reset-before" // the connection drops before the request is applied
	FaultResetAfter  = "reset-after"  // the request is applied, then the connection drops
)

var allFaults = []string{Fault500, Fault502, Fault503, Fault429, FaultResetBefore, FaultResetAfter}

// Emulator is the emulated API, an http.Handler. Create it with New and
// Close it to save its state.
type Emulator struct {
	opts   Options
	now    func() time.Time
	logger *slog.Logger
	router *router

	faultMu sync.Mutex
	rng     *rand.Rand

	rl *rateLimiter

	mu      sync.Mutex    // guards st and imports
	gen     atomic.Uint64 // counts changes of st (see Generation)
	st      *state
	imports map[string]*d1Import // D1 imports under way, by upload token
	d1      *d1Pool
	saver   *saver
}

// New returns an emulator, loading the state from opts.StateDir if it holds one.
func New(opts Options) (*Emulator, error) {
	if opts.FailRate < 0 || opts.FailRate > 1 {
		return nil, fmt.Errorf("fail rate %v is outside 0..1", opts.FailRate)
	}
	if opts.Sleep == nil {
		opts.Sleep = clock.Sleep
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = DefaultRateWindow
	}
	if opts.KeyWriteInterval == 0 {
		opts.KeyWriteInterval = DefaultKeyWriteInterval
	}
	if opts.SaveDelay <= 0 {
		opts.SaveDelay = DefaultSaveDelay
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	e := &Emulator{
		opts:   opts,
		now:    opts.Clock,
		logger: opts.Logger,
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		rl:     newRateLimiter(opts.RateLimit, opts.RateWindow),
	}
	st, err := loadState(opts.StateDir)
	if err != nil {
		return nil, err
	}
	e.st = st
	e.d1 = newD1Pool(opts.StateDir)
	if opts.StateDir != "" {
		e.saver = newSaver(opts.StateDir, opts.SaveDelay, e.snapshot, opts.Logger)
	}
	for _, z := range opts.Zones {
		acct := z.AccountID
		if acct == "" {
			acct = DefaultAccountID
		}
		if _, err := e.ensureZone(acct, z.Name); err != nil {
			return nil, err
		}
	}
	e.router = e.routes()
	return e, nil
}

// Close saves the state (when StateDir is set) and closes the D1 databases.
func (e *Emulator) Close() error {
	var errs []error
	if e.saver != nil {
		errs = append(errs, e.saver.close())
	}
	errs = append(errs, e.d1.close())
	return errors.Join(errs...)
}

// changed records that st was modified; the caller holds e.mu.
func (e *Emulator) changed() {
	e.gen.Add(1)
	if e.saver != nil {
		e.saver.mark()
	}
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev := Event{Time: e.now(), Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery}
	refuse := func(aerr *apiErr) {
		ev.Status, ev.Code = aerr.status, aerr.firstCode()
		writeError(w, aerr)
		e.finish(ev)
	}
	if e.opts.Latency > 0 && e.opts.Sleep(r.Context(), e.opts.Latency) != nil {
		return // the client went away
	}

	// Route and credentials are checked before the body is read, and an
	// announced body over the limit is refused unread: a client without a
	// valid token, or announcing a body too large, costs no buffering.
	c := &call{e: e, w: w, r: r, now: ev.Time}
	h, aerr := e.dispatch(c)
	if aerr == nil && !h.public {
		aerr = e.authenticate(c)
	}
	if aerr == nil && r.ContentLength > e.opts.MaxBodyBytes {
		aerr = tooLarge(fmt.Errorf("request body of %d bytes is larger than the limit of %d bytes (MaxBodyBytes)", r.ContentLength, e.opts.MaxBodyBytes))
	}
	if aerr != nil {
		r.Close = true
		refuse(aerr)
		return
	}
	body, err := readBody(w, r, e.opts.MaxBodyBytes)
	if err != nil {
		refuse(tooLarge(err))
		return
	}
	ev.BodySHA256, ev.BodyBytes = sha256.Sum256(body), len(body)
	r.Body = &bodyReader{Reader: bytes.NewReader(body)}
	c.body = body

	if h.limited {
		if aerr := e.rl.admit(c.token, ev.Time, w.Header()); aerr != nil {
			refuse(aerr)
			return
		}
	}
	fault := e.pickFault()
	ev.Fault = fault
	switch fault {
	case "":
	case FaultResetBefore:
		e.finish(ev) // before the reset, so observers see the event first
		reset(w)
		return
	case FaultResetAfter:
		rec := &recorder{header: http.Header{}}
		c.w = rec
		e.serve(c, h)
		ev.Applied = c.applied
		e.finish(ev)
		reset(w)
		return
	default:
		aerr := injected(fault, e.opts.FaultRetryAfter)
		ev.Status, ev.Code = aerr.status, aerr.firstCode()
		writeError(w, aerr)
		e.finish(ev)
		return
	}
	rec := &statusWriter{ResponseWriter: w}
	c.w = rec
	ev.Code = e.serve(c, h)
	ev.Status, ev.Applied = rec.status, c.applied
	e.finish(ev)
}

// serve runs the handler and writes its error, returning the error code.
func (e *Emulator) serve(c *call, h *route) int {
	if err := h.fn(c); err != nil {
		var ae *apiErr
		if !errors.As(err, &ae) {
			e.logger.Error("cfemu: handler failed", "method", c.r.Method, "path", c.r.URL.Path, "err", err)
			ae = &apiErr{status: http.StatusInternalServerError, errs: []errorItem{{Code: codeInternal, Message: "Internal server error"}}}
		}
		writeError(c.w, ae)
		return ae.firstCode()
	}
	return 0
}

func (e *Emulator) finish(ev Event) {
	e.logger.Debug("cfemu", "method", ev.Method, "path", ev.Path, "status", ev.Status, "code", ev.Code, "fault", ev.Fault, "applied", ev.Applied)
	if e.opts.OnRequest != nil {
		e.opts.OnRequest(ev)
	}
}

func (e *Emulator) pickFault() string {
	if e.opts.FailRate <= 0 {
		return ""
	}
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	if e.rng.Float64() >= e.opts.FailRate {
		return ""
	}
	return allFaults[e.rng.IntN(len(allFaults))]
}

// injected is the answer of an injected HTTP fault.
func injected(fault string, retryAfter time.Duration) *apiErr {
	switch fault {
	case Fault429:
		ae := rateLimited()
		if retryAfter > 0 {
			ae.header = http.Header{"Retry-After": {fmt.Sprint(int((retryAfter + time.Second - 1) / time.Second))}}
		}
		return ae
	case Fault502:
		return &apiErr{status: http.StatusBadGateway, errs: []errorItem{{Code: codeInternal, Message: "Bad gateway (injected fault)"}}}
	case Fault503:
		return &apiErr{status: http.StatusServiceUnavailable, errs: []errorItem{{Code: codeInternal, Message: "Service temporarily unavailable (injected fault)"}}}
	}
	return &apiErr{status: http.StatusInternalServerError, errs: []errorItem{{Code: codeInternal, Message: "Internal server error (injected fault)"}}}
}

// reset drops the client's connection with a TCP reset, the way a crashed
// proxy or a flaky network does.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		// HTTP/2 and test recorders cannot be hijacked: abort the stream instead.
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func tooLarge(err error) *apiErr {
	return &apiErr{status: http.StatusRequestEntityTooLarge, errs: []errorItem{{Code: codeTooLarge, Message: err.Error()}}}
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("request body larger than the limit of %d bytes (MaxBodyBytes): %w", limit, err)
	}
	return buf.Bytes(), nil
}

// bodyReader gives handlers the already-read body.
type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// recorder swallows the answer of a request whose connection is reset afterwards.
type recorder struct {
	header http.Header
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(int)             {}

// commit records that a mutating call was applied, schedules the state to
// be saved and answers with v in the success envelope.
func (e *Emulator) commit(c *call, v any) error {
	c.applied = true
	e.changed()
	return c.ok(v)
}
