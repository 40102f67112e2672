// Package server is `edgeconf serve`: a JSON API under /api/v1 over the
// configuration, its overrides, the flags, the dependency monitor and the
// deployments, live updates over server-sent events, /metrics and /healthz,
// and the dashboard (package web) at /.
//
// Security: a read-only and an admin bearer token (compared in constant
// time); without any token the server serves loopback only and mutations
// are off. Mutations need the admin token, pass http.CrossOriginProtection
// and are audited with the token's name; GET never mutates; request bodies
// are capped (413); the Host header must be one the server answers for
// (DNS rebinding); the event stream checks Origin.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/monitor"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/web"
)

// Bounds.
const (
	DefaultMaxBody   = 64 << 10    // a request body
	DefaultPoll      = time.Second // how often the store is checked for changes
	MaxSSEClients    = 100         // event streams at once
	sseKeepAlive     = 15 * time.Second
	maxHistoryPaths  = 200 // paths the audit log reads
	maxSimulateUsers = 1_000_000
)

// Role is what a request may do.
type Role string

// The roles.
const (
	Anonymous Role = "anonymous" // no token configured: loopback reads only
	Reader    Role = "read"
	Admin     Role = "admin"
)

// Session is the overrides store opened for one request.
type Session struct {
	Manager *overrides.Manager
	// Store is the CONFIG namespace itself, for what the Worker records
	// there (errors and telemetry); optional.
	Store  kvstore.Store
	Target string
	Close  func() error
}

// Options configure a Server.
type Options struct {
	// Open opens the overrides store for one request (a local state
	// folder admits one process at a time, so the server does not hold it:
	// edgeconf commands in another terminal work while it runs). by is
	// who the audit log names for a change.
	Open func(ctx context.Context, write bool, by string) (*Session, error)
	// OpenLKG opens the overrides on their last-known-good copy; reads use
	// it while the monitor says KV is critical. Optional.
	OpenLKG func(ctx context.Context) (*Session, error)
	Env     string
	// Monitor is optional; without it /api/v1/monitor says so.
	Monitor *monitor.Monitor
	// Deployments is optional: the live deployment and versions, read-only.
	Deployments func(ctx context.Context) (any, error)
	// Databases are the D1 databases of the configuration and OpenD1
	// opens one for a read (its tables, row counts and migrations).
	Databases []Database
	OpenD1    func(ctx context.Context, name string) (d1.DB, error)
	// AdminToken (DASHBOARD_TOKEN) may read and change; ReadToken may read.
	AdminToken, ReadToken string
	// Hosts are the Host header values the server answers (host or
	// host:port); requests for any other host are refused.
	Hosts   []string
	MaxBody int64         // 0 means DefaultMaxBody
	Poll    time.Duration // 0 means DefaultPoll
	Now     func() time.Time
	Logger  *slog.Logger
	Assets  fs.FS // the dashboard; nil means web.Assets()
	// Buckets answer the presigned URLs of local R2 buckets at
	// /r2/NAME (localfs.Store.Handler): the URL's signature authorises
	// the request, not a dashboard token, and the object store's own
	// limits bound the body rather than MaxBody. Optional.
	Buckets map[string]http.Handler
}

// Database is a D1 database the configuration binds.
type Database struct {
	Binding, Name string
	MigrationsDir string // where its NNNN_name.sql files are
}

// Server serves the API and the dashboard.
type Server struct {
	o       Options
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	hosts   map[string]bool
	mu      sync.Mutex
	clients map[chan event]bool
	version atomic.Uint64 // bumped at every change seen
	metrics metrics
	snaps   snapCache
	// ready is closed once Run has taken its first look at the store: a
	// stream opened after that is told of every later change.
	ready     chan struct{}
	readyOnce sync.Once
}

type event struct {
	Kind string `json:"kind"` // overrides, monitor
	Seq  uint64 `json:"seq"`
}

