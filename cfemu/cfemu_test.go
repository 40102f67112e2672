package cfemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

const (
	token   = "emu-test-token"
	account = "0123456789abcdef0123456789abcdef"
	base    = "/client/v4"
)

// answer is a decoded response.
type answer struct {
	Status int
	Header http.Header
	Raw    []byte
	Env    struct {
		Success bool
		Errors  []struct {
			Code    int
			Message string
		}
		Messages []struct {
			Code    int
			Message string
		}
		Result     json.RawMessage
		ResultInfo json.RawMessage `json:"result_info"`
	}
}

func (a answer) code() int {
	if len(a.Env.Errors) == 0 {
		return 0
	}
	return a.Env.Errors[0].Code
}

func (a answer) result(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Env.Result, v); err != nil {
		t.Fatalf("result %s: %v", a.Env.Result, err)
	}
}

// harness is an emulator on a fake clock, called in-process.
type harness struct {
	t     testing.TB
	emu   *cfemu.Emulator
	clock *storetest.Clock
}

func newHarness(t testing.TB, o cfemu.Options) *harness {
	t.Helper()
	clk := storetest.NewClock()
	if o.Clock == nil {
		o.Clock = clk.Now
	}
	if o.Token == "" {
		o.Token = token
	}
	e, err := cfemu.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &harness{t: t, emu: e, clock: clk}
}

// do sends a request; body may be nil, a string, []byte or a value to
// encode as JSON. Headers are pairs.
func (h *harness) do(method, path string, body any, headers ...string) answer {
	h.t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r, ct = bytes.NewReader(j), "application/json"
	}
	if !strings.HasPrefix(path, "/") {
		path = base + "/" + path
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Authorization", "Bearer "+token)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.emu.ServeHTTP(w, req)
	a := answer{Status: w.Code, Header: w.Header(), Raw: w.Body.Bytes()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(a.Raw, &a.Env); err != nil {
			h.t.Fatalf("%s %s: answer is not the envelope: %v\n%s", method, path, err, a.Raw)
		}
	}
	return a
}

// want checks status and first error code.
func (h *harness) want(a answer, status, code int) {
	h.t.Helper()
	if a.Status != status || a.code() != code {
		h.t.Fatalf("answer %d code %d, want %d code %d: %s", a.Status, a.code(), status, code, a.Raw)
	}
	if a.Status >= 400 && (a.Env.Success || len(a.Env.Errors) == 0) {
		h.t.Fatalf("an error answer without errors: %s", a.Raw)
	}
	if a.Status < 400 && a.Header.Get("Content-Type") == "application/json" && !a.Env.Success {
		h.t.Fatalf("a success answer with success=false: %s", a.Raw)
	}
}

func TestRouting_LikeCloudflare(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
		code    int
	}{
		{"unknown route", "GET", base + "/nothing/here", nil, 404, 7000},
		{"outside the API", "GET", "/favicon.ico", nil, 404, 7000},
		{"wrong method", "PATCH", base + "/user/tokens/verify", nil, 405, 7001},
		{"malformed account id", "GET", base + "/accounts/xyz/storage/kv/namespaces", nil, 400, 7003},
		{"malformed zone id", "GET", base + "/zones/xyz/dns_records", nil, 400, 7003},
		{"unknown zone", "GET", base + "/zones/" + strings.Repeat("f", 32), nil, 400, 7003},
		{"no auth header", "GET", base + "/user/tokens/verify", []string{"Authorization", ""}, 400, 9106},
		{"empty bearer", "GET", base + "/user/tokens/verify", []string{"Authorization", "Bearer "}, 400, 6003},
		{"not bearer", "GET", base + "/user/tokens/verify", []string{"Authorization", "Basic abc"}, 400, 6003},
		{"wrong token", "GET", base + "/accounts/" + account + "/storage/kv/namespaces", []string{"Authorization", "Bearer nope"}, 403, 10000},
		{"wrong token verify", "GET", base + "/user/tokens/verify", []string{"Authorization", "Bearer nope"}, 401, 1000},
		{"account verify of a user token", "GET", base + "/accounts/" + account + "/tokens/verify", nil, 401, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := h.do(tc.method, tc.path, nil, tc.headers...)
			h.want(a, tc.status, tc.code)
			if !strings.HasPrefix(a.Header.Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type %q", a.Header.Get("Content-Type"))
			}
		})
	}
	a := h.do("GET", "user/tokens/verify", nil)
	h.want(a, 200, 0)
	var st struct{ ID, Status string }
	a.result(t, &st)
	if st.Status != "active" || len(a.Env.Messages) == 0 || a.Env.Messages[0].Code != 10000 {
		t.Errorf("verify: %s", a.Raw)
	}
	open := newHarness(t, cfemu.Options{Token: "", AccountOwnedToken: true})
	// Token "" in Options is replaced by the harness; build one that accepts any token.
	anyTok, err := cfemu.New(cfemu.Options{AccountOwnedToken: true})
	if err != nil {
		t.Fatal(err)
	}
	defer anyTok.Close()
	req := httptest.NewRequest("GET", base+"/accounts/"+account+"/tokens/verify", nil)
	req.Header.Set("Authorization", "Bearer anything-goes")
	w := httptest.NewRecorder()
	anyTok.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Errorf("account token verify with Token \"\": %d %s", w.Code, w.Body)
	}
	open.want(open.do("GET", "user/tokens/verify", nil), 401, 1000)
	if _, err := cfemu.New(cfemu.Options{FailRate: 2}); err == nil {
		t.Error("a fail rate of 2 was accepted")
	}
}

