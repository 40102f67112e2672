package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/internal/testtool"
)

// TestHelperEdgeconf runs edgeconf itself in a child process for the tests
// below: the arguments follow "--".
func TestHelperEdgeconf(t *testing.T) {
	if os.Getenv("EDGECONF_CLI_HELPER") != "1" {
		t.Skip("helper process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := interruptContext()
	defer stop()
	d := &deps{Context: ctx, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv, Now: time.Now, IsTerminal: func(any) bool { return false }}
	os.Exit(run(d, args))
}

// devProject copies the repository's configuration and Worker to a temp folder.
func devProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../../cloudflare-config.yaml", filepath.Join(dir, "cloudflare-config.yaml"))
	if err := os.MkdirAll(filepath.Join(dir, "worker"), 0o755); err != nil {
		t.Fatal(err)
	}
	js, _ := filepath.Glob("../../worker/*.js")
	for _, f := range js {
		copyFile(f, filepath.Join(dir, "worker", filepath.Base(f)))
	}
	return dir
}

type devProc struct {
	cmd   *exec.Cmd
	lines chan string
}

// startDev runs `edgeconf dev` in a child process and returns once it
// printed that it serves.
func startDev(t *testing.T, dir, listen string, extra ...string) *devProc {
	t.Helper()
	workerd := testtool.Require(t, "workerd", "make tools")
	args := append([]string{"-test.run=^TestHelperEdgeconf$", "--", "dev", "-c", filepath.Join(dir, "cloudflare-config.yaml"), "--listen", listen}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EDGECONF_CLI_HELPER=1", "EDGECONF_WORKERD="+workerd, "EDGECONF_STATE_DIR="+filepath.Join(dir, "state"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &devProc{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	p.waitLine(t, "serves")
	return p
}

// waitLine waits for an output line containing s (bounded by a generous
// timeout so a broken build fails instead of hanging).
func (p *devProc) waitLine(t *testing.T, s string) {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("edgeconf dev exited before printing %q", s)
			}
			if strings.Contains(l, s) {
				return
			}
		case <-timeout:
			t.Fatalf("edgeconf dev did not print %q within 60s", s)
		}
	}
}

// descendants lists the process tree under pid (Linux /proc).
func descendants(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(w); err == nil {
				out = append(out, c)
				out = append(out, descendants(c)...)
			}
		}
	}
	return out
}

func devGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeListen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// stopDev sends SIGINT and checks exit 0 and that no process of the tree
// outlives it.
func (p *devProc) stop(t *testing.T) {
	t.Helper()
	kids := descendants(p.cmd.Process.Pid)
	if len(kids) == 0 {
		t.Fatal("edgeconf dev has no child process (workerd)")
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	for range p.lines { // drain until stdout closes
	}
	err := p.cmd.Wait()
	if err != nil {
		t.Errorf("edgeconf dev after Ctrl-C: %v, want exit 0", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, k := range kids {
		for syscall.Kill(k, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(k, syscall.SIGKILL)
				t.Fatalf("process %d outlived edgeconf dev", k)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestDevCLI_ServesHealthzAndStops(t *testing.T) {
	dir := devProject(t)
	listen := freeListen(t)
	p := startDev(t, dir, listen)
	code, body := devGet(t, "http://"+listen+"/healthz")
	if code != 200 || !strings.Contains(body, `"status": "ok"`) || !strings.Contains(body, `"tag": "dev"`) {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	p.stop(t)
}

func TestDevCLI_WatchRebuildsOnSourceChange(t *testing.T) {
	dir := devProject(t)
	listen := freeListen(t)
	p := startDev(t, dir, listen, "--watch")
	if code, body := devGet(t, "http://"+listen+"/nope"); code != 404 || strings.Contains(body, "rebuilt") {
		t.Fatalf("before the change: %d %s", code, body)
	}
	src := filepath.Join(dir, "worker", "index.js")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), `error: "not found"`, `error: "not found (rebuilt)"`, 1)
	if changed == string(b) {
		t.Fatal("worker/index.js no longer has the 404 text this test edits")
	}
	if err := os.WriteFile(src, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "sources changed; rebuilding")
	p.waitLine(t, "serves")
	if code, body := devGet(t, "http://"+listen+"/nope"); code != 404 || !strings.Contains(body, "not found (rebuilt)") {
		t.Errorf("after the change: %d %s", code, body)
	}
	p.stop(t)
}

func TestDevCLI_Errors(t *testing.T) {
	dir := devProject(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{map[string]string{"EDGECONF_WORKERD": "/nonexistent/workerd"}, nil, 1, "/nonexistent/workerd"},
		{nil, []string{"--env", "nope"}, 2, "nope"},
		{nil, []string{"extra"}, 2, "extra"},
	} {
		args := append([]string{"dev", "-c", filepath.Join(dir, "cloudflare-config.yaml"), "--listen", ln.Addr().String()}, tc.args...)
		code, stdout, stderr := runCLI(t, tc.env, args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v %v: exit %d (want %d), output %q lacks %q", tc.env, tc.args, code, tc.code, stdout+stderr, tc.want)
		}
	}
	workerd := testtool.Require(t, "workerd", "make tools")
	code, stdout, stderr := runCLI(t, map[string]string{"EDGECONF_WORKERD": workerd}, "dev", "-c", filepath.Join(dir, "cloudflare-config.yaml"), "--listen", ln.Addr().String())
	if code != 1 || !strings.Contains(stdout+stderr, ln.Addr().String()) {
		t.Errorf("port in use: exit %d, output %q does not name the port", code, stdout+stderr)
	}
}
