package cloudflare_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

// step is one scripted answer.
type step struct {
	status int
	header map[string]string
	body   string
}

// scripted is an API stand-in that answers from a script (the last step
// repeats) and records when each request came, on the test's clock.
type scripted struct {
	t     testing.TB
	clock fakeClock

	mu    sync.Mutex
	steps []step
	reqs  []recorded
}

type recorded struct {
	at   time.Time
	path string
	sum  [32]byte
}

func newScripted(t testing.TB, steps ...step) (*scripted, *cloudflare.Client) {
	return newScriptedWith(t, cloudflare.RetryPolicy{}, steps...)
}

func newScriptedWith(t testing.TB, p cloudflare.RetryPolicy, steps ...step) (*scripted, *cloudflare.Client) {
	s := &scripted{t: t, clock: fakeClock{storetest.NewClock()}, steps: steps}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	if p.RequestsPerWindow == 0 {
		p.RequestsPerWindow = -1
	}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: testToken, AccountID: testAccount, Clock: s.clock, Retry: p})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.reqs = append(s.reqs, recorded{at: s.clock.Now(), path: r.URL.Path, sum: sha256.Sum256(body)})
	st := s.steps[0]
	if len(s.steps) > 1 {
		s.steps = s.steps[1:]
	}
	s.mu.Unlock()
	for k, v := range st.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if st.body == "" {
		if st.status < 400 {
			st.body = `{"success":true,"errors":[],"messages":[],"result":{}}`
		} else {
			st.body = fmt.Sprintf(`{"success":false,"errors":[{"code":10002,"message":"status %d"}],"messages":[],"result":null}`, st.status)
		}
	}
	w.WriteHeader(st.status)
	io.WriteString(w, st.body)
}

func (s *scripted) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

const body429 = `{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}`

func put(c *cloudflare.Client, ctx context.Context) error {
	return c.KV(strings.Repeat("a", 32)).Put(ctx, "k", []byte("value"), kvstore.PutOptions{Metadata: []byte(`{"v":1}`)})
}

