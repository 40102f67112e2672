// Package edge runs the Workers deployed to the emulator: each version of
// a live deployment runs in its own workerd (through devrun), and requests
// are routed to them as Cloudflare's edge would — by Host (a custom domain,
// a route pattern, or NAME.SUBDOMAIN.workers.dev), split between the
// deployment's versions by their percentages, or pinned to one with the
// Cloudflare-Workers-Version-Overrides header. KV bindings read and write
// the emulator's own namespaces, vars and secrets come from the version,
// and the version metadata binding names the version, so a deploy against
// the emulator ends with the real Worker answering, and a canary of a
// broken version fails its health gate for real.
//
// Not run: R2 and D1 bindings (the Worker sees them undefined), modules
// other than the main one, Durable Object storage shared across versions
// (each version keeps its own).
package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/devrun"
	"github.com/factory-wager/edgeconf/kvstore"
)

// VersionOverrideHeader pins a request to a version of the live deployment.
const VersionOverrideHeader = "Cloudflare-Workers-Version-Overrides"

// MaxRunning bounds how many workerd processes the edge keeps (two per
// Worker at most: a deployment splits between at most two versions).
const MaxRunning = 16

// Options configure an Edge.
type Options struct {
	Emulator *cfemu.Emulator
	Workerd  string // the workerd binary (devrun.FindWorkerd)
	// APIBase is the emulator's own API URL (http://HOST:PORT/client/v4)
	// and Token a token it accepts: KV bindings go through them.
	APIBase, Token string
	StateDir       string // workerd's files and Durable Object storage go under it
	Output         io.Writer
	Logger         *slog.Logger
	Seed           uint64 // for the percentage split
}

// Edge is an http.Handler that serves the emulator's live Workers.
type Edge struct {
	o       Options
	mu      sync.Mutex
	gen     uint64
	synced  bool
	workers []cfemu.LiveWorker
	running map[string]*devrun.Server // by version id
	rng     *rand.Rand
	closed  bool
}

// New returns an Edge; it starts workerd on the first request.
func New(o Options) *Edge {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	return &Edge{o: o, running: map[string]*devrun.Server{}, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5bd1e995))}
}

// Close stops every workerd.
func (e *Edge) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	for id, s := range e.running {
		_ = s.Stop()
		delete(e.running, id)
	}
	return nil
}

