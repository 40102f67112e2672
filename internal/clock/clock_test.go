package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	ctx := context.Background()
	if err := Sleep(ctx, 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(ctx, time.Nanosecond); err != nil {
		t.Errorf("Sleep(1ns) = %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, d := range []time.Duration{-1, time.Hour} {
		if err := Sleep(cancelled, d); !errors.Is(err, context.Canceled) {
			t.Errorf("Sleep(cancelled, %v) = %v, want context.Canceled", d, err)
		}
	}
}
