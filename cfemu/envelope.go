package cfemu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Error codes the emulator answers with. Those marked "emulator's own" are
// not documented by Cloudflare (see docs/cloudflare.md); clients should
// branch on the HTTP status for them.
const (
	codeRateLimited      = 971    // 429 of the global rate limit (current form)
	codeInvalidToken     = 1000   // /user/tokens/verify: Invalid API Token
	codeBadHeaders       = 6003   // Invalid request headers
	codeBadAuthFormat    = 6111   // Invalid format for Authorization header (in error_chain)
	codeNoRoute          = 7000   // No route for that URI
	codeMethodNotAllowed = 7001   // Method not allowed for that URI
	codeBadIdentifier    = 7003   // Could not route to ..., perhaps your object identifier is invalid?
	codeD1Query          = 7500   // D1: the SQLite error
	codeD1Exists         = 7502   // D1: database name taken (emulator's own)
	codeD1NotFound       = 7404   // D1: database not found (emulator's own)
	codeAuth             = 10000  // Authentication error
	codeBadRequest       = 10001  // malformed body or content type
	codeInternal         = 10002  // internal error (also injected faults)
	codeNotFound         = 10007  // Workers: resource not found
	codeKeyNotFound      = 10009  // KV: key not found
	codeBadNamespaceID   = 10011  // KV: could not parse UUID
	codeNamespaceMissing = 10013  // KV: namespace not found
	codeNamespaceExists  = 10014  // KV: title taken
	codeTitleMissing     = 10019  // KV: title required (emulator's own)
	codeKVKeyName        = 10020  // KV: invalid key name (emulator's own)
	codeKVValueSize      = 10024  // KV: value or bulk too large (emulator's own)
	codeKVKeySize        = 10030  // KV: key too long (emulator's own)
	codeKVMetadata       = 10031  // KV: metadata too large or not an object (emulator's own)
	codeKVExpiration     = 10033  // KV: expiration/expiration_ttl invalid (emulator's own)
	codeKVListLimit      = 10034  // KV: list limit or cursor invalid (emulator's own)
	codeKVKeyRate        = 10040  // KV: same key written too fast (emulator's own)
	codeBucketExists     = 10004  // R2: bucket already exists
	codeBucketMissing    = 10006  // R2: bucket does not exist
	codeBucketName       = 10005  // R2: invalid bucket name
	codeTooLarge         = 10027  // body too large
	codeRouteExists      = 10020  // Workers routes: duplicate pattern (emulator's own; scoped per service)
	codeDNSMissing       = 81044  // Record does not exist.
	codeDNSConflict      = 81053  // An A, AAAA, or CNAME record with that host already exists.
	codeDNSIdentical     = 81058  // An identical record already exists.
	codeDNSInvalid       = 9005   // DNS: invalid content/type (emulator's own)
	codeZoneExists       = 1061   // Zones: already exists
	codeServiceNotFound  = 10090  // Workers services: "This Worker does not exist on your account."
	codeDomainTaken      = 100116 // Workers custom domains: hostname or DNS record taken (emulator's own)
	codeNoAuth           = 9106   // no credentials at all: Missing X-Auth-Key, X-Auth-Email or Authorization headers
	codeBucketNotEmpty   = 10008  // R2: the bucket you tried to delete is not empty
	codeObjectMissing    = 10007  // R2: the specified key does not exist
)

// errorItem is one entry of the envelope's errors (or messages) list.
type errorItem struct {
	Code       int         `json:"code"`
	Message    string      `json:"message"`
	ErrorChain []errorItem `json:"error_chain,omitempty"`
}

// apiErr is a failed answer: status, errors and extra headers.
type apiErr struct {
	status int
	errs   []errorItem
	header http.Header
}

func (e *apiErr) Error() string {
	if len(e.errs) == 0 {
		return strconv.Itoa(e.status)
	}
	return fmt.Sprintf("%d %d %s", e.status, e.errs[0].Code, e.errs[0].Message)
}