// TestRetry_AfterHonoured (KV-5): the next attempt goes out no earlier
// than Retry-After asks, in every form of the header.
func TestRetry_AfterHonoured(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration // at least
		max    time.Duration
	}{
		{"seconds", map[string]string{"Retry-After": "2"}, 2 * time.Second, 2 * time.Second},
		{"fractional seconds", map[string]string{"Retry-After": "1.5"}, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"milliseconds win", map[string]string{"Retry-After-Ms": "250", "Retry-After": "9"}, 250 * time.Millisecond, 250 * time.Millisecond},
		{"date in the past means now", map[string]string{"Retry-After": "Mon, 02 Jan 2006 15:04:05 GMT"}, 0, 0},
		{"garbage falls back to backoff", map[string]string{"Retry-After": "soon"}, 0, 250 * time.Millisecond},
		{"negative falls back to backoff", map[string]string{"Retry-After": "-5"}, 0, 250 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := newScripted(t, step{status: 429, header: tc.header, body: `{"success":false,"errors":[{"code":10040,"message":"slow down"}]}`}, step{status: 200})
			if err := put(c, context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := s.requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].at.Sub(reqs[0].at); gap < tc.want || gap > tc.max {
				t.Errorf("second attempt %v after the 429, want %v..%v", gap, tc.want, tc.max)
			}
		})
	}
	t.Run("date in the future", func(t *testing.T) {
		s := &scripted{clock: fakeClock{storetest.NewClock()}}
		s.steps = []step{{status: 503, header: map[string]string{"Retry-After": s.clock.Now().Add(3 * time.Second).Format(http.TimeFormat)}}, {status: 200}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		c, _ := cloudflare.New(cloudflare.Options{BaseURL: srv.URL, Token: testToken, AccountID: testAccount, Clock: s.clock, Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
		if err := put(c, context.Background()); err != nil {
			t.Fatal(err)
		}
		if r := s.requests(); r[1].at.Sub(r[0].at) != 3*time.Second {
			t.Errorf("retry after %v, want 3s", r[1].at.Sub(r[0].at))
		}
	})
}

// TestRetry_AfterCapped (KV-4): a Retry-After above MaxRetryAfter fails at
// once with a clear *RateLimitError instead of sleeping for an hour.
func TestRetry_AfterCapped(t *testing.T) {
	s, c := newScripted(t, step{status: 429, header: map[string]string{"Retry-After": "3600"}, body: body429})
	start := s.clock.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := put(c, ctx)
	var rl *cloudflare.RateLimitError
	if !errors.As(err, &rl) || rl.Wait != time.Hour || rl.Max != time.Minute {
		t.Fatalf("err = %v, want *RateLimitError for 1h over a 1m cap", err)
	}
	if !strings.Contains(err.Error(), "1h0m0s") || !strings.Contains(err.Error(), "longer than the 1m0s edgeconf waits") {
		t.Errorf("message %q does not say how long and why", err)
	}
	var ae *cloudflare.APIError
	if !errors.As(err, &ae) || ae.Code != cloudflare.CodeRateLimited {
		t.Errorf("the 429 is not reachable through the error: %v", err)
	}
	if waited := s.clock.Now().Sub(start); len(s.requests()) != 1 || waited != 0 {
		t.Errorf("%d requests after a wait of %v; want 1, at once", len(s.requests()), waited)
	}
	// The global window is now closed: the next call is refused without a request.
	if err := put(c, ctx); !errors.As(err, &rl) || len(s.requests()) != 1 {
		t.Errorf("second call: %v after %d requests; want a RateLimitError and no request", err, len(s.requests()))
	}
}

// TestRetry_DeadlineRespected: a wait that would outlast the context's
// deadline is not started.
func TestRetry_DeadlineRespected(t *testing.T) {
	s, c := newScripted(t, step{status: 503, header: map[string]string{"Retry-After": "30"}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := s.clock.Now()
	err := put(c, ctx)
	if waited := s.clock.Now().Sub(start); err == nil || !strings.Contains(err.Error(), "would pass the context deadline") || waited != 0 {
		t.Errorf("err = %v after a wait of %v; want the deadline error and no wait", err, waited)
	}
	_, c = newScripted(t, step{status: 429, header: map[string]string{"Retry-After": "30"}, body: `{"errors":[{"code":10040,"message":"k"}]}`})
	var rl *cloudflare.RateLimitError
	if err := put(c, ctx); !errors.As(err, &rl) || !strings.Contains(err.Error(), "after the context's deadline") {
		t.Errorf("429 past the deadline: %v", err)
	}
}

// TestRetry_NotRetried (KV-9): these answers are final after one attempt.
func TestRetry_NotRetried(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s, c := newScripted(t, step{status: status}, step{status: 200})
			err := put(c, context.Background())
			var ae *cloudflare.APIError
			if !errors.As(err, &ae) || ae.Status != status || ae.Attempts != 1 {
				t.Errorf("err = %#v", err)
			}
			if n := len(s.requests()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	}
	t.Run("certificate", func(t *testing.T) {
		var n int
		var mu sync.Mutex
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			mu.Unlock()
		}))
		defer srv.Close()
		c, _ := cloudflare.New(cloudflare.Options{BaseURL: srv.URL, Token: testToken, AccountID: testAccount, Clock: fakeClock{storetest.NewClock()}})
		err := put(c, context.Background())
		if err == nil || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "attempts") {
			t.Errorf("err = %v, want one certificate failure", err)
		}
	})
}

