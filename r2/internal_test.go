package r2

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDefaultBackoff(t *testing.T) {
	for retry, ceiling := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 5: 3200 * time.Millisecond, 9: 5 * time.Second} {
		for range 20 {
			if d := defaultBackoff(retry); d < ceiling/2 || d > ceiling {
				t.Errorf("defaultBackoff(%d) = %s, want %s..%s", retry, d, ceiling/2, ceiling)
			}
		}
	}
}

func TestTotalFromContentRange(t *testing.T) {
	for in, want := range map[string]int64{"bytes 0-9/100": 100, "bytes 5-5/6": 6, "bytes */100": 100, "bytes 0-9/*": -1, "": -1, "0-9/100": -1} {
		got, ok := totalFromContentRange(in)
		if (want < 0) == ok || ok && got != want {
			t.Errorf("totalFromContentRange(%q) = %d, %t; want %d", in, got, ok, want)
		}
	}
}

func TestUploadError(t *testing.T) {
	err := &UploadError{Key: "k", UploadID: "u1", Err: context.Canceled}
	if !strings.Contains(err.Error(), "left open") || !errors.Is(err, context.Canceled) {
		t.Errorf("UploadError = %q", err)
	}
	err.Aborted = true
	if !strings.Contains(err.Error(), "aborted") {
		t.Errorf("UploadError = %q", err)
	}
}

func TestOptions_LogValueHidesSecret(t *testing.T) {
	var b strings.Builder
	o := Options{Bucket: "b", Endpoint: "http://h/?x=1", AccessKeyID: "AKID", SecretAccessKey: "super-secret-canary"}
	slog.New(slog.NewJSONHandler(&b, nil)).Info("opts", "r2", o)
	if strings.Contains(b.String(), "super-secret-canary") || !strings.Contains(b.String(), `"secret_set":true`) {
		t.Errorf("log = %s", b.String())
	}
}

func TestBufferPool(t *testing.T) {
	p := newBufferPool(4, 2)
	ctx, cancel := context.WithCancel(context.Background())
	a, _ := p.get(ctx)
	b, _ := p.get(ctx)
	cancel()
	if _, err := p.get(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a third buffer of two: %v, want to wait until cancelled", err)
	}
	p.put(a[:1])
	if c, err := p.get(context.Background()); err != nil || len(c) != 4 {
		t.Errorf("a returned buffer comes back whole: %d, %v", len(c), err)
	}
	_ = b
}

func TestReadError(t *testing.T) {
	if err := readError(errors.New("boom"), 3, -1); !strings.Contains(err.Error(), "read body: boom") {
		t.Errorf("readError = %v", err)
	}
}
