package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// runCLI runs edgeconf in-process with the given environment and returns
// the exit code, stdout and stderr.
//
// Unless env names EDGECONF_STATE_DIR, every call gets a fresh empty state
// folder, so no test reads a developer's ./.edgeconf.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	if _, ok := env["EDGECONF_STATE_DIR"]; !ok {
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		env["EDGECONF_STATE_DIR"] = filepath.Join(t.TempDir(), "state")
	}
	var out, errOut bytes.Buffer
	d := &deps{
		Stdin:  strings.NewReader(""),
		Stdout: &out,
		Stderr: &errOut,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
		Now:        func() time.Time { return testNow },
		IsTerminal: func(any) bool { return env["TEST_TTY"] == "1" },
	}
	code := run(d, args)
	return code, out.String(), errOut.String()
}

const example = "../../cloudflare-config.yaml"

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cloudflare-config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const invalidConfig = `owner: team
domain: example.com
ports: { main: 8091, compliance: 8091 }
cloudflare:
  accountId: 0123456789abcdef0123456789abcdef
  worker: { name: app, main: index.js, compatibilityDate: "2025-01-01" }
  kvNamespaces: [ { binding: CONFIG, title: cfg } ]
  r2Buckets: [ { binding: FILES, bucket: files } ]
`

func TestValidate_ExitCodesAndFormats(t *testing.T) {
	bad := writeConfig(t, invalidConfig)
	warnOnly := writeConfig(t, strings.Replace(invalidConfig, "compliance: 8091", "compliance: 3001", 1)+"  zoneId: \"\"\n  routes: [ { pattern: app.example.com/* } ]\n")
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		check    func(t *testing.T, stdout, stderr string)
	}{
		{"example table", []string{"validate", "-c", example}, nil, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "PASS") || !strings.Contains(out, "features.premium") || strings.Contains(out, "\x1b[") {
				t.Errorf("table output:\n%s", out)
			}
		}},
		{"example json", []string{"validate", "-c", example, "-o", "json"}, nil, 0, func(t *testing.T, out, _ string) {
			var r struct {
				Version string
				Config  []struct{ Section, Status string }
				Metrics struct{ Total, Invalid int }
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if r.Version != "edgeconf.report/v1" || r.Metrics.Invalid != 0 || r.Metrics.Total != len(r.Config) {
				t.Errorf("report = %+v", r)
			}
		}},
		{"example csv", []string{"validate", "-c", example, "-o", "csv"}, nil, 0, func(t *testing.T, out, _ string) {
			if !strings.HasPrefix(out, "section,status,details,kvOverride,crossApiRef,tags,locations\n") {
				t.Errorf("csv:\n%s", out)
			}
		}},
		{"example markdown", []string{"validate", "-c", example, "-o", "markdown"}, nil, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "| Status | Section | Details | Tags |") {
				t.Errorf("markdown:\n%s", out)
			}
		}},
		{"example junit", []string{"validate", "-c", example, "-o", "junit"}, nil, 0, func(t *testing.T, out, _ string) {
			var v struct {
				Tests int `xml:"tests,attr"`
			}
			if err := xml.Unmarshal([]byte(out), &v); err != nil || v.Tests == 0 {
				t.Errorf("junit: %v\n%s", err, out)
			}
		}},
		{"config from EDGECONF_CONFIG", []string{"validate", "-o", "json"}, map[string]string{"EDGECONF_CONFIG": example}, 0, nil},
		{"staging environment", []string{"validate", "-c", example, "--env", "staging", "-o", "json"}, nil, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, `"env": "staging"`) || !strings.Contains(out, "quantum-dashboard-staging") {
				t.Errorf("staging report:\n%s", out)
			}
		}},
		{"invalid config exits 1", []string{"validate", "-c", bad}, nil, 1, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "ports.compliance: 8091 is already ports.main") || !strings.Contains(out, "FAIL") {
				t.Errorf("table:\n%s", out)
			}
		}},
		{"warnings pass", []string{"validate", "-c", warnOnly}, nil, 0, nil},
		{"warnings fail with --strict", []string{"validate", "-c", warnOnly, "--strict"}, nil, 1, nil},
		{"colour on a terminal", []string{"validate", "-c", example}, map[string]string{"TEST_TTY": "1"}, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "\x1b[32m") {
				t.Errorf("no colour on a terminal:\n%q", out[:200])
			}
		}},
		{"NO_COLOR wins", []string{"validate", "-c", example}, map[string]string{"TEST_TTY": "1", "NO_COLOR": ""}, 0, func(t *testing.T, out, _ string) {
			if strings.Contains(out, "\x1b[") {
				t.Error("colour despite NO_COLOR")
			}
		}},
		{"missing file exits 2", []string{"validate", "-c", "/nonexistent/c.yaml"}, nil, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "/nonexistent/c.yaml: no such file") {
				t.Errorf("stderr: %s", errOut)
			}
		}},
		{"default path missing exits 2", []string{"validate"}, nil, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "cloudflare-config.yaml: no such file") {
				t.Errorf("stderr: %s", errOut)
			}
		}},
		{"bad format exits 2", []string{"validate", "-c", example, "-o", "pdf"}, nil, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, `unknown output format "pdf"`) {
				t.Errorf("stderr: %s", errOut)
			}
		}},
		{"bad flag exits 2", []string{"validate", "--nope"}, nil, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "unknown flag: --nope") || !strings.Contains(errOut, "edgeconf validate --help") {
				t.Errorf("stderr: %s", errOut)
			}
		}},
		{"extra argument exits 2", []string{"validate", "extra"}, nil, 2, nil},
		{"unknown command exits 2", []string{"valdate"}, nil, 2, nil},
		{"unknown environment exits 2", []string{"validate", "-c", example, "--env", "prod"}, nil, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, `unknown environment "prod"`) || !strings.Contains(errOut, "production, staging") {
				t.Errorf("stderr: %s", errOut)
			}
		}},
		{"syntax error is a located Invalid", []string{"validate", "-c", writeConfig(t, "domain: [x\n")}, nil, 1, func(t *testing.T, out, errOut string) {
			if !strings.Contains(out, "YAML syntax") || strings.Contains(errOut, "goroutine") {
				t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tc.env, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("edgeconf %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.wantCode, out, errOut)
			}
			if tc.check != nil {
				tc.check(t, out, errOut)
			}
		})
	}
}

