//go:build !unix

package sqlite

import (
	"context"
	"time"
)

// fileLock is a no-op where flock(2) does not exist: SQLite's own locking
// (busy_timeout) still serialises writers, without naming the holder.
type fileLock struct{ path string }

func (l *fileLock) acquire(context.Context, time.Duration, func() time.Time) error { return nil }
func (l *fileLock) release()                                                       {}
