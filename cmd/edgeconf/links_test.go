package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink matches the target of a Markdown link or reference definition:
// [text](target) and [label]: target.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)|^\s*\[[^\]]+\]:\s*(\S+)`)

// TestDocs_RelativeLinksResolve fails on a relative link of the README or
// docs/ that does not name a file or folder inside the repository.
func TestDocs_RelativeLinksResolve(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	err = filepath.WalkDir(filepath.Join(root, "docs"), func(path string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, file)
		for n, line := range strings.Split(string(b), "\n") {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1] + m[2]
				if problem := checkLink(root, file, target); problem != "" {
					t.Errorf("%s:%d: link %q %s", rel, n+1, target, problem)
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no links; the README has some")
	}
}

// checkLink says what is wrong with a link of file, or "".
func checkLink(root, file, target string) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") || strings.HasPrefix(target, "#") {
		return ""
	}
	target, _, _ = strings.Cut(target, "#")
	path := filepath.Clean(filepath.Join(filepath.Dir(file), target))
	if r, err := filepath.Rel(root, path); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "points outside the repository"
	}
	if _, err := os.Stat(path); err != nil {
		return "does not resolve: " + err.Error()
	}
	return ""
}

func TestCheckLink(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.md"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "README.md")
	for target, bad := range map[string]bool{
		"a.md": false, "a.md#x": false, "#top": false, "https://x/y": false,
		"b.md": true, "../outside/NOTES.md": true, "../x": true,
	} {
		if got := checkLink(root, file, target) != ""; got != bad {
			t.Errorf("checkLink(%q) bad = %v, want %v", target, got, bad)
		}
	}
}

// TestRepository_NamesNothingOutside fails when a tracked file names the
// folders outside the repository the project was written next to.
func TestRepository_NamesNothingOutside(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	self := filepath.Join("cmd", "edgeconf", "links_test.go")
	forbidden := []string{"../" + "shared", "/work/" + "shared"}
	for _, name := range strings.Fields(string(out)) {
		if name == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			continue // deleted in the work tree
		}
		for _, f := range forbidden {
			if strings.Contains(string(b), f) {
				t.Errorf("%s names %s", name, f)
			}
		}
	}
}