func TestGet(t *testing.T) {
	secret := writeConfig(t, invalidConfig+"proxy: { url: \"http://jane:hunter2@proxy.corp:3128\" }\n")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
		notWant  []string
	}{
		{"scalar bare", []string{"get", "domain", "-c", example}, 0, []string{"factory-wager.com\n"}, nil},
		{"section as yaml", []string{"get", "features.premium", "-c", example}, 0, []string{"enabled: true\nrolloutPercentage: 25\nallowedUsers:\n  - alice@factory-wager.com\n"}, nil},
		{"list as yaml", []string{"get", "cloudflare.secrets", "-c", example}, 0, []string{"- DASHBOARD_TOKEN"}, nil},
		{"json", []string{"get", "ports", "-c", example, "-o", "json"}, 0, []string{`"main": 8091`}, nil},
		{"yaml", []string{"get", "ports.main", "-c", example, "-o", "yaml"}, 0, []string{"8091\n"}, nil},
		{"all json", []string{"get", "--all", "-c", example, "-o", "json"}, 0, []string{`"owner": "platform-team"`, `"environments"`}, nil},
		{"explain env", []string{"get", "cloudflare.worker.name", "--env", "staging", "--explain", "-c", example}, 0,
			[]string{"quantum-dashboard-staging", "environment:staging", "cloudflare-config.yaml:41:35", "file (../../cloudflare-config.yaml:31:19)"}, nil},
		{"explain json", []string{"get", "ports.main", "--explain", "-o", "json", "-c", example}, 0, []string{`"layer": "file"`, `"layer": "default"`}, nil},
		{"explain yaml", []string{"get", "ports", "--explain", "-o", "yaml", "-c", example}, 0, []string{"path: ports.dashboard"}, nil},
		{"explain section json", []string{"get", "ssl", "--explain", "-o", "json", "-c", example}, 0, []string{`"path": "ssl.enabled"`, `"path": "ssl.keyPath"`}, nil},
		{"table", []string{"get", "ssl", "-o", "table", "-c", example}, 0, []string{"PATH", "ssl.autoManaged"}, nil},
		{"proxy password redacted", []string{"get", "--all", "-c", secret, "-o", "json"}, 0, []string{"jane:xxxxx@proxy.corp"}, []string{"hunter2"}},
		{"problems go to stderr", []string{"get", "domain", "-c", writeConfig(t, "domain: example.com\nbogus: 1\n")}, 0, []string{"example.com"}, nil},
		{"unknown path exits 2", []string{"get", "nope", "-c", example}, 2, nil, nil},
		{"broken file exits 1", []string{"get", "domain", "-c", writeConfig(t, "domain: [x\n")}, 1, nil, nil},
		{"no path exits 2", []string{"get", "-c", example}, 2, nil, nil},
		{"path and --all exits 2", []string{"get", "domain", "--all", "-c", example}, 2, nil, nil},
		{"bad format exits 2", []string{"get", "domain", "-o", "xml", "-c", example}, 2, nil, nil},
		{"missing file exits 2", []string{"get", "domain", "-c", "/nonexistent.yaml"}, 2, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out+errOut, w) {
					t.Errorf("output contains %q", w)
				}
			}
		})
	}
}

