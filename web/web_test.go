package web

import (
	"io/fs"
	"strings"
	"testing"
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