// TestRetry_RetriedStatuses: 408, 409, 429 and 5xx are retried, with
// byte-identical bodies (KV-10).
func TestRetry_RetriedStatuses(t *testing.T) {
	for _, status := range []int{408, 409, 429, 500, 502, 503, 504} {
		s, c := newScripted(t, step{status: status}, step{status: status}, step{status: 200})
		if err := put(c, context.Background()); err != nil {
			t.Errorf("%d: %v", status, err)
			continue
		}
		reqs := s.requests()
		if len(reqs) != 3 || reqs[0].sum != reqs[1].sum || reqs[1].sum != reqs[2].sum {
			t.Errorf("%d: %d attempts, bodies equal: %v", status, len(reqs), len(reqs) == 3 && reqs[0].sum == reqs[2].sum)
		}
	}
	// Giving up after MaxAttempts says how many attempts were made.
	s, c := newScriptedWith(t, cloudflare.RetryPolicy{MaxAttempts: 3}, step{status: 503})
	err := put(c, context.Background())
	var ae *cloudflare.APIError
	if !errors.As(err, &ae) || ae.Attempts != 3 || len(s.requests()) != 3 || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("err = %v after %d requests", err, len(s.requests()))
	}
}

// TestRetry_Backoff: full jitter, growing to MaxDelay; 100 clients that
// fail together spread their retries (KV-6).
func TestRetry_Backoff(t *testing.T) {
	var firsts []float64
	for i := 0; i < 100; i++ {
		s, c := newScriptedWith(t, cloudflare.RetryPolicy{BaseDelay: time.Second, MaxDelay: 4 * time.Second, MaxAttempts: 6},
			step{status: 503}, step{status: 503}, step{status: 503}, step{status: 503}, step{status: 503}, step{status: 200})
		if err := put(c, context.Background()); err != nil {
			t.Fatal(err)
		}
		r := s.requests()
		for n := 1; n < len(r); n++ {
			ceil := time.Duration(math.Min(float64(time.Second)*math.Pow(2, float64(n-1)), float64(4*time.Second)))
			if gap := r[n].at.Sub(r[n-1].at); gap < 0 || gap >= ceil {
				t.Fatalf("delay before retry %d = %v, want in [0, %v)", n, gap, ceil)
			}
		}
		firsts = append(firsts, r[1].at.Sub(r[0].at).Seconds())
	}
	mean, sd := meanStd(firsts)
	if sd/mean < 0.25 {
		t.Errorf("first retries of 100 clients: stddev/mean = %.2f, want >= 0.25", sd/mean)
	}
}

func meanStd(xs []float64) (float64, float64) {
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sq / float64(len(xs)))
}

// TestRetry_Budget (KV-7): under a total outage the client-wide budget
// (500 tokens, 14 per retry) allows at most 35 retries; after that calls
// fail after one attempt, fast, and a success refills it.
func TestRetry_Budget(t *testing.T) {
	s, c := newScripted(t, step{status: 503})
	calls := 0
	var exhausted error
	for calls < 50 && exhausted == nil {
		calls++
		err := put(c, context.Background())
		if errors.Is(err, cloudflare.ErrRetryBudgetExhausted) {
			exhausted = err
		}
	}
	retries := len(s.requests()) - calls
	if exhausted == nil || retries > 35 {
		t.Fatalf("%d calls made %d retries; want the budget to stop them at 35 or fewer", calls, retries)
	}
	var ae *cloudflare.APIError
	if !errors.As(exhausted, &ae) || ae.Status != 503 {
		t.Errorf("exhausted error %v does not carry the 503", exhausted)
	}
	before := len(s.requests())
	start := s.clock.Now()
	err := put(c, context.Background())
	if waited := s.clock.Now().Sub(start); !errors.Is(err, cloudflare.ErrRetryBudgetExhausted) || len(s.requests()) != before+1 || waited != 0 {
		t.Errorf("a call on an empty budget: %v, %d requests, waited %v; want one request and no wait", err, len(s.requests())-before, waited)
	}
	t.Logf("%d calls, %d retries before the budget ran out", calls, retries)

	// Unlimited budget: never exhausted.
	s, c = newScriptedWith(t, cloudflare.RetryPolicy{BudgetCapacity: -1, MaxAttempts: 2}, step{status: 503})
	for i := 0; i < 60; i++ {
		if err := put(c, context.Background()); errors.Is(err, cloudflare.ErrRetryBudgetExhausted) {
			t.Fatal("a disabled budget ran out")
		}
	}
	if len(s.requests()) != 120 {
		t.Errorf("%d requests, want 120", len(s.requests()))
	}
}

