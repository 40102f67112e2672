package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGitCommit reads the commit of a repository, a folder inside it, a
// worktree and a packed ref, as git itself reports it.
func TestGitCommit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed: apt-get install -y git")
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := GitCommit(dir); got != "" {
		t.Fatalf("outside a repository: %q", got)
	}
	run("init", "-q", "-b", "main")
	if got := GitCommit(dir); got != "" {
		t.Fatalf("a repository without commits: %q", got)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", "f")
	run("commit", "-q", "-m", "one")
	want := run("rev-parse", "HEAD")[:12]
	if got := GitCommit(filepath.Join(dir, "sub", "deeper")); got != want {
		t.Fatalf("loose ref: %q, want %q", got, want)
	}
	run("pack-refs", "--all")
	if got := GitCommit(dir); got != want {
		t.Fatalf("packed ref: %q, want %q", got, want)
	}
	wt := filepath.Join(t.TempDir(), "wt")
	run("worktree", "add", "-q", "-b", "other", wt)
	if got := GitCommit(wt); got != want {
		t.Fatalf("worktree: %q, want %q", got, want)
	}
	if got := VersionMessage("", dir); got != "commit "+want {
		t.Errorf("VersionMessage without a message = %q", got)
	}
	if got := VersionMessage(strings.Repeat("m", 95), dir); len([]rune(got)) != 100 || !strings.HasSuffix(got, "…") {
		t.Errorf("a long message is not cut to 100 characters: %q", got)
	}
	if got := VersionMessage("fix", t.TempDir()); got != "fix" {
		t.Errorf("outside a repository: %q", got)
	}
	run("checkout", "-q", "--detach")
	if got := GitCommit(dir); got != want {
		t.Fatalf("detached: %q, want %q", got, want)
	}
}