func TestRateLimit_GlobalWindow(t *testing.T) {
	h := newHarness(t, cfemu.Options{RateLimit: 3, RateWindow: 10 * time.Second})
	for i := 0; i < 3; i++ {
		a := h.do("GET", "user/tokens/verify", nil)
		h.want(a, 200, 0)
		if a.Header.Get("X-Ratelimit-Limit") != "3" || a.Header.Get("X-Ratelimit-Remaining") != fmt.Sprint(2-i) {
			t.Errorf("rate headers %v", a.Header)
		}
	}
	a := h.do("GET", "user/tokens/verify", nil)
	h.want(a, 429, 971)
	if a.Header.Get("Retry-After") != "10" || a.Header.Get("X-Ratelimit-Remaining") != "0" || a.Header.Get("X-Ratelimit-Reset") == "" {
		t.Errorf("429 headers %v", a.Header)
	}
	h.clock.Advance(9 * time.Second)
	a = h.do("GET", "user/tokens/verify", nil)
	h.want(a, 429, 971)
	if a.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q a second before the end", a.Header.Get("Retry-After"))
	}
	h.clock.Advance(time.Second)
	h.want(h.do("GET", "user/tokens/verify", nil), 200, 0)
	// Other tokens have their own budget; requests sliding out of the window free it.
	open, err := cfemu.New(cfemu.Options{RateLimit: 1, RateWindow: time.Second, Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	for _, tok := range []string{"a", "b"} {
		req := httptest.NewRequest("GET", base+"/user/tokens/verify", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		open.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Errorf("token %s: %d", tok, w.Code)
		}
	}
}

func TestFaults_Injected(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	applied := 0
	emu, err := cfemu.New(cfemu.Options{Token: token, FailRate: 1, Seed: 42, FaultRetryAfter: 1500 * time.Millisecond, RateLimit: -1, OnRequest: func(ev cfemu.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen[ev.Fault]++
		if ev.Applied {
			applied++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	srv := httptest.NewServer(emu)
	defer srv.Close()
	resets := 0
	for i := 0; i < 120; i++ {
		req, _ := http.NewRequest("POST", srv.URL+base+"/accounts/"+account+"/storage/kv/namespaces", strings.NewReader(fmt.Sprintf(`{"title":"t%d"}`, i)))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			resets++
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 429:
			if res.Header.Get("Retry-After") != "2" || !bytes.Contains(b, []byte(`"code":971`)) {
				t.Errorf("injected 429: %v %s", res.Header, b)
			}
		case 500, 502, 503:
		default:
			t.Errorf("status %d under a fail rate of 1", res.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range []string{cfemu.Fault500, cfemu.Fault502, cfemu.Fault503, cfemu.Fault429, cfemu.FaultResetBefore, cfemu.FaultResetAfter} {
		if seen[f] == 0 {
			t.Errorf("fault %s never injected: %v", f, seen)
		}
	}
	// A reset may also break the next request on a reused connection.
	if resets < seen[cfemu.FaultResetBefore]+seen[cfemu.FaultResetAfter] || applied != seen[cfemu.FaultResetAfter] {
		t.Errorf("%d client errors, %d applied, faults %v", resets, applied, seen)
	}
	// In a recorder (no connection to hijack) a reset aborts the handler.
	mu.Unlock()
	defer mu.Lock()
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("recover() = %v, want http.ErrAbortHandler", r)
		}
	}()
	for i := 0; i < 100; i++ {
		req := httptest.NewRequest("GET", base+"/user/tokens/verify", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		emu.ServeHTTP(httptest.NewRecorder(), req)
	}
}

func TestLatency(t *testing.T) {
	var mu sync.Mutex
	var waits []time.Duration
	sleep := func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	h := newHarness(t, cfemu.Options{Latency: 20 * time.Millisecond, Sleep: sleep})
	h.want(h.do("GET", "user/tokens/verify", nil), 200, 0)
	mu.Lock()
	if len(waits) != 1 || waits[0] != 20*time.Millisecond {
		t.Errorf("waits %v before answering, want [20ms]", waits)
	}
	mu.Unlock()
	// A client that goes away during the latency gets nothing.
	req := httptest.NewRequest("GET", base+"/user/tokens/verify", nil)
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	w := httptest.NewRecorder()
	h.emu.ServeHTTP(w, req.WithContext(ctx))
	if w.Body.Len() != 0 {
		t.Errorf("answered a canceled request: %s", w.Body)
	}
}

func TestBodyTooLarge(t *testing.T) {
	h := newHarness(t, cfemu.Options{MaxBodyBytes: 1 << 20})
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	a := h.do("PUT", "accounts/"+account+"/storage/kv/namespaces/"+strings.Repeat("a", 32)+"/values/k", big)
	h.want(a, 413, 10027)
}

// multipartBody builds a multipart body from name/filename/content-type/content quadruples.
func multipartBody(t testing.TB, parts ...[4]string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		hdr := make(map[string][]string)
		disp := fmt.Sprintf(`form-data; name=%q`, p[0])
		if p[1] != "" {
			disp += fmt.Sprintf(`; filename=%q`, p[1])
		}
		hdr["Content-Disposition"] = []string{disp}
		if p[2] != "" {
			hdr["Content-Type"] = []string{p[2]}
		}
		pw, err := w.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p[3]))
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}
