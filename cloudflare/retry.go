package cloudflare

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/internal/clock"
)

// RetryPolicy is the one retry policy of every call this package makes
// (the SDK's own retries are off). Zero fields take the values of
// DefaultRetryPolicy.
//
// Connection errors and 408, 409, 429 and 5xx answers (but 501) are retried
// with exponential backoff and full jitter: before retry n the call sleeps
// a random time in [0, min(MaxDelay, BaseDelay·2ⁿ⁻¹)). A Retry-After (or
// Retry-After-Ms) header replaces the backoff, and a call fails at once
// with a *RateLimitError when the header asks for more than MaxRetryAfter.
// Other 4xx answers, certificate errors and canceled contexts are not
// retried. Every attempt sends byte-identical bodies.
type RetryPolicy struct {
	MaxAttempts   int           // attempts per call, the first included; 0 means 8
	BaseDelay     time.Duration // backoff ceiling before the first retry; 0 means 250 ms
	MaxDelay      time.Duration // largest backoff ceiling; 0 means 20 s
	MaxRetryAfter time.Duration // longest server-asked wait honoured; 0 means 60 s

	// The retry budget is client-wide, in the AWS model: a retry takes
	// RetryCost tokens from BudgetCapacity, a call that succeeds on its
	// first attempt puts one back, and a call that succeeds after retries
	// gets back what its retries took. When the budget is empty, failed
	// calls are not retried (ErrRetryBudgetExhausted), so a sustained
	// outage costs one attempt per call, not MaxAttempts.
	BudgetCapacity int // 0 means 500; negative disables the budget
	RetryCost      int // 0 means 14 (so about 35 retries in a row empty a full budget)

	// Client-side pacing under Cloudflare's global limit: at most
	// RequestsPerWindow requests in any Window. 0 means 1200 per 5 minutes;
	// negative disables pacing.
	RequestsPerWindow int
	Window            time.Duration

	// OnRetry, when set, is called before each wait for a retry with the
	// attempt that failed (1 for the first), the wait and the reason, so a
	// CLI can show progress. It must not block.
	OnRetry func(attempt int, wait time.Duration, reason error)
}

// DefaultRetryPolicy returns the policy used when Options.Retry is zero.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:       8,
		BaseDelay:         250 * time.Millisecond,
		MaxDelay:          20 * time.Second,
		MaxRetryAfter:     60 * time.Second,
		BudgetCapacity:    500,
		RetryCost:         14,
		RequestsPerWindow: 1200,
		Window:            5 * time.Minute,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = d.MaxRetryAfter
	}
	if p.BudgetCapacity == 0 {
		p.BudgetCapacity = d.BudgetCapacity
	}
	if p.RetryCost <= 0 {
		p.RetryCost = d.RetryCost
	}
	if p.RequestsPerWindow == 0 {
		p.RequestsPerWindow = d.RequestsPerWindow
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	return p
}

// Clock is time as the client sees it. Tests pass a fake whose Sleep
// advances Now, so no test waits for real.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() then.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }

// retrier applies a RetryPolicy to every request, as SDK middleware.
type retrier struct {
	p      RetryPolicy
	clock  Clock
	logger *slog.Logger
	jitter func(n int64) int64 // uniform in [0, n)

	budget budget
	gate   gate
}

func newRetrier(p RetryPolicy, clock Clock, logger *slog.Logger) *retrier {
	p = p.withDefaults()
	r := &retrier{p: p, clock: clock, logger: logger, jitter: rand.Int64N}
	r.budget = budget{capacity: p.BudgetCapacity, tokens: p.BudgetCapacity}
	r.gate = gate{limit: p.RequestsPerWindow, window: p.Window}
	return r
}

