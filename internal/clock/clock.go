// Package clock holds the real waiting that libraries default to when a
// test has not injected its own: one timer-or-context Sleep instead of a
// copy in every package with a Sleep option.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done and then returns ctx.Err(). A
// d of zero or less returns at once, with ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
