package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestKVPut_PathIsBounded: a value file that never ends (/dev/zero) is read
// only up to the KV value limit, and the error names it.
func TestKVPut_PathIsBounded(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	code, _, stderr := runCLI(t, env, "kv", "put", "k", "--path", "/dev/zero", "-c", example)
	if code != exitUsage {
		t.Fatalf("kv put --path /dev/zero: exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr, "25 MiB") {
		t.Errorf("stderr does not name the 25 MiB limit:\n%s", stderr)
	}
}

// TestOverrideTables_StripControlCharacters: a --by with terminal escapes
// and a newline cannot forge lines or repaint the screen in list/history.
func TestOverrideTables_StripControlCharacters(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	by := "mallory\x1b[2J\nfeatures.webgl.enabled  true  1  admin"
	if code, _, stderr := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "30", "--by", by, "-c", example); code != 0 {
		t.Fatalf("override set: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{
		{"override", "list", "-c", example},
		{"override", "history", "features.premium.rolloutPercentage", "-c", example},
	} {
		code, stdout, stderr := runCLI(t, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		if strings.ContainsAny(stdout, "\x1b\r") {
			t.Errorf("%v printed a raw escape:\n%q", args, stdout)
		}
		if lines := strings.Count(stdout, "\n"); lines != 2 {
			t.Errorf("%v printed %d lines, want a header and one row:\n%s", args, lines, stdout)
		}
		if !strings.Contains(stdout, `mallory\x1b[2J\x0a`) {
			t.Errorf("%v does not show the escapes visibly:\n%s", args, stdout)
		}
	}
}
