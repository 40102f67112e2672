//go:build unix

package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// fileLock is an flock(2) on a file beside the database; the kernel drops
// it when the process dies, so a crash never leaves it held.
type fileLock struct {
	path string
	f    *os.File
}

// lockPoll is how often a waiter retries the lock.
const lockPoll = 5 * time.Millisecond

func (l *fileLock) acquire(ctx context.Context, timeout time.Duration, now func() time.Time) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("d1 local lock: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	tick := time.NewTicker(lockPoll)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("d1 local lock %s: %w", l.path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-timer.C:
			f.Close()
			return fmt.Errorf("%w: %s%s (waited %s)", ErrLocked, strings.TrimSuffix(l.path, ".lock"), describe(l.path+".owner"), timeout)
		case <-tick.C:
		}
	}
	l.f = f
	me := owner{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Since: now().UTC()}
	if b, err := json.Marshal(me); err == nil {
		_ = os.WriteFile(l.path+".owner", b, 0o600)
	}
	return nil
}

func (l *fileLock) release() {
	if l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}
