package devrun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoWorkerd is returned (wrapped) when no workerd binary is found.
var ErrNoWorkerd = errors.New("workerd not found")

// FindWorkerd finds workerd: $EDGECONF_WORKERD (lookupEnv), then
// tools/node_modules/.bin/workerd in dir or a folder above it, then PATH.
func FindWorkerd(lookupEnv func(string) (string, bool), dirs ...string) (string, error) {
	if p, ok := lookupEnv("EDGECONF_WORKERD"); ok && p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("EDGECONF_WORKERD=%s: %w", p, err)
		}
		return p, nil
	}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			continue
		}
		for {
			p := filepath.Join(abs, "tools", "node_modules", ".bin", "workerd")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
			parent := filepath.Dir(abs)
			if parent == abs {
				break
			}
			abs = parent
		}
	}
	if p, err := exec.LookPath("workerd"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w (set EDGECONF_WORKERD, or install it with `make tools`, which puts it in tools/node_modules/.bin)", ErrNoWorkerd)
}

// Fingerprint summarises the names, sizes and modification times of the
// .js/.mjs/.ts/.json files under dir (node_modules and dist skipped, at
// most 10,000 files), so --watch can tell that a source changed.
func Fingerprint(dir string) string {
	h := sha256.New()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "dist" || strings.HasPrefix(d.Name(), ".")) && p != dir {
			return filepath.SkipDir
		}
		switch filepath.Ext(p) {
		case ".js", ".mjs", ".ts", ".json":
		default:
			return nil
		}
		if n++; n > 10000 {
			return filepath.SkipAll
		}
		if fi, err := d.Info(); err == nil {
			fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}
