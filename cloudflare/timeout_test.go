package cloudflare

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// TestClient_Timeout: a server that never answers, or that answers and
// then stalls in the middle of its body, fails the call with a
// *TimeoutError naming the timeout, through the hand-built path (KV Get)
// and the SDK path (KV List).
func TestClient_Timeout(t *testing.T) {
	release := make(chan struct{})
	handlers := map[string]http.HandlerFunc{
		"silent": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
		"stalled body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"success":true,"result":[`))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
	}
	defer close(release)
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			c, err := New(Options{BaseURL: srv.URL, Token: "tok", AccountID: "0123456789abcdef0123456789abcdef", Timeout: 50 * time.Millisecond,
				Retry: RetryPolicy{MaxAttempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			kv := c.KV("ns")
			_, getErr := kv.Get(context.Background(), "k")
			_, listErr := kv.List(context.Background(), kvstore.ListOptions{})
			for call, err := range map[string]error{"Get": getErr, "List": listErr} {
				var te *TimeoutError
				if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timeout of 50ms") {
					t.Errorf("%s = %v, want a *TimeoutError naming 50ms", call, err)
				}
			}
		})
	}
}

// TestClient_TimeoutCallerCancel: the caller's own cancellation is not
// reported as the client's timeout.
func TestClient_TimeoutCallerCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Token: "tok", AccountID: "0123456789abcdef0123456789abcdef", Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.KV("ns").Get(ctx, "k")
	var te *TimeoutError
	if err == nil || errors.As(err, &te) || !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context = %v, want context.Canceled", err)
	}
}
