// Package devrun runs the built Worker locally on workerd, the open-source
// Workers runtime, with its bindings backed by edgeconf's own local state:
// KV namespaces are served from the bbolt store over loopback HTTP in the
// protocol workerd's kvNamespace binding speaks, Durable Objects keep their
// storage under the state folder, vars come from the configuration and
// secrets from .dev.vars or the environment (passed to workerd through its
// environment, never written to a file), and the version metadata binding
// names the build.
//
// workerd runs in its own process group with a parent-death signal, and
// Stop kills the whole group, so no process outlives edgeconf.
package devrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds.
const (
	DefaultStartTimeout = 20 * time.Second // workerd to accept connections
	stopGrace           = 5 * time.Second  // SIGTERM to SIGKILL
)

// ErrPortInUse is returned (wrapped) when the listen address is taken.
var ErrPortInUse = errors.New("port in use")

// KVNamespace is a KV binding and how to open its store.
type KVNamespace struct {
	Binding string
	Open    OpenStore
}

// DurableObject is a Durable Object binding of a class the Worker exports.
type DurableObject struct {
	Binding, ClassName string
}

// Options configures Start. Workerd, Script, Listen and StateDir are required.
type Options struct {
	Workerd            string // the workerd binary (see FindWorkerd)
	Script             []byte // the bundled ES module
	SourceMap          []byte // optional
	Listen             string // host:port the Worker answers on
	StateDir           string // edgeconf's state folder; workerd's files go in StateDir/workerd
	Name               string // the Worker's name (Durable Object keys)
	CompatibilityDate  string
	CompatibilityFlags []string
	KV                 []KVNamespace
	DurableObjects     []DurableObject
	Vars               map[string]string // plain text
	Secrets            map[string]string // values never written to disk or logs
	VersionID          string
	VersionTag         string
	StartTimeout       time.Duration // 0 means DefaultStartTimeout
	Output             io.Writer     // workerd's stdout and stderr; nil discards
	Logger             *slog.Logger
}

// Server is a running workerd with its KV services.
type Server struct {
	URL  string // http://Listen
	cmd  *exec.Cmd
	kv   []*http.Server
	done chan struct{}
	err  error // workerd's exit, after done
	once sync.Once
	log  *slog.Logger
}

// Start writes workerd's configuration, starts the KV services and
// workerd, and returns once the Worker accepts connections.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if err := checkPort(o.Listen); err != nil {
		return nil, err
	}
	// Absolute, because workerd runs in dir and reads the paths the
	// configuration names from there: a relative state folder (the
	// default, .edgeconf) would be looked up inside itself.
	dir, err := filepath.Abs(filepath.Join(o.StateDir, "workerd"))
	if err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "do"), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	s := &Server{URL: "http://" + o.Listen, done: make(chan struct{}), log: o.Logger}
	services := make(map[string]string, len(o.KV))
	for _, ns := range o.KV {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.closeKV()
			return nil, fmt.Errorf("KV service for %s: %w", ns.Binding, err)
		}
		hs := &http.Server{Handler: KVHandler(ns.Open, o.Logger), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		s.kv = append(s.kv, hs)
		services[ns.Binding] = ln.Addr().String()
	}
	if err := os.WriteFile(filepath.Join(dir, "index.js"), o.Script, 0o644); err != nil {
		s.closeKV()
		return nil, fmt.Errorf("write the script: %w", err)
	}
	cfg := Config(o, services, filepath.Join(dir, "do"))
	cfgPath := filepath.Join(dir, "config.capnp")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		s.closeKV()
		return nil, fmt.Errorf("write %s: %w", cfgPath, err)
	}
	cmd := exec.Command(o.Workerd, "serve", cfgPath, "--experimental")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = o.Output, o.Output
	cmd.Env = workerdEnv(o)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		s.closeKV()
		return nil, fmt.Errorf("start %s: %w", o.Workerd, err)
	}
	s.cmd = cmd
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, o.Listen, o.StartTimeout); err != nil {
		_ = s.Stop()
		return nil, err
	}
	o.Logger.Info("workerd ready", "url", s.URL, "pid", cmd.Process.Pid)
	return s, nil
}

// Pid is workerd's process id (and process group id).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Done is closed when workerd exits.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why workerd exited, after Done.
func (s *Server) Err() error { return s.err }

func (s *Server) waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("workerd exited before listening on %s: %v (its output says why)", addr, s.err)
		case <-deadline.C:
			return fmt.Errorf("workerd did not listen on %s within %s", addr, timeout)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Stop ends workerd (SIGTERM to its process group, SIGKILL after 5 s) and
