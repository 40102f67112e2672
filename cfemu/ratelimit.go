package cfemu

import (
	"crypto/sha256"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimiter is Cloudflare's global API limit: at most limit requests per
// window per token; the request that exceeds it blocks every call of that
// token for a whole window.
type rateLimiter struct {
	limit  int // < 0: unlimited
	window time.Duration

	mu     sync.Mutex
	tokens map[[32]byte]*tokenWindow
}

type tokenWindow struct {
	times        []time.Time // admitted requests within the window, oldest first
	blockedUntil time.Time
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, tokens: map[[32]byte]*tokenWindow{}}
}

// admit counts one request of token at now, or refuses it with a 429 that
// carries retry-after and the x-ratelimit headers.
func (l *rateLimiter) admit(token string, now time.Time, h http.Header) *apiErr {
	if l.limit < 0 {
		return nil
	}
	key := sha256.Sum256([]byte(token))
	l.mu.Lock()
	defer l.mu.Unlock()
	tw := l.tokens[key]
	if tw == nil {
		tw = &tokenWindow{}
		l.tokens[key] = tw
	}
	h.Set("X-Ratelimit-Limit", strconv.Itoa(l.limit))
	if now.Before(tw.blockedUntil) {
		return l.refuse(tw, now, h)
	}
	cut := 0
	for cut < len(tw.times) && !tw.times[cut].After(now.Add(-l.window)) {
		cut++
	}
	tw.times = tw.times[cut:]
	if len(tw.times) >= l.limit {
		tw.blockedUntil = now.Add(l.window)
		tw.times = tw.times[:0]
		return l.refuse(tw, now, h)
	}
	tw.times = append(tw.times, now)
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(l.limit-len(tw.times)))
	return nil
}

func (l *rateLimiter) refuse(tw *tokenWindow, now time.Time, h http.Header) *apiErr {
	wait := tw.blockedUntil.Sub(now)
	secs := int((wait + time.Second - 1) / time.Second)
	ae := rateLimited()
	ae.header = http.Header{
		"Retry-After":           {strconv.Itoa(secs)},
		"X-Ratelimit-Remaining": {"0"},
		"X-Ratelimit-Reset":     {tw.blockedUntil.UTC().Format(http.TimeFormat)},
	}
	h.Del("X-Ratelimit-Remaining")
	return ae
}