// New returns a Server. Hosts must not be empty.
func New(o Options) (*Server, error) {
	if o.Open == nil {
		return nil, errors.New("server: Options.Open is required")
	}
	if len(o.Hosts) == 0 {
		return nil, errors.New("server: at least one allowed Host is required")
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Assets == nil {
		o.Assets = web.Assets()
	}
	s := &Server{o: o, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection(), hosts: map[string]bool{}, clients: map[chan event]bool{}, ready: make(chan struct{})}
	for _, h := range o.Hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	s.routes()
	return s, nil
}

// MutationsEnabled reports whether an admin token is configured.
func (s *Server) MutationsEnabled() bool { return s.o.AdminToken != "" }

func (s *Server) routes() {
	read := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle(pattern, s.api(pattern, Reader, h))
	}
	write := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle(pattern, s.cop.Handler(s.api(pattern, Admin, h)))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.Handle("GET /metrics", s.api("GET /metrics", Reader, s.serveMetrics))
	read("GET /api/v1/session", s.getSession)
	read("GET /api/v1/config", s.getConfig)
	read("GET /api/v1/report", s.getReport)
	read("GET /api/v1/flags", s.getFlags)
	read("GET /api/v1/flags/{name}/eval", s.evalFlag)
	read("GET /api/v1/flags/{name}/simulate", s.simulateFlag)
	read("GET /api/v1/overrides", s.listOverrides)
	write("PUT /api/v1/overrides/{path}", s.setOverride)
	write("DELETE /api/v1/overrides/{path}", s.deleteOverride)
	read("GET /api/v1/history/{path}", s.history)
	read("GET /api/v1/audit", s.audit)
	read("GET /api/v1/monitor", s.getMonitor)
	read("GET /api/v1/alerts", s.getAlerts)
	read("GET /api/v1/deployments", s.getDeployments)
	read("GET /api/v1/databases", s.getDatabases)
	read("GET /api/v1/telemetry", s.getTelemetry)
	read("GET /api/v1/events", s.events)
	assets := http.FileServerFS(s.o.Assets)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Anything else under /api/ is a JSON 404, not the UI; the UI is
		// read with GET (and HEAD) only.
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/"):
			writeError(w, http.StatusNotFound, "no such API route: %s %s", r.Method, r.URL.Path)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			writeError(w, http.StatusMethodNotAllowed, "%s is not allowed here", r.Method)
		default:
			assets.ServeHTTP(w, r)
		}
	})
}

// Handler is the server's handler: Host check, body limit, then the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts[strings.ToLower(r.Host)] {
			writeError(w, http.StatusMisdirectedRequest, "host %q is not served here (allowed: %s)", r.Host, strings.Join(s.o.Hosts, ", "))
			return
		}
		if name, ok := strings.CutPrefix(r.URL.Path, "/r2/"); ok {
			if b := s.o.Buckets[name]; b != nil {
				w.Header().Set("X-Content-Type-Options", "nosniff")
				b.ServeHTTP(w, r)
				return
			}
			writeError(w, http.StatusNotFound, "no local R2 bucket %q is served here", name)
			return
		}
		if r.ContentLength > s.o.MaxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "request body of %d bytes is over the limit of %d", r.ContentLength, s.o.MaxBody)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		s.mux.ServeHTTP(w, r)
	})
}

// role is what the request's bearer token allows.
func (s *Server) role(r *http.Request) (Role, string, bool) {
	if s.o.AdminToken == "" && s.o.ReadToken == "" {
		return Anonymous, "anonymous", true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("access_token") // EventSource cannot set headers
	}
	switch {
	case tok == "":
		return "", "", false
	case s.o.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.AdminToken)) == 1:
		return Admin, "dashboard-admin", true
	case s.o.ReadToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.o.ReadToken)) == 1:
		return Reader, "dashboard-read", true
	}
	return "", "", false
}

type ctxKey struct{}

type caller struct {
	role Role
	name string
}

// api wraps a handler: the role it needs, JSON errors, counters.
func (s *Server) api(route string, need Role, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.request(route, rw.status) }()
		role, name, ok := s.role(r)
		switch {
		case !ok:
			rw.Header().Set("WWW-Authenticate", `Bearer realm="edgeconf"`)
			writeError(rw, http.StatusUnauthorized, "a bearer token is required (DASHBOARD_TOKEN, or DASHBOARD_READ_TOKEN to read)")
			return
		case need == Admin && s.o.AdminToken == "":
			writeError(rw, http.StatusForbidden, "changes are off: edgeconf serve was started without DASHBOARD_TOKEN")
			return
		case need == Admin && role != Admin:
			writeError(rw, http.StatusForbidden, "this needs the admin token (DASHBOARD_TOKEN)")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, caller{role, name}))
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A change, even a failed one, is seen by the next read.
			defer s.snaps.drop()
		}
		if err := h(rw, r); err != nil {
			var he *httpError
			if errors.As(err, &he) {
				writeJSON(rw, he.status, he.body)
				return
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(rw, http.StatusRequestEntityTooLarge, "request body over the limit of %d bytes", mbe.Limit)
				return
			}
			s.o.Logger.Error("server: "+route, "err", err)
			writeError(rw, http.StatusInternalServerError, "%s", err.Error())
		}
	})
}

