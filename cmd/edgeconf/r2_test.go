package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/r2/r2test"
	"github.com/factory-wager/edgeconf/refs"
)

// runR2 runs the CLI with stdin.
func runR2(t *testing.T, env map[string]string, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	d := &deps{
		Stdin: stdin, Stdout: &out, Stderr: &errOut,
		LookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:        func() time.Time { return testNow },
		IsTerminal: func(any) bool { return env["TEST_TTY"] == "1" },
	}
	return run(d, args), out.String(), errOut.String()
}

const r2Config = `owner: team
domain: example.com
cloudflare:
  accountId: 0123456789abcdef0123456789abcdef
  r2Buckets:
    - { binding: FILES, bucket: quantum-files }
    - { binding: PAID, bucket: paid-bucket, requesterPays: true }
    - { binding: BROKEN, bucket: "Not_A_Bucket" }
`

func TestR2_LocalRoundTrip(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": writeConfig(t, r2Config)}

	code, out, errOut := runR2(t, env, strings.NewReader("hello from stdin"), "r2", "put", "FILES/notes/hello.txt")
	if code != 0 || out != "wrote 16 bytes to quantum-files/notes/hello.txt (ETag af8e8299d5be1482db7f2f02c46fb5c8)\n" {
		t.Fatalf("put from stdin: %d %q %q", code, out, errOut)
	}
	wantTarget := "edgeconf: using local bucket " + filepath.Join(state, "r2", "quantum-files") + " (binding FILES)\n"
	if errOut != wantTarget {
		t.Errorf("stderr = %q, want %q", errOut, wantTarget)
	}

	src := filepath.Join(t.TempDir(), "report.csv")
	data := bytes.Repeat([]byte("a,b,c\n"), 50_000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// A plain bucket name works too, and never needs the configuration.
	noConfig := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": filepath.Join(t.TempDir(), "missing.yaml")}
	if code, out, errOut := runR2(t, noConfig, nil, "r2", "put", "quantum-files/exports/report.csv", "--file", src, "--local"); code != 0 || !strings.HasPrefix(out, "wrote 300000 bytes") {
		t.Fatalf("put --file: %d %q %q", code, out, errOut)
	}
	// Stdin that is a regular file has a known size.
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if code, out, errOut := runR2(t, noConfig, f, "r2", "put", "quantum-files/exports/copy.csv"); code != 0 || !strings.HasPrefix(out, "wrote 300000 bytes") {
		t.Fatalf("put from a file on stdin: %d %q %q", code, out, errOut)
	}

	code, out, _ = runR2(t, env, nil, "r2", "get", "FILES/notes/hello.txt")
	if code != 0 || out != "hello from stdin" {
		t.Errorf("get to stdout: %d %q", code, out)
	}
	dst := filepath.Join(t.TempDir(), "out.csv")
	code, out, errOut = runR2(t, env, nil, "r2", "get", "quantum-files/exports/report.csv", "--file", dst)
	if code != 0 || out != "wrote 300000 bytes to "+dst+"\n" {
		t.Fatalf("get --file: %d %q %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("get --file wrote other bytes")
	}
	// Hostile input 5: a symbolic link or a device node at --file is
	// refused with exit 2 and left as it was.
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, kind string }{{link, "symbolic link"}, {os.DevNull, "character device"}} {
		code, out, errOut = runR2(t, env, nil, "r2", "get", "quantum-files/exports/report.csv", "--file", tc.path)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.kind) || !strings.Contains(errOut, "not a regular file") {
			t.Errorf("get --file %s: %d %q %q; want exit 2 naming %q", tc.path, code, out, errOut, tc.kind)
		}
		if fi, err := os.Lstat(tc.path); err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s was replaced: %v, %v", tc.path, fi, err)
		}
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Errorf("the link's target was overwritten: %q", got)
	}

	code, out, _ = runR2(t, env, nil, "r2", "ls", "FILES")
	want := "KEY       SIZE  LAST MODIFIED\nexports/  -     -\nnotes/    -     -\n"
	if code != 0 || out != want {
		t.Errorf("ls:\n%s\nwant:\n%s", out, want)
	}
	code, out, _ = runR2(t, env, nil, "r2", "ls", "FILES/exports/", "-o", "json")
	var listing struct {
		Objects []struct {
			Key, ETag, LastModified string
			Size                    int64
		}
		Prefixes []string
	}
	if err := json.Unmarshal([]byte(out), &listing); code != 0 || err != nil {
		t.Fatalf("ls -o json: %d %v\n%s", code, err, out)
	}
	if len(listing.Objects) != 2 || listing.Objects[1].Key != "exports/report.csv" || listing.Objects[1].Size != 300000 ||
		listing.Objects[1].ETag != fmt.Sprintf("%x", md5.Sum(data)) || listing.Objects[1].LastModified != testNow.UTC().Format(time.RFC3339) || len(listing.Prefixes) != 0 {
		t.Errorf("ls -o json = %+v", listing)
	}
	if code, out, _ := runR2(t, env, nil, "r2", "ls", "FILES", "--recursive"); code != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("ls --recursive:\n%s", out)
	}

	if code, out, _ := runR2(t, env, nil, "r2", "rm", "FILES/notes/hello.txt"); code != 0 || out != "deleted quantum-files/notes/hello.txt\n" {
		t.Errorf("rm: %d %q", code, out)
	}
	if code, _, errOut := runR2(t, env, nil, "r2", "get", "FILES/notes/hello.txt"); code != 1 || !strings.Contains(errOut, "object not found") {
		t.Errorf("get after rm: %d %q", code, errOut)
	}
	if code, _, _ := runR2(t, env, nil, "r2", "rm", "FILES/notes/hello.txt"); code != 0 {
		t.Errorf("rm of a missing key: %d, want 0", code)
	}
	folder := t.TempDir()
	if code, _, errOut := runR2(t, env, nil, "r2", "get", "FILES/notes/hello.txt", "--file", filepath.Join(folder, "x")); code != 1 || !strings.Contains(errOut, "object not found") {
		t.Errorf("get --file of a missing object: %d %q", code, errOut)
	}
	if entries, _ := os.ReadDir(folder); len(entries) != 0 {
		t.Errorf("get --file of a missing object left %d files", len(entries))
	}
}

