package web

import (
	"io/fs"
	"os/exec"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/internal/testtool"
)

// TestAssets: the dashboard's files are embedded, and the page loads only
// its own script and style (no CDN, no inline script: the server's CSP
// allows 'self' only).
func TestAssets(t *testing.T) {
	a := Assets()
	index, err := fs.ReadFile(a, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"app.js", "style.css"} {
		if _, err := fs.Stat(a, name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.Contains(string(index), name) {
			t.Errorf("index.html does not load %s", name)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script>", "style=\"", "onclick="} {
		if strings.Contains(string(index), bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	js, _ := fs.ReadFile(a, "app.js")
	if strings.Contains(string(js), "innerHTML") {
		t.Error("app.js writes HTML from strings (innerHTML): server data must go in as text")
	}
}

// TestScriptParses: app.js is valid JavaScript (node --check).
func TestScriptParses(t *testing.T) {
	node := testtool.Require(t, "node", "apt-get install -y nodejs (Node 20, as make tools expects)")
	out, err := exec.Command(node, "--check", "static/app.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node --check static/app.js: %v\n%s", err, out)
	}
}
