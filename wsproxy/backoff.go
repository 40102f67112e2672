package wsproxy

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/factory-wager/edgeconf/internal/clock"
)

// MaxBackoff is the longest wait between two reconnection attempts,
// whatever Backoff.Max says.
const MaxBackoff = 30 * time.Second

// Backoff is capped exponential backoff with jitter: the n-th attempt
// waits a random duration between half and all of min(Max, Min × 2^(n-1)).
// The jitter spreads out clients that lost their connections at the same
// moment (for instance when a proxy restarts).
type Backoff struct {
	// Min is the ceiling of the first wait. Optional; 0 means 500 ms.
	Min time.Duration
	// Max caps the wait. Optional; 0 or more than MaxBackoff means
	// MaxBackoff (30 s).
	Max time.Duration
	// Rand returns a number in [0, 1) for the jitter. Optional; nil means
	// math/rand/v2.Float64. Tests make it deterministic.
	Rand func() float64
	// Sleep waits for d, or until ctx is done and then returns ctx.Err().
	// Optional; nil waits on a timer. Tests record the waits instead of
	// spending them.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = 500 * time.Millisecond
	}
	if b.Max <= 0 || b.Max > MaxBackoff {
		b.Max = MaxBackoff
	}
	if b.Min > b.Max {
		b.Min = b.Max
	}
	if b.Rand == nil {
		b.Rand = rand.Float64
	}
	if b.Sleep == nil {
		b.Sleep = clock.Sleep
	}
	return b
}

// Delay returns the wait before attempt n (1 for the first reconnection).
func (b Backoff) Delay(n int) time.Duration {
	b = b.withDefaults()
	ceil := b.Min
	for i := 1; i < n && ceil < b.Max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.Max)
	half := ceil / 2
	return half + time.Duration(b.Rand()*float64(ceil-half))
}