// do sends req through next until it succeeds or the policy gives up. It
// never returns a response with status ≥ 400: those become *APIError.
func (r *retrier) do(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	ctx := req.Context()
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("cloudflare: %s %s: read request body: %w", req.Method, req.URL.EscapedPath(), err)
		}
	}
	taken := 0 // budget tokens this call's retries took
	for attempt := 1; ; attempt++ {
		if err := r.gate.wait(ctx, r.clock, r.p.MaxRetryAfter); err != nil {
			r.budget.refund(taken)
			return nil, err
		}
		// The SDK hands each attempt a fresh clone: the first attempt can
		// use it as it is; later ones need their own.
		areq := req
		if attempt > 1 {
			areq = req.Clone(ctx)
		}
		if body != nil {
			areq.Body = io.NopCloser(bytes.NewReader(body))
			areq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			areq.ContentLength = int64(len(body))
		}
		stripSDKHeaders(areq.Header)
		res, err := next(areq)
		if err == nil && res.StatusCode < 400 {
			if attempt == 1 {
				r.budget.refund(1)
			} else {
				r.budget.refund(taken)
			}
			return res, nil
		}

		var failure error
		var apiErr *APIError
		var delay time.Duration
		hinted := false
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("cloudflare: %s %s: %w", req.Method, req.URL.EscapedPath(), ctx.Err())
			}
			failure = fmt.Errorf("cloudflare: %s %s: %w", req.Method, req.URL.EscapedPath(), redactURLError(err))
			if !retryableError(err) {
				return nil, failure
			}
		default:
			apiErr = newAPIError(req, res, attempt)
			failure = apiErr
			if !retryableStatus(res.StatusCode) {
				return nil, apiErr
			}
			if d, ok := retryAfter(res.Header, r.clock.Now); ok {
				delay, hinted = d, true
			}
		}
		if attempt >= r.p.MaxAttempts {
			return nil, withAttempts(failure, attempt)
		}
		now := r.clock.Now()
		if hinted && delay > r.p.MaxRetryAfter {
			if globalLimit(apiErr) {
				r.gate.block(now.Add(delay))
			}
			return nil, &RateLimitError{Wait: delay, Max: r.p.MaxRetryAfter, Until: now.Add(delay), Err: apiErr}
		}
		if hinted && globalLimit(apiErr) {
			// Every call of this client waits for the window, not just this one.
			r.gate.block(now.Add(delay))
			r.logger.Warn("cloudflare: rate limited; pausing all calls", "until", now.Add(delay).UTC().Format(time.RFC3339), "wait", delay)
			delay = 0
		} else if !hinted {
			delay = r.backoff(attempt)
		}
		// Deadlines are wall-clock time, whatever r.clock is.
		if dl, ok := ctx.Deadline(); ok && delay > time.Until(dl) {
			if apiErr != nil && apiErr.Status == http.StatusTooManyRequests {
				return nil, &RateLimitError{Wait: delay, Until: now.Add(delay), Err: apiErr}
			}
			return nil, fmt.Errorf("%w (a retry in %s would pass the context deadline)", withAttempts(failure, attempt), delay.Round(time.Millisecond))
		}
		if !r.budget.take(r.p.RetryCost) {
			r.budget.refund(taken)
			return nil, fmt.Errorf("%w: %w", withAttempts(failure, attempt), ErrRetryBudgetExhausted)
		}
		taken += r.p.RetryCost
		r.logger.Debug("cloudflare: retrying", "method", req.Method, "path", req.URL.EscapedPath(), "attempt", attempt, "err", failure, "delay", delay)
		if r.p.OnRetry != nil {
			r.p.OnRetry(attempt, delay, failure)
		}
		if err := r.clock.Sleep(ctx, delay); err != nil {
			r.budget.refund(taken)
			return nil, fmt.Errorf("%w (waiting to retry: %w)", withAttempts(failure, attempt), err)
		}
	}
}

// stripSDKHeaders drops the SDK's telemetry headers (X-Stainless-OS,
// -Arch, -Runtime-Version, -Retry-Count, ...): they tell the server nothing
// it needs and cost every request a few hundred bytes to send and parse.
func stripSDKHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "X-Stainless-") {
			delete(h, k)
		}
	}
}