// sync makes the running workerds those of the live deployments; the
// caller holds e.mu.
func (e *Edge) sync(ctx context.Context) error {
	if e.closed {
		return errors.New("edge: closed")
	}
	gen := e.o.Emulator.Generation()
	if e.synced && gen == e.gen {
		return nil
	}
	workers := e.o.Emulator.LiveWorkers()
	want := map[string]bool{}
	for _, w := range workers {
		for _, v := range w.Versions {
			want[v.ID] = true
		}
	}
	for id, s := range e.running {
		if !want[id] {
			_ = s.Stop()
			delete(e.running, id)
		}
	}
	var errs []error
	for _, w := range workers {
		for _, v := range w.Versions {
			if e.running[v.ID] != nil {
				continue
			}
			if len(e.running) >= MaxRunning {
				errs = append(errs, fmt.Errorf("edge: %d versions running (MaxRunning); version %s of %s is not started", MaxRunning, v.ID, w.Name))
				continue
			}
			s, err := e.start(ctx, w, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			e.running[v.ID] = s
		}
	}
	e.workers, e.gen, e.synced = workers, gen, len(errs) == 0
	return errors.Join(errs...)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs one version on workerd.
func (e *Edge) start(ctx context.Context, w cfemu.LiveWorker, v cfemu.LiveVersion) (*devrun.Server, error) {
	var script []byte
	for _, m := range v.Modules {
		if m.Name == v.MainModule {
			script = m.Content
		}
	}
	if script == nil {
		return nil, fmt.Errorf("edge: version %s of %s has no main module", v.ID, w.Name)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	o := devrun.Options{
		Workerd: e.o.Workerd, Script: script, Listen: addr, Name: w.Name,
		StateDir:          filepath.Join(e.o.StateDir, "edge", w.Name, v.ID),
		CompatibilityDate: v.CompatibilityDate, CompatibilityFlags: v.CompatibilityFlags,
		Vars: map[string]string{}, Secrets: v.Secrets, VersionID: v.ID, VersionTag: v.Tag,
		Output: e.o.Output, Logger: e.o.Logger,
	}
	client, err := cloudflare.New(cloudflare.Options{BaseURL: e.o.APIBase, Token: e.o.Token, AccountID: w.AccountID, Logger: e.o.Logger})
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	for _, raw := range v.Bindings {
		var b struct {
			Type, Name, Text string
			NamespaceID      string `json:"namespace_id"`
			ClassName        string `json:"class_name"`
			ScriptName       string `json:"script_name"`
		}
		if json.Unmarshal(raw, &b) != nil {
			continue
		}
		switch b.Type {
		case "plain_text":
			o.Vars[b.Name] = b.Text
		case "kv_namespace":
			kv := client.KV(b.NamespaceID)
			o.KV = append(o.KV, devrun.KVNamespace{Binding: b.Name, Open: func(bool) (kvstore.Store, func() error, error) {
				return kv, func() error { return nil }, nil
			}})
		case "durable_object_namespace":
			if b.ScriptName == "" || b.ScriptName == w.Name {
				o.DurableObjects = append(o.DurableObjects, devrun.DurableObject{Binding: b.Name, ClassName: b.ClassName})
			}
		}
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	s, err := devrun.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("edge: start version %s of %s: %w", v.ID, w.Name, err)
	}
	e.o.Logger.Info("edge: running", "worker", w.Name, "version", v.ID, "url", s.URL)
	return s, nil
}

// match reports whether host (and path) is served by w.
func match(w cfemu.LiveWorker, host, path string) bool {
	for _, d := range w.Domains {
		if d == host {
			return true
		}
	}
	if host == w.Name+".workers.dev" || (strings.HasPrefix(host, w.Name+".") && strings.HasSuffix(host, ".workers.dev")) {
		return true
	}
	for _, p := range w.Routes {
		if matchRoute(p, host, path) {
			return true
		}
	}
	return false
}

// matchRoute matches a route pattern: HOST/PATH where HOST may start with
// "*" (any subdomain, or the host itself with "*.") and PATH may end with
// "*".
func matchRoute(pattern, host, path string) bool {
	ph, pp, _ := strings.Cut(pattern, "/")
	pp = "/" + pp
	switch {
	case strings.HasPrefix(ph, "*."):
		if host != ph[2:] && !strings.HasSuffix(host, ph[1:]) {
			return false
		}
	case strings.HasPrefix(ph, "*"):
		if !strings.HasSuffix(host, ph[1:]) {
			return false
		}
	case ph != host:
		return false
	}
	if strings.HasSuffix(pp, "*") {
		return strings.HasPrefix(path, strings.TrimSuffix(pp, "*"))
	}
	return path == pp
}

// override is the version the request's override header names for worker.
func override(h, worker string) string {
	for _, item := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || strings.TrimSpace(k) != worker {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			return v[1 : len(v)-1]
		}
	}
	return ""
}

// pick chooses the version of w for a request; the caller holds e.mu.
func (e *Edge) pick(w cfemu.LiveWorker, r *http.Request) (cfemu.LiveVersion, bool) {
	if id := override(r.Header.Get(VersionOverrideHeader), w.Name); id != "" {
		for _, v := range w.Versions {
			if v.ID == id {
				return v, true
			}
		}
	}
	x := e.rng.Float64() * 100
	for _, v := range w.Versions {
		if x < v.Percentage {
			return v, true
		}
		x -= v.Percentage
	}
	for _, v := range w.Versions {
		if v.Percentage > 0 {
			return v, true
		}
	}
	return cfemu.LiveVersion{}, false
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// ServeHTTP routes a request to the Worker its Host names.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	e.mu.Lock()
	err := e.sync(r.Context())
	var target *url.URL
	var name string
	for _, lw := range e.workers {
		if !match(lw, host, r.URL.Path) {
			continue
		}
		name = lw.Name
		if v, ok := e.pick(lw, r); ok {
			if s := e.running[v.ID]; s != nil {
				target, _ = url.Parse(s.URL)
			}
		}
		break
	}
	e.mu.Unlock()
	switch {
	case name == "":
		jsonError(w, http.StatusNotFound, fmt.Sprintf("no Worker of the emulator serves host %q (a custom domain, a route or NAME.SUBDOMAIN.workers.dev)", host))
	case target == nil && err != nil:
		jsonError(w, http.StatusBadGateway, err.Error())
	case target == nil:
		jsonError(w, http.StatusBadGateway, "Worker "+name+" has no running version")
	default:
		p := httputil.NewSingleHostReverseProxy(target)
		p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			jsonError(w, http.StatusBadGateway, "Worker "+name+": "+err.Error())
		}
		p.ServeHTTP(w, r)
	}
}