func TestSchema(t *testing.T) {
	code, out, _ := runCLI(t, nil, "schema")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil || s["$schema"] == nil {
		t.Fatalf("schema output: %v", err)
	}
	committed, err := os.ReadFile("../../schema/cloudflare-config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(committed) {
		t.Error("edgeconf schema differs from schema/cloudflare-config.schema.json; regenerate it")
	}
	if code, _, _ := runCLI(t, nil, "schema", "x"); code != 2 {
		t.Errorf("schema with an argument: exit %d, want 2", code)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "validate") || !strings.Contains(out, "Exit codes") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil)
	if code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("no arguments: exit %d\n%s", code, out)
	}
	for _, sub := range []string{"validate", "get", "schema"} {
		code, out, _ := runCLI(t, nil, sub, "--help")
		if code != 0 || !strings.Contains(out, "Examples:") && !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s", sub, code, out)
		}
	}
}

// TestSeam checks that flags reach the options structs without running.
func TestSeam(t *testing.T) {
	d := &deps{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, LookupEnv: func(string) (string, bool) { return "", false }}
	var gotV *validateOptions
	cmd := newValidateCmd(d, &globalOptions{}, func(o *validateOptions) error { gotV = o; return nil })
	cmd.SetArgs([]string{"-o", "junit", "--strict"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if gotV.Output != "junit" || !gotV.Strict {
		t.Errorf("validate options = %+v", gotV)
	}
	var gotG *getOptions
	cmd = newGetCmd(d, &globalOptions{}, func(o *getOptions) error { gotG = o; return nil })
	cmd.SetArgs([]string{"ports.main", "--explain", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if gotG.Path != "ports.main" || !gotG.Explain || gotG.Output != "json" {
		t.Errorf("get options = %+v", gotG)
	}
	called := false
	cmd = newSchemaCmd(d, func() error { called = true; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || !called {
		t.Errorf("schema seam: called=%v err=%v", called, err)
	}
}

// TestUsageHint_NamesTheCommand: a usage error points at the help of the
// command that refused it.
func TestUsageHint_NamesTheCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "nope.path", "-c", example}, "Run 'edgeconf get --help' for usage."},
		{[]string{"r2", "get", "FILES", "-c", example}, "Run 'edgeconf r2 get --help' for usage."},
		{[]string{"nosuchcommand"}, "Run 'edgeconf --help' for usage."},
	} {
		code, _, errOut := runCLI(t, nil, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestUsageErrors_ExitTwo: bad arguments found before any work exit 2
// with a message that names them, and never echo a password.
func TestUsageErrors_ExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"wrangler", "import", "/nonexistent/wrangler.toml"}, "/nonexistent/wrangler.toml"},
		{[]string{"serve", "--listen", "127.0.0.1:99999", "-c", example}, `port "99999" is not a number from 0 to 65535`},
		{[]string{"serve", "--listen", "nocolon", "-c", example}, "--listen nocolon"},
		{[]string{"ws", "connect", "ws://user:s3cret-pw@127.0.0.1:1/"}, "cannot carry user:password@"},
		{[]string{"ws", "relay", "--upstream", "wss://u:s3cret-pw@example.com/"}, "cannot carry user:password@"},
	} {
		code, out, errOut := runCLI(t, nil, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) || strings.Contains(out+errOut, "s3cret-pw") {
			t.Errorf("%v: exit %d, %q %q; want 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}
