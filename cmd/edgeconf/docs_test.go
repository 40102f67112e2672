package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kballard/go-shellquote"
)

// docExample is one "$ edgeconf ..." line of a ```console block with the
// output lines that follow it.
type docExample struct {
	file     string
	line     int
	args     []string
	wantCode int
	want     []string // expected stdout lines, in order; "..." lines are gaps
}

var exitComment = regexp.MustCompile(`\s+#\s*exit\s+(\d+)\s*$`)

// parseDocExamples reads the ```console blocks of a Markdown file.
func parseDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []docExample
	var cur *docExample
	inConsole := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```") && !inConsole:
			inConsole = trimmed == "```console"
			continue
		case strings.HasPrefix(trimmed, "```") && inConsole:
			inConsole = false
			cur = nil
			continue
		case !inConsole:
			continue
		}
		if cmd, ok := strings.CutPrefix(line, "$ "); ok {
			ex := docExample{file: path, line: n}
			if m := exitComment.FindStringSubmatch(cmd); m != nil {
				ex.wantCode, _ = strconv.Atoi(m[1])
				cmd = cmd[:len(cmd)-len(m[0])]
			}
			words, err := shellquote.Split(cmd)
			if err != nil || len(words) == 0 || words[0] != "edgeconf" {
				t.Fatalf("%s:%d: a console example must be `$ edgeconf ...`: %q", path, n, line)
			}
			ex.args = words[1:]
			out = append(out, ex)
			cur = &out[len(out)-1]
			continue
		}
		if cur != nil {
			cur.want = append(cur.want, strings.TrimRight(line, " "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocs_ConsoleExamplesRun runs every ```console example of the README
// and docs/ from the repository root and checks its exit status and that
// the output lines it shows appear, in order, in the real output.
func TestDocs_ConsoleExamplesRun(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(root, "README.md")}
	more, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, more...)
	more, _ = filepath.Glob(filepath.Join(root, "docs", "guides", "*.md"))
	files = append(files, more...)
	t.Chdir(root)
	total := 0
	for _, file := range files {
		// The examples of one file share a state folder, in order, so an
		// `override set` is seen by the `get` after it.
		env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state"), "USER": "alice"}
		for _, ex := range parseDocExamples(t, file) {
			total++
			rel, _ := filepath.Rel(root, ex.file)
			t.Run(rel+":"+strconv.Itoa(ex.line), func(t *testing.T) {
				code, out, errOut := runCLI(t, env, ex.args...)
				if code != ex.wantCode {
					t.Fatalf("%s:%d: edgeconf %s exited %d, want %d\nstdout:\n%s\nstderr:\n%s",
						rel, ex.line, strings.Join(ex.args, " "), code, ex.wantCode, out, errOut)
				}
				// Examples that fail show what the user sees: stderr too.
				combined := out
				if combined != "" && !strings.HasSuffix(combined, "\n") {
					combined += "\n" // raw values (kv get) end without a newline
				}
				lines := strings.Split(combined+errOut, "\n")
				for i := range lines {
					lines[i] = strings.TrimRight(lines[i], " ")
				}
				at := 0
				for _, w := range ex.want {
					if w == "..." || w == "" {
						continue
					}
					found := false
					for at < len(lines) {
						at++
						if lines[at-1] == w {
							found = true
							break
						}
					}
					if !found {
						t.Fatalf("%s:%d: edgeconf %s: the documented line\n  %q\nis not in the output (in order):\n%s%s",
							rel, ex.line, strings.Join(ex.args, " "), w, out, errOut)
					}
				}
			})
		}
	}
	if total == 0 {
		t.Fatal("found no ```console examples; the README has some")
	}
}
