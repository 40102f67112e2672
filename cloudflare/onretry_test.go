package cloudflare_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
)

// TestRetry_OnRetry: the hook sees every retry with its attempt, wait and
// reason, in order, and not the final success.
func TestRetry_OnRetry(t *testing.T) {
	type call struct {
		attempt int
		wait    time.Duration
		reason  string
	}
	var calls []call
	p := cloudflare.RetryPolicy{BaseDelay: time.Second, MaxAttempts: 4, OnRetry: func(attempt int, wait time.Duration, reason error) {
		calls = append(calls, call{attempt, wait, reason.Error()})
	}}
	s, c := newScriptedWith(t, p, step{status: 503}, step{status: 502}, step{status: 200})
	if err := put(c, context.Background()); err != nil {
		t.Fatal(err)
	}
	r := s.requests()
	if len(calls) != 2 || len(r) != 3 {
		t.Fatalf("calls %+v for %d requests, want 2 for 3", calls, len(r))
	}
	for i, cl := range calls {
		if cl.attempt != i+1 || cl.wait != r[i+1].at.Sub(r[i].at) || !strings.Contains(cl.reason, "50") {
			t.Errorf("call %d = %+v, gap %v", i, cl, r[i+1].at.Sub(r[i].at))
		}
	}
}