func (e *apiErr) firstCode() int {
	if len(e.errs) == 0 {
		return 0
	}
	return e.errs[0].Code
}

func fail(status, code int, format string, args ...any) *apiErr {
	return &apiErr{status: status, errs: []errorItem{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func badRequest(format string, args ...any) *apiErr {
	return fail(http.StatusBadRequest, codeBadRequest, format, args...)
}

// noRoute is Cloudflare's answer for a path it does not serve.
func noRoute() *apiErr {
	return fail(http.StatusNotFound, codeNoRoute, "No route for that URI")
}

// badIdentifier is Cloudflare's answer for a malformed object id in a path.
func badIdentifier(path string) *apiErr {
	return &apiErr{status: http.StatusBadRequest, errs: []errorItem{
		{Code: codeBadIdentifier, Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", path)},
		{Code: codeNoRoute, Message: "No route for that URI"},
	}}
}

func rateLimited() *apiErr {
	return fail(http.StatusTooManyRequests, codeRateLimited, "Please wait and consider throttling your request speed")
}

// envelope is Cloudflare's response body.
type envelope struct {
	Success    bool        `json:"success"`
	Errors     []errorItem `json:"errors"`
	Messages   []errorItem `json:"messages"`
	Result     any         `json:"result"`
	ResultInfo any         `json:"result_info,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"success":false,"errors":[{"code":10002,"message":"cannot encode the result"}],"messages":[],"result":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiErr) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	writeJSON(w, e.status, envelope{Errors: e.errs, Messages: []errorItem{}})
}

// ok writes a successful envelope.
func (c *call) ok(result any) error {
	writeJSON(c.w, http.StatusOK, envelope{Success: true, Errors: []errorItem{}, Messages: []errorItem{}, Result: result})
	return nil
}

func (c *call) okInfo(result, info any) error {
	writeJSON(c.w, http.StatusOK, envelope{Success: true, Errors: []errorItem{}, Messages: []errorItem{}, Result: result, ResultInfo: info})
	return nil
}

// pageInfo is result_info of page/per_page pagination.
type pageInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
	TotalPages int `json:"total_pages"`
}

// paginate cuts items to the page the query asks for (page past the end
// is empty, so auto-pagers stop).
func paginate[T any](c *call, items []T, defPerPage, maxPerPage int) ([]T, pageInfo, *apiErr) {
	page, err := c.queryInt("page", 1, 1, math.MaxInt32)
	if err != nil {
		return nil, pageInfo{}, err
	}
	per, err := c.queryInt("per_page", defPerPage, 1, maxPerPage)
	if err != nil {
		return nil, pageInfo{}, err
	}
	info := pageInfo{Page: page, PerPage: per, TotalCount: len(items), TotalPages: (len(items) + per - 1) / per}
	start := (page - 1) * per
	if start >= len(items) {
		return []T{}, info, nil
	}
	end := min(start+per, len(items))
	info.Count = end - start
	return items[start:end], info, nil
}

// queryInt reads an integer query parameter within [lo, hi].
func (c *call) queryInt(name string, def, lo, hi int) (int, *apiErr) {
	s := c.r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n != math.Trunc(n) || n < float64(lo) || n > float64(hi) {
		return 0, badRequest("%s must be an integer from %d to %d, got %q", name, lo, hi, s)
	}
	return int(n), nil
}

// decodeJSON reads the request body as JSON into v.
func (c *call) decodeJSON(v any) *apiErr {
	if len(c.body) == 0 {
		return badRequest("request body is empty; expected JSON")
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return badRequest("request body is not valid JSON: %v", err)
	}
	return nil
}

// newID returns a 32-hex-digit identifier, the shape of Cloudflare's ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newUUID returns a random UUID (version 4), the shape of version,
// deployment and D1 ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func isHexID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// stamp formats a time as Cloudflare does in JSON.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