func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(ctxKey{}).(caller)
	return c
}

type httpError struct {
	status int
	body   any
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %v", e.status, e.body) }

func errorf(status int, format string, args ...any) error {
	return &httpError{status, map[string]string{"error": fmt.Sprintf(format, args...)}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// Flush lets the event stream through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// session opens the store for one request.
func (s *Server) session(r *http.Request, write bool) (*Session, error) {
	ses, err := s.o.Open(r.Context(), write, callerOf(r).name)
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "the overrides store cannot be opened: %v", err)
	}
	return ses, nil
}

// Run watches the store and the monitor for changes and pushes them to the
// event streams, until ctx ends. The event stream answers only once Run has
// looked at the store, so Run must be running for /api/v1/events.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	last, seen := "", false
	for {
		if fp, err := s.fingerprint(ctx); err == nil && (!seen || fp != last) {
			if seen {
				s.broadcast("overrides")
			}
			last, seen = fp, true
		}
		s.readyOnce.Do(func() { close(s.ready) })
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// fingerprint summarises the overrides: a change anywhere (the dashboard,
// the CLI, another server) changes it.
func (s *Server) fingerprint(ctx context.Context) (string, error) {
	ses, err := s.o.Open(ctx, false, "")
	if err != nil {
		return "", err
	}
	defer ses.Close()
	recs, err := ses.Manager.List(ctx, "")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s@%d@%s;", r.Path, r.Rev, r.SetAt)
	}
	return b.String(), nil
}

// MonitorChanged pushes a monitor change to the event streams (the serve
// command passes it as the monitor's OnChange).
func (s *Server) MonitorChanged([]monitor.Alert) { s.broadcast("monitor") }

func (s *Server) broadcast(kind string) {
	if kind == "overrides" {
		s.snaps.drop() // before anyone is told: their next read resolves afresh
	}
	ev := event{Kind: kind, Seq: s.version.Add(1)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.clients {
		select {
		case ch <- ev:
		default: // a slow client misses an event; the next one resyncs it
		}
	}
}

// events is the live-update stream (server-sent events).
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && !s.sameOrigin(o, r) {
		return errorf(http.StatusForbidden, "origin %q may not open the event stream", o)
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		return errors.New("streaming is not supported")
	}
	ch := make(chan event, 8)
	s.mu.Lock()
	if len(s.clients) >= MaxSSEClients {
		s.mu.Unlock()
		return errorf(http.StatusServiceUnavailable, "%d event streams are open (MaxSSEClients)", MaxSSEClients)
	}
	s.clients[ch] = true
	s.mu.Unlock()
	s.metrics.sse.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.clients, ch)
		s.mu.Unlock()
		s.metrics.sse.Add(-1)
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// hello promises every later change: wait until Run has seen the
	// store once, or a change made now would be taken for its first look.
	select {
	case <-s.ready:
	default:
		select {
		case <-s.ready:
		case <-r.Context().Done():
			return nil
		}
	}
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 1000\nevent: hello\ndata: {\"seq\":%d}\n\n", s.version.Load())
	fl.Flush()
	keep := time.NewTicker(sseKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case ev := <-ch:
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
			fl.Flush()
		case <-keep.C:
			io.WriteString(w, ": keep-alive\n\n")
			fl.Flush()
		}
	}
}

// sameOrigin reports whether origin is the server's own (scheme://Host).
func (s *Server) sameOrigin(origin string, r *http.Request) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(origin, "http://"), "https://")
	return host == r.Host && s.hosts[strings.ToLower(host)]
}

// LoopbackHosts are the Host values of a server listening on addr on
// loopback: 127.0.0.1:PORT, localhost:PORT, [::1]:PORT.
func LoopbackHosts(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("localhost", port), net.JoinHostPort("::1", port)}
}

// redacted strips secrets (proxy passwords) from a value for output.
func redacted(v any) any { return config.RedactValue(v) }