// the KV services. It is safe to call more than once.
func (s *Server) Stop() error {
	s.once.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			pgid := s.cmd.Process.Pid
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(stopGrace):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-s.done
			}
			// Anything left in the group goes too.
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		s.closeKV()
	})
	return nil
}

func (s *Server) closeKV() {
	for _, hs := range s.kv {
		_ = hs.Close()
	}
}

func checkPort(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (%v); pick another with --listen", addr, ErrPortInUse, err)
	}
	return ln.Close()
}

// envName is the workerd environment variable that carries a var or secret.
func envName(kind, name string) string { return "EDGECONF_" + kind + "_" + name }

func workerdEnv(o Options) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range o.Vars {
		env = append(env, envName("VAR", k)+"="+v)
	}
	for k, v := range o.Secrets {
		env = append(env, envName("SECRET", k)+"="+v)
	}
	sort.Strings(env)
	return env
}

// capnpText quotes s as a Cap'n Proto text literal.
func capnpText(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Config is workerd's configuration for o, with the KV bindings pointing at
// services (binding → host:port) and Durable Object storage in doDir.
// Vars and secrets are bound from workerd's environment (fromEnvironment),
// so their values never appear in the file.
func Config(o Options, services map[string]string, doDir string) string {
	var b strings.Builder
	b.WriteString("# Written by edgeconf dev; rewritten at every start.\n")
	b.WriteString("using Workerd = import \"/workerd/workerd.capnp\";\n\n")
	b.WriteString("const config :Workerd.Config = (\n  services = [\n    (name = \"main\", worker = .mainWorker),\n")
	kvs := append([]KVNamespace(nil), o.KV...)
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Binding < kvs[j].Binding })
	for _, ns := range kvs {
		fmt.Fprintf(&b, "    (name = %s, external = (address = %s, http = ())),\n", capnpText("kv-"+ns.Binding), capnpText(services[ns.Binding]))
	}
	if len(o.DurableObjects) > 0 {
		fmt.Fprintf(&b, "    (name = \"do-storage\", disk = (path = %s, writable = true)),\n", capnpText(doDir))
	}
	b.WriteString("  ],\n")
	fmt.Fprintf(&b, "  sockets = [ (name = \"http\", address = %s, http = (), service = \"main\") ],\n);\n\n", capnpText(o.Listen))
	b.WriteString("const mainWorker :Workerd.Worker = (\n")
	b.WriteString("  modules = [ (name = \"index.js\", esModule = embed \"index.js\") ],\n")
	date := o.CompatibilityDate
	if date == "" {
		date = "2025-01-01"
	}
	fmt.Fprintf(&b, "  compatibilityDate = %s,\n", capnpText(date))
	flags := make([]string, 0, len(o.CompatibilityFlags))
	for _, f := range o.CompatibilityFlags {
		flags = append(flags, capnpText(f))
	}
	fmt.Fprintf(&b, "  compatibilityFlags = [%s],\n", strings.Join(flags, ", "))
	b.WriteString("  bindings = [\n")
	for _, ns := range kvs {
		fmt.Fprintf(&b, "    (name = %s, kvNamespace = %s),\n", capnpText(ns.Binding), capnpText("kv-"+ns.Binding))
	}
	for _, k := range sortedKeys(o.Vars) {
		fmt.Fprintf(&b, "    (name = %s, fromEnvironment = %s),\n", capnpText(k), capnpText(envName("VAR", k)))
	}
	for _, k := range sortedKeys(o.Secrets) {
		fmt.Fprintf(&b, "    (name = %s, fromEnvironment = %s),\n", capnpText(k), capnpText(envName("SECRET", k)))
	}
	for _, d := range o.DurableObjects {
		fmt.Fprintf(&b, "    (name = %s, durableObjectNamespace = %s),\n", capnpText(d.Binding), capnpText(d.ClassName))
	}
	meta := fmt.Sprintf(`{"id":%q,"tag":%q}`, o.VersionID, o.VersionTag)
	fmt.Fprintf(&b, "    (name = \"CF_VERSION_METADATA\", json = %s),\n", capnpText(meta))
	b.WriteString("  ],\n")
	if len(o.DurableObjects) > 0 {
		b.WriteString("  durableObjectNamespaces = [\n")
		seen := map[string]bool{}
		for _, d := range o.DurableObjects {
			if seen[d.ClassName] {
				continue
			}
			seen[d.ClassName] = true
			fmt.Fprintf(&b, "    (className = %s, uniqueKey = %s),\n", capnpText(d.ClassName), capnpText(o.Name+"-"+d.ClassName))
		}
		b.WriteString("  ],\n  durableObjectStorage = (localDisk = \"do-storage\"),\n")
	}
	b.WriteString(");\n")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
