package cloudflare

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// Error codes of the Cloudflare API that callers of this package branch on.
const (
	CodeRateLimited        = 971   // the global API rate limit (current form)
	CodeRateLimitedOld     = 10100 // the global API rate limit (older form)
	CodeInvalidToken       = 1000  // /user/tokens/verify: Invalid API Token
	CodeAuthentication     = 10000 // Authentication error (token lacks permission)
	CodeKeyNotFound        = 10009 // KV: key not found
	CodeNamespaceNotFound  = 10013 // KV: namespace not found
	CodeNamespaceExists    = 10014 // KV: a namespace with this title already exists
	CodeBucketExists       = 10004 // R2: the bucket already exists
	CodeBucketNotFound     = 10006 // R2: the bucket does not exist
	CodeDatabaseExists     = 7502  // D1: a database with this name already exists
	CodeNoRoute            = 7000  // No route for that URI
	CodeBadObjectID        = 7003  // Could not route to ..., perhaps your object identifier is invalid?
	CodeDNSRecordNotFound  = 81044 // DNS: Record does not exist.
	CodeDNSRecordIdentical = 81058 // DNS: An identical record already exists.
)

// APIError is an answer of the Cloudflare API with HTTP status ≥ 400, after
// every retry the policy allowed. Callers branch on Status and Code.
type APIError struct {
	Status   int           // HTTP status
	Code     int           // the first error code of the body; 0 if it had none
	Message  string        // the first error message of the body
	Errors   []ErrorDetail // every error of the body
	Method   string
	Path     string // the URL path (no host, no query)
	Attempts int    // how many times the request was sent
	// RetryAfter is what the server asked to wait (Retry-After-Ms or
	// Retry-After); 0 if it did not say.
	RetryAfter time.Duration
}

// ErrorDetail is one item of the errors list of Cloudflare's envelope.
type ErrorDetail struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cloudflare: %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	for i, d := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Errors)-3)
			break
		}
		fmt.Fprintf(&b, "; code %d: %s", d.Code, d.Message)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Is makes a refused token (401 or 403) match kvstore.ErrAccessDenied.
func (e *APIError) Is(target error) bool {
	return target == kvstore.ErrAccessDenied && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// HasCode reports whether any of the body's errors has code.
func (e *APIError) HasCode(code int) bool {
	for _, d := range e.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// HasCode reports whether err is an *APIError carrying code.
func HasCode(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.HasCode(code)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// newAPIError reads res (and closes its body) into an *APIError.
func newAPIError(req *http.Request, res *http.Response, attempts int) *APIError {
	b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	_ = res.Body.Close()
	e := &APIError{Status: res.StatusCode, Method: req.Method, Path: req.URL.EscapedPath(), Attempts: attempts}
	var env struct {
		Errors []ErrorDetail `json:"errors"`
	}
	if json.Unmarshal(b, &env) == nil && len(env.Errors) > 0 {
		e.Errors = env.Errors
		e.Code, e.Message = env.Errors[0].Code, env.Errors[0].Message
	} else {
		e.Message = http.StatusText(res.StatusCode)
	}
	if d, ok := retryAfter(res.Header, time.Now); ok {
		e.RetryAfter = d
	}
	return e
}

// ErrRetryBudgetExhausted is wrapped by the error of a call that failed
// because the client-wide retry budget was empty, so it was not retried.
var ErrRetryBudgetExhausted = errors.New("retry budget exhausted: too many recent calls failed, so this one was not retried")

// RateLimitError is returned, without sending the request, when Cloudflare's
// rate limit (or the client's own pacing) asks for a longer wait than the
// policy's MaxRetryAfter, or longer than the context allows.
type RateLimitError struct {
	Wait  time.Duration // how long the call would have had to wait
	Max   time.Duration // RetryPolicy.MaxRetryAfter
	Until time.Time     // when calls may resume
	// Local is true when the wait comes from the client's own pacing
	// (RequestsPerWindow) rather than from a 429 of the API.
	Local bool
	Err   *APIError // the 429 that started the wait, if any
}

func (e *RateLimitError) Error() string {
	who := "Cloudflare's API rate limit (1,200 requests per 5 minutes) is exhausted"
	if e.Local {
		who = "edgeconf paces its calls to stay under Cloudflare's rate limit"
	}
	if e.Max > 0 && e.Wait > e.Max {
		return fmt.Sprintf("cloudflare: %s: calls may resume in %s (at %s), longer than the %s edgeconf waits; try again later",
			who, e.Wait.Round(time.Second), e.Until.UTC().Format("15:04:05 UTC"), e.Max)
	}
	return fmt.Sprintf("cloudflare: %s: calls may resume in %s (at %s), after the context's deadline",
		who, e.Wait.Round(time.Millisecond), e.Until.UTC().Format("15:04:05 UTC"))
}

func (e *RateLimitError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return e.Err
}
