// Package web is the dashboard's static files (HTML, CSS, JavaScript),
// embedded in the binary: no CDN, no build step, works offline. The server
// package serves them at /; they talk to its /api/v1.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Assets is the dashboard, rooted at its index.html.
func Assets() fs.FS {
	sub, _ := fs.Sub(static, "static") // cannot fail: "static" is embedded above
	return sub
}
