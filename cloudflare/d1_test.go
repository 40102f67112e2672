package cloudflare_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/d1test"
)

func TestD1_Conformance(t *testing.T) {
	d1test.Run(t, d1test.Options{Remote: true}, func(t *testing.T) d1.DB {
		e := newEnv(t, envOptions{})
		if _, _, err := e.client.EnsureDatabase(context.Background(), "quantum-db"); err != nil {
			t.Fatal(err)
		}
		db, err := e.client.OpenD1(context.Background(), "quantum-db")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(db.Target(), "quantum-db") {
			t.Errorf("Target() = %q", db.Target())
		}
		return db
	})
}

func TestD1_MissingDatabase(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, err := e.client.OpenD1(context.Background(), "nope")
	if !errors.Is(err, d1.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("OpenD1(nope) = %v, want d1.ErrNotFound naming it", err)
	}
	db := e.client.D1(cloudflare.Database{UUID: "00000000-0000-0000-0000-000000000000", Name: "gone"})
	if _, err := db.Query(context.Background(), "SELECT 1"); !errors.Is(err, d1.ErrNotFound) {
		t.Fatalf("query of a deleted database = %v, want d1.ErrNotFound", err)
	}
}

// TestD1_Retry checks the client's retry policy covers D1: a 503 is
// retried and the second answer used.
func TestD1_Retry(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"success":true,"errors":[],"result":[{"results":{"columns":["a","b","c"],"rows":[[1,1.5,[1,2]]]},"meta":{"duration":1.5,"changes":0}}]}`)
	}))
	defer srv.Close()
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL, Token: testToken, AccountID: testAccount,
		Retry: cloudflare.RetryPolicy{BaseDelay: 1, MaxDelay: 1, RequestsPerWindow: -1}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.D1(cloudflare.Database{UUID: "u", Name: "n"}).Query(context.Background(), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || res.Rows[0][0] != int64(1) || res.Rows[0][1] != 1.5 || string(res.Rows[0][2].([]byte)) != "\x01\x02" || res.Meta.Duration != 1500000 {
		t.Fatalf("calls = %d, result = %#v", calls, res)
	}
}

func TestD1_BadAnswers(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"not json", `nope`},
		{"wrong count", `{"success":true,"result":[]}`},
		{"bad blob", `{"success":true,"result":[{"results":{"columns":["a"],"rows":[[[300]]]}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, tc.body) }))
			defer srv.Close()
			c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL, Token: testToken, AccountID: testAccount})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.D1(cloudflare.Database{UUID: "u", Name: "n"}).Query(context.Background(), "SELECT 1"); err == nil {
				t.Fatal("bad answer accepted")
			}
		})
	}
}
