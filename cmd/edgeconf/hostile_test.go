package main

import (
	"os"
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

// TestTruncatedState_ReadersUseTheLastKnownGood (hostile input 1): a
// state.db cut short is a clear error naming the file, never a panic; the
// readers (validate, get, flags) answer from the last-known-good copy with
// a notice; without a copy they fail with the reason.
func TestTruncatedState_ReadersUseTheLastKnownGood(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": dir}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, env, append(args, "-c", example)...)
	}
	if code, _, errOut := run("override", "set", "ports.main", "9001"); code != 0 {
		t.Fatalf("override set: %d %s", code, errOut)
	}
	if code, _, errOut := run("validate", "-q"); code != 0 {
		t.Fatalf("validate (which saves the last-known-good copy): %d %s", code, errOut)
	}
	db := filepath.Join(dir, "state.db")
	fi, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(db, fi.Size()*3/5); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"get", "ports.main"}, {"flags", "list"}, {"validate"}} {
		code, out, errOut := run(args...)
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Fatalf("%v panicked:\n%s", args, errOut)
		}
		if args[0] == "validate" {
			if code != 0 || !strings.Contains(out, "last-known-good") || !strings.Contains(out, "main 9001") {
				t.Errorf("validate on a truncated state: %d\n%s%s", code, out, errOut)
			}
			continue
		}
		if code != 0 || !strings.Contains(errOut, "last-known-good") || !strings.Contains(errOut, "corrupt") {
			t.Errorf("%v on a truncated state: exit %d\n%s%s", args, code, out, errOut)
		}
		if args[0] == "get" && out != "9001\n" {
			t.Errorf("get from the last-known-good copy = %q, want 9001", out)
		}
	}
	for _, args := range [][]string{{"kv", "list"}, {"override", "list"}, {"override", "set", "ports.main", "9002"}} {
		code, _, errOut := run(args...)
		if code != 1 || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, db) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%v on a truncated state: exit %d, want 1 naming the file\n%s", args, code, errOut)
		}
	}
	if err := os.Remove(filepath.Join(dir, "lkg.json")); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("get", "ports.main"); code != 1 || !strings.Contains(errOut, "corrupt") || !strings.Contains(errOut, "no last-known-good copy") {
		t.Errorf("get without a copy: exit %d\n%s", code, errOut)
	}
}
