package wsproxy

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/internal/testtool"
)

// The credentials the reference proxy configurations accept
// (testdata/*.conf.in; tinyproxy's are written in its configuration).
const (
	realProxyUser = "proxyuser"
	realProxyPass = "proxypass"
)

const proxyInstall = "apt-get install squid tinyproxy apache2-utils"

// realProxy is a squid or tinyproxy process listening on 127.0.0.1.
type realProxy struct {
	name string
	url  string // http://127.0.0.1:PORT, without credentials
	dir  string
	// wrongPasswordStatus is what the proxy answers a wrong password with:
	// 407, except tinyproxy 1.11's 401.
	wrongPasswordStatus int
}

// startSquid runs squid in the foreground with testdata/squid.conf.in and
// a htpasswd file for proxyuser:proxypass, and stops it in t.Cleanup.
func startSquid(t *testing.T) *realProxy {
	t.Helper()
	squid := requireProxyTool(t, "squid")
	htpasswd := requireProxyTool(t, "htpasswd")
	if _, err := os.Stat("/usr/lib/squid/basic_ncsa_auth"); err != nil {
		requireMissing(t, "squid's basic_ncsa_auth helper: "+err.Error())
	}
	dir := proxyDir(t, "squid")
	if out, err := exec.Command(htpasswd, "-bc", filepath.Join(dir, "squid.htpasswd"), realProxyUser, realProxyPass).CombinedOutput(); err != nil {
		t.Fatalf("htpasswd: %v\n%s", err, out)
	}
	port := freePort(t)
	conf := renderProxyConfig(t, "testdata/squid.conf.in", dir, port, "squid.conf")
	// squid runs as cache_effective_user (proxy) when started as root: the
	// directory and its files must be the proxy user's.
	chownToProxyUser(t, dir)
	p := &realProxy{name: "squid", url: "http://127.0.0.1:" + port, dir: dir, wrongPasswordStatus: 407}
	startProxyProcess(t, p, port, filepath.Join(dir, "cache.log"), squid, "-N", "-f", conf)
	return p
}

// startTinyproxy runs tinyproxy in the foreground with
// testdata/tinyproxy.conf.in and stops it in t.Cleanup.
func startTinyproxy(t *testing.T) *realProxy {
	t.Helper()
	tinyproxy := requireProxyTool(t, "tinyproxy")
	dir := proxyDir(t, "tinyproxy")
	port := freePort(t)
	conf := renderProxyConfig(t, "testdata/tinyproxy.conf.in", dir, port, "tinyproxy.conf")
	p := &realProxy{name: "tinyproxy", url: "http://127.0.0.1:" + port, dir: dir, wrongPasswordStatus: 401}
	startProxyProcess(t, p, port, filepath.Join(dir, "tinyproxy.log"), tinyproxy, "-d", "-c", conf)
	return p
}

// requireProxyTool finds a program of the proxy packages, also in
// /usr/sbin (where Debian puts squid), which is not in every user's PATH.
func requireProxyTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := testtool.Find(name); err == nil {
		return p
	}
	if p, err := exec.LookPath("/usr/sbin/" + name); err == nil {
		return p
	}
	return testtool.Require(t, name, proxyInstall)
}

func requireMissing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; install with: %s", what, proxyInstall)
	}
	t.Skipf("%s; install with: %s", what, proxyInstall)
}

// proxyDir makes a directory the proxy user can enter (t.TempDir's parent
// is private to root, so it cannot be used when squid drops privileges).
func proxyDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wsproxy-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func chownToProxyUser(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return // the proxy runs as the current user
	}
	u, err := user.Lookup("proxy")
	if err != nil {
		return // no such user: squid and tinyproxy run as root
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func renderProxyConfig(t *testing.T, tmpl, dir, port, name string) string {
	t.Helper()
	in, err := os.ReadFile(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer("@DIR@", dir, "@PORT@", port).Replace(string(in))
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startProxyProcess starts the proxy, waits until its port accepts
// connections (or it exits), and stops it in t.Cleanup.
func startProxyProcess(t *testing.T, p *realProxy, port, logFile, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := os.Create(filepath.Join(p.dir, "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("%s exited before listening (%v):\n%s\n%s", p.name, err, readTail(filepath.Join(p.dir, "output.log")), readTail(logFile))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on 127.0.0.1:%s within 20s:\n%s", p.name, port, readTail(logFile))
		}
	}
}

func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