// TestRetry_GlobalLimitWindow (KV-8): once the API answers 429 for the
// global limit, no request of the client goes out until the window ends,
// from any goroutine.
func TestRetry_GlobalLimitWindow(t *testing.T) {
	const window = 30 * time.Second
	var mu sync.Mutex
	var events []cfemu.Event
	e := newEnv(t, envOptions{emu: cfemu.Options{RateLimit: 20, RateWindow: window, KeyWriteInterval: -1, OnRequest: func(ev cfemu.Event) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}}})
	kv := e.namespace(t, "CONFIG")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				if err := kv.Put(ctx, fmt.Sprintf("g%d/%d", g, i), []byte("v"), kvstore.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var limited []time.Time
	for _, ev := range events {
		if ev.Status == http.StatusTooManyRequests {
			limited = append(limited, ev.Time)
		}
	}
	if len(limited) == 0 {
		t.Fatal("the rate limit never triggered")
	}
	first := limited[0]
	for _, ev := range events {
		if ev.Time.After(first) && ev.Time.Before(first.Add(window)) {
			t.Errorf("a request went out %v after the 429, inside the %v window: %s %s", ev.Time.Sub(first), window, ev.Method, ev.Path)
		}
	}
	t.Logf("%d requests, %d refused with 429", len(events), len(limited))
}

// TestRetry_Pacing: the client's own pacing keeps it under the limit and
// refuses (without sending) a wait longer than MaxRetryAfter.
func TestRetry_Pacing(t *testing.T) {
	s, c := newScriptedWith(t, cloudflare.RetryPolicy{RequestsPerWindow: 3, Window: 10 * time.Second}, step{status: 200})
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		if err := put(c, ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := s.requests()
	for i := 3; i < len(r); i++ {
		if gap := r[i].at.Sub(r[i-3].at); gap < 10*time.Second {
			t.Errorf("requests %d and %d are %v apart; at most 3 per 10s", i-3, i, gap)
		}
	}
	_, c = newScriptedWith(t, cloudflare.RetryPolicy{RequestsPerWindow: 1, Window: 5 * time.Minute}, step{status: 200})
	if err := put(c, ctx); err != nil {
		t.Fatal(err)
	}
	var rl *cloudflare.RateLimitError
	if err := put(c, ctx); !errors.As(err, &rl) || !rl.Local || !strings.Contains(err.Error(), "paces") {
		t.Errorf("second call within a 1-per-5-minutes pace: %v", err)
	}
}

// TestRetry_ContextCanceled: a canceled context ends the call without retries.
func TestRetry_ContextCanceled(t *testing.T) {
	s, c := newScripted(t, step{status: 200})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := put(c, ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if len(s.requests()) != 0 {
		t.Errorf("%d requests with a canceled context", len(s.requests()))
	}
	// Canceled while waiting to retry.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
	}))
	defer srv.Close()
	c, _ = cloudflare.New(cloudflare.Options{BaseURL: srv.URL, Token: testToken, AccountID: testAccount, Clock: blockingClock{block}})
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- put(c, ctx) }()
	<-block
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled during the wait: %v", err)
	}
}

// blockingClock's Sleep signals and then waits for the context.
type blockingClock struct{ entered chan struct{} }

func (blockingClock) Now() time.Time { return time.Now() }
func (b blockingClock) Sleep(ctx context.Context, d time.Duration) error {
	b.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}