// backoff is the full-jitter delay before retry number attempt.
func (r *retrier) backoff(attempt int) time.Duration {
	ceil := r.p.BaseDelay
	for i := 1; i < attempt && ceil < r.p.MaxDelay; i++ {
		ceil *= 2
	}
	ceil = min(ceil, r.p.MaxDelay)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(r.jitter(int64(ceil)))
}

func withAttempts(err error, attempts int) error {
	var ae *APIError
	if errors.As(err, &ae) {
		ae.Attempts = attempts
		return err
	}
	if attempts > 1 {
		return fmt.Errorf("%w (after %d attempts)", err, attempts)
	}
	return err
}

// retryableStatus: 408, 409, 429 and 5xx but 501.
func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooManyRequests:
		return true
	case code == http.StatusNotImplemented:
		return false
	}
	return code >= 500
}

// retryableError: connection errors, but not certificate problems.
func retryableError(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	return !errors.As(err, &unknownCA) && !errors.As(err, &invalid) && !errors.As(err, &host) &&
		!errors.As(err, &verify) && !errors.As(err, &record)
}

// globalLimit tells Cloudflare's account-wide rate limit (which blocks
// every call for the window) from other 429s, such as writing one KV key
// too fast.
func globalLimit(e *APIError) bool {
	return e != nil && e.Status == http.StatusTooManyRequests && (e.HasCode(CodeRateLimited) || e.HasCode(CodeRateLimitedOld))
}

// retryAfter reads Retry-After-Ms, else Retry-After (seconds, or an HTTP
// date; a date in the past means now). Negative or garbage values are
// ignored, so the caller falls back to backoff.
func retryAfter(h http.Header, now func() time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && ms < 1e12 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s > 1e9 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now()), 0), true
	}
	return 0, false
}

// budget is the client-wide retry token bucket.
type budget struct {
	mu       sync.Mutex
	capacity int // < 0: unlimited
	tokens   int
}

func (b *budget) take(n int) bool {
	if b.capacity < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

func (b *budget) refund(n int) {
	if b.capacity < 0 || n == 0 {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.capacity, b.tokens+n)
	b.mu.Unlock()
}

// gate holds every call back while Cloudflare's rate-limit window is
// closed, and paces calls to at most limit per window.
type gate struct {
	mu           sync.Mutex
	blockedUntil time.Time
	limit        int // < 0: no pacing
	window       time.Duration
	sent         []time.Time // send times within the window, oldest first
}

func (g *gate) block(until time.Time) {
	g.mu.Lock()
	if until.After(g.blockedUntil) {
		g.blockedUntil = until
	}
	g.mu.Unlock()
}

// wait returns when a request may be sent (and counts it), or an error
// when that would take longer than maxWait or the context allows.
func (g *gate) wait(ctx context.Context, clock Clock, maxWait time.Duration) error {
	for {
		g.mu.Lock()
		now := clock.Now()
		until, local := g.blockedUntil, false
		if g.limit > 0 {
			cut := 0
			for cut < len(g.sent) && !g.sent[cut].After(now.Add(-g.window)) {
				cut++
			}
			g.sent = g.sent[cut:]
			if len(g.sent) >= g.limit {
				if t := g.sent[0].Add(g.window); t.After(until) {
					until, local = t, true
				}
			}
		}
		if !now.Before(until) {
			if g.limit > 0 {
				g.sent = append(g.sent, now)
			}
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		wait := until.Sub(now)
		if wait > maxWait {
			return &RateLimitError{Wait: wait, Max: maxWait, Until: until, Local: local}
		}
		if dl, ok := ctx.Deadline(); ok && wait > time.Until(dl) {
			return &RateLimitError{Wait: wait, Until: until, Local: local}
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