func TestR2_Presign_Local(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state}
	if code, _, errOut := runR2(t, env, strings.NewReader("v"), "r2", "put", "quantum-files/k"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runR2(t, env, nil, "r2", "presign", "quantum-files/k", "--expires", "10m")
	if code != 0 || !strings.HasPrefix(out, "http://127.0.0.1:3000/r2/quantum-files?") || !strings.Contains(out, "signature=") {
		t.Fatalf("presign: %d %q %q", code, out, errOut)
	}
	if strings.Contains(errOut, "signature") {
		t.Errorf("stderr shows the URL: %q", errOut)
	}
	code, out, _ = runR2(t, env, nil, "r2", "presign", "quantum-files/k", "--base-url", "https://dash.example/r2/files", "--method", "put")
	if code != 0 || !strings.HasPrefix(out, "https://dash.example/r2/files?") {
		t.Errorf("presign --base-url: %d %q", code, out)
	}
	for _, args := range [][]string{
		{"--expires", "192h"},
		{"--method", "POST"},
		{"--remote", "--base-url", "http://x"},
	} {
		if code, _, errOut := runR2(t, env, nil, append([]string{"r2", "presign", "quantum-files/k"}, args...)...); code != 2 {
			t.Errorf("presign %v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

func TestR2_UsageErrors(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, r2Config)
	env := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": cfg}
	noConfig := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no-key", env, []string{"r2", "get", "FILES"}, 2, "expected BUCKET/KEY with a key"},
		{"empty-bucket", env, []string{"r2", "get", "/key"}, 2, "expected BUCKET/KEY"},
		{"both-targets", env, []string{"r2", "ls", "FILES", "--local", "--remote"}, 2, "not both"},
		{"bad-bucket", env, []string{"r2", "ls", "bad_bucket!"}, 2, "neither a binding nor a bucket name"},
		{"unknown-binding", env, []string{"r2", "ls", "NOPE"}, 2, "NOPE is not an r2 binding of " + cfg + " (bindings: FILES, PAID, BROKEN)"},
		{"binding-without-config", noConfig, []string{"r2", "ls", "FILES"}, 2, "FILES looks like a binding"},
		{"lowercase-binding-is-a-name", noConfig, []string{"r2", "ls", "files"}, 0, ""},
		{"broken-binding", env, []string{"r2", "ls", "BROKEN"}, 1, "r2 binding BROKEN"},
		{"bad-output", env, []string{"r2", "ls", "FILES", "-o", "yaml"}, 2, "use table or json"},
		{"missing-file", env, []string{"r2", "put", "FILES/k", "--file", "/nonexistent/file"}, 2, "no such file"},
		{"folder-as-file", env, []string{"r2", "put", "FILES/k", "--file", t.TempDir()}, 2, "not a regular file"},
		{"remote-without-credentials", env, []string{"r2", "ls", "FILES", "--remote"}, 2, "--remote needs R2_ENDPOINT (or CLOUDFLARE_ACCOUNT_ID), R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY"},
		{"remote-bad-endpoint", merge(env, map[string]string{"R2_ENDPOINT": "ftp://x", "R2_ACCESS_KEY_ID": "a", "R2_SECRET_ACCESS_KEY": "s"}), []string{"r2", "ls", "FILES", "--remote"}, 2, "not an http(s) URL"},
		{"key-too-long", env, []string{"r2", "rm", "FILES/" + strings.Repeat("k", 1025)}, 1, "key-size"},
		{"get-to-missing-folder", env, []string{"r2", "get", "FILES/k", "--file", "/nonexistent/dir/out"}, 2, "no such file or directory"},
		{"help", env, []string{"r2"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runR2(t, tc.env, strings.NewReader(""), tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("edgeconf %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// TestR2_GetChecksTheETag: a corrupted local object fails the MD5 check,
// and get --file then leaves no file behind.
func TestR2_GetChecksTheETag(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state}
	if code, _, errOut := runR2(t, env, strings.NewReader("precious bytes"), "r2", "put", "quantum-files/k"); code != 0 {
		t.Fatal(errOut)
	}
	obj := filepath.Join(state, "r2", "quantum-files", "k")
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff // flip the first byte of the object's content
	if err := os.WriteFile(obj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	code, _, errOut := runR2(t, env, nil, "r2", "get", "quantum-files/k", "--file", dst)
	if code != 1 || !strings.Contains(errOut, "do not match the ETag") {
		t.Errorf("get of a corrupted object: %d %q", code, errOut)
	}
	if _, err := os.Stat(dst); err == nil {
		t.Error("get --file left a corrupted file")
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	if len(entries) != 0 {
		t.Errorf("get --file left %d temporary files", len(entries))
	}
}

func TestR2_ProgressOnTerminal(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state, "TEST_TTY": "1"}
	data := bytes.Repeat([]byte("x"), 3<<20)
	code, out, errOut := runR2(t, env, bytes.NewReader(data), "r2", "put", "quantum-files/big")
	if code != 0 || !strings.HasPrefix(out, "wrote 3145728 bytes") {
		t.Fatalf("put: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "uploading") {
		t.Errorf("no progress bar on a terminal: %q", errOut)
	}
	code, out, errOut = runR2(t, env, nil, "r2", "get", "quantum-files/big")
	if code != 0 || len(out) != len(data) || !strings.Contains(errOut, "downloading") {
		t.Errorf("get: %d, %d bytes, stderr %q", code, len(out), errOut)
	}
}

// TestR2_Remote runs the commands against versitygw, a real S3 server,
// with R2_ENDPOINT pointing at it; a 20 MiB file goes up in two parts.
func TestR2_Remote(t *testing.T) {
	srv := r2test.Start(t)
	bucket := srv.CreateBucket(t)
	env := srv.Env()
	env["EDGECONF_STATE_DIR"] = filepath.Join(t.TempDir(), "state")

	src := filepath.Join(t.TempDir(), "backup.bin")
	data := bytes.Repeat([]byte("0123456789abcdef"), 20<<16) // 20 MiB
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runR2(t, env, nil, "r2", "put", bucket+"/backups/backup.bin", "--file", src, "--remote")
	if code != 0 || !strings.HasPrefix(out, "wrote 20971520 bytes to "+bucket+"/backups/backup.bin (ETag ") || !strings.HasSuffix(out, "-2)\n") {
		t.Fatalf("put --remote: %d %q %q", code, out, errOut)
	}
	if want := "edgeconf: using S3 bucket " + bucket + " at " + srv.Endpoint + "\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if code, out, _ := runR2(t, env, strings.NewReader("small"), "r2", "put", bucket+"/small.txt", "--remote"); code != 0 || !strings.HasPrefix(out, "wrote 5 bytes") {
		t.Errorf("put from stdin: %d %q", code, out)
	}
	dst := filepath.Join(t.TempDir(), "restored.bin")
	if code, out, errOut := runR2(t, env, nil, "r2", "get", bucket+"/backups/backup.bin", "--file", dst, "--remote"); code != 0 || out != "wrote 20971520 bytes to "+dst+"\n" {
		t.Fatalf("get --remote: %d %q %q", code, out, errOut)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, data) {
		t.Error("the downloaded file differs")
	}
	if code, out, _ := runR2(t, env, nil, "r2", "ls", bucket, "--remote"); code != 0 || !strings.Contains(out, "backups/") || !strings.Contains(out, "small.txt  5") {
		t.Errorf("ls --remote:\n%s", out)
	}
	code, out, _ = runR2(t, env, nil, "r2", "presign", bucket+"/small.txt", "--remote", "--expires", "5m")
	if code != 0 || !strings.Contains(out, "X-Amz-Signature=") {
		t.Fatalf("presign --remote: %d %q", code, out)
	}
	res, err := http.Get(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(objstore.RedactError(err))
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "small" {
		t.Errorf("GET presigned: %d %q", res.StatusCode, body)
	}
	if code, _, _ := runR2(t, env, nil, "r2", "rm", bucket+"/small.txt", "--remote"); code != 0 {
		t.Errorf("rm --remote: %d", code)
	}
	if code, _, errOut := runR2(t, env, nil, "r2", "get", bucket+"/small.txt", "--remote"); code != 1 || !strings.Contains(errOut, "object not found") {
		t.Errorf("get after rm: %d %q", code, errOut)
	}
	if code, _, errOut := runR2(t, env, nil, "r2", "ls", "no-such-bucket", "--remote"); code != 1 || !strings.Contains(errOut, "bucket does not exist") {
		t.Errorf("ls of a missing bucket: %d %q", code, errOut)
	}
}

// TestR2_RequesterPaysWarning: with R2's endpoint, a Requester Pays
// binding gets a warning (presign makes no request, so no network).
func TestR2_RequesterPaysWarning(t *testing.T) {
	env := map[string]string{
		"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state"), "EDGECONF_CONFIG": writeConfig(t, r2Config),
		"CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef", "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "secret-canary-99",
	}
	code, out, errOut := runR2(t, env, nil, "r2", "presign", "PAID/k", "--remote")
	if code != 0 || !strings.Contains(errOut, "warning: Cloudflare R2 does not implement Requester Pays") {
		t.Errorf("presign PAID --remote: %d %q", code, errOut)
	}
	if !strings.HasPrefix(out, "https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/paid-bucket/k?") &&
		!strings.HasPrefix(out, "https://paid-bucket.0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com/k?") {
		t.Errorf("presigned URL = %q", out)
	}
	if strings.Contains(out+errOut, "secret-canary-99") {
		t.Error("the secret key is in the output")
	}
	// The flag asks for it on any bucket; no warning off R2.
	code, _, errOut = runR2(t, env, nil, "r2", "presign", "FILES/k", "--requester-pays")
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("local presign with --requester-pays: %d %q", code, errOut)
	}
}

func TestOpenR2Fetcher(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	cfg := writeConfig(t, r2Config)
	env := map[string]string{"EDGECONF_STATE_DIR": state, "EDGECONF_CONFIG": cfg}
	if code, _, errOut := runR2(t, env, strings.NewReader("-----BEGIN CERTIFICATE-----"), "r2", "put", "FILES/certs/tls.pem"); code != 0 {
		t.Fatal(errOut)
	}
	doc, err := config.Load(cfg, config.LoadOptions{})
	if err != nil && doc == nil {
		t.Fatal(err)
	}
	d := &deps{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Now: time.Now}
	f, closeStores, err := openR2Fetcher(d, doc, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStores()
	ref, _ := refs.Parse("r2://FILES/certs/tls.pem")
	v, err := f.Fetch(context.Background(), ref)
	if err != nil || string(v) != "-----BEGIN CERTIFICATE-----" {
		t.Errorf("Fetch = %q, %v", v, err)
	}
	// Without R2 credentials r2:// references are "not available", with the reason.
	rf, _, err := openR2Fetcher(d, doc, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rf.Fetch(context.Background(), ref); !errors.Is(err, refs.ErrNotAvailable) || !strings.Contains(err.Error(), "R2_ACCESS_KEY_ID") {
		t.Errorf("remote fetch without credentials = %v", err)
	}
	// A local bucket nobody wrote to is not created, and its objects are missing.
	fresh := filepath.Join(t.TempDir(), "fresh")
	other := &deps{LookupEnv: func(k string) (string, bool) {
		if k == "EDGECONF_STATE_DIR" {
			return fresh, true
		}
		return "", false
	}, Now: time.Now}
	ef, _, err := openR2Fetcher(other, doc, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ef.Fetch(context.Background(), ref); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("fetch from a bucket without a folder = %v", err)
	}
	if dirExists(fresh) {
		t.Error("resolving created the state folder")
	}
}

func dirExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
