package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/flags"
)

const flagsTestConfig = `features:
  premium:    { enabled: true,  rolloutPercentage: 25, allowedUsers: [alice@factory-wager.com] }
  terminal:   { enabled: true,  rolloutPercentage: 100 }
  webgl:      { enabled: false, rolloutPercentage: 0 }
`

// runFlagsCLI runs edgeconf in-process against a configuration holding
// flagsTestConfig and returns the exit code and both streams.
func runFlagsCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cloudflare-config.yaml")
	if err := os.WriteFile(path, []byte(flagsTestConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	d := &deps{
		Stdin:     strings.NewReader(""),
		Stdout:    &out,
		Stderr:    &errOut,
		LookupEnv: func(string) (string, bool) { return "", false },
		Now:       func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
	}
	code = run(d, append([]string{"-c", path}, args...))
	return code, out.String(), errOut.String()
}

func TestFlagsCmd(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    []string // substrings of stdout
		wantErrOut string   // substring of stderr
	}{
		{
			name:     "list",
			args:     []string{"flags", "list"},
			wantOut:  []string{"NAME      ENABLED  ROLLOUT  ALLOWED USERS  SOURCE", "premium   true     25%      1              file (", "cloudflare-config.yaml:2:3)", "webgl     false    0%       0"},
			wantCode: exitOK,
		},
		{
			name:     "eval allowed user",
			args:     []string{"flags", "eval", "premium", "--user", "alice@factory-wager.com"},
			wantOut:  []string{"enabled    true", "reason     allowed-user"},
			wantCode: exitOK,
		},
		{
			name:     "eval in rollout",
			args:     []string{"flags", "eval", "premium", "--user", "用户-🚀"},
			wantOut:  []string{"enabled    true", "reason     in-rollout", "bucket     204 (< 2500)"},
			wantCode: exitOK,
		},
		{
			name:     "eval anonymous user",
			args:     []string{"flags", "eval", "premium", "--user", ""},
			wantOut:  []string{"reason     no-user"},
			wantCode: exitOK,
		},
		{
			name:     "simulate",
			args:     []string{"flags", "simulate", "terminal", "--users", "500"},
			wantOut:  []string{"enabled    500 (100.00%)", "* inside the rollout"},
			wantCode: exitOK,
		},
		{
			name:       "eval without --user",
			args:       []string{"flags", "eval", "premium"},
			wantCode:   exitUsage,
			wantErrOut: "needs --user",
		},
		{
			name:       "eval unknown flag",
			args:       []string{"flags", "eval", "premum", "--user", "bob"},
			wantCode:   exitUsage,
			wantErrOut: `unknown flag "premum" (defined: premium, terminal, webgl)`,
		},
		{
			name:       "simulate unknown flag",
			args:       []string{"flags", "simulate", "premum"},
			wantCode:   exitUsage,
			wantErrOut: `unknown flag "premum"`,
		},
		{
			name:       "simulate no users",
			args:       []string{"flags", "simulate", "premium", "--users", "0"},
			wantCode:   exitUsage,
			wantErrOut: "--users 0 is outside",
		},
		{
			name:       "bad output format",
			args:       []string{"flags", "list", "-o", "yaml"},
			wantCode:   exitUsage,
			wantErrOut: `unknown output format "yaml"`,
		},
		{
			name:       "eval takes one flag",
			args:       []string{"flags", "eval", "premium", "webgl", "--user", "bob"},
			wantCode:   exitUsage,
			wantErrOut: "accepts 1 arg(s)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runFlagsCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("edgeconf %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.wantCode, out, errOut)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("edgeconf %s: stdout lacks %q:\n%s", strings.Join(tc.args, " "), want, out)
				}
			}
			if !strings.Contains(errOut, tc.wantErrOut) {
				t.Errorf("edgeconf %s: stderr = %q, want it to contain %q", strings.Join(tc.args, " "), errOut, tc.wantErrOut)
			}
		})
	}
}

func TestFlagsCmd_JSON(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		code, out, errOut := runFlagsCLI(t, "flags", "list", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got struct {
			Bucketing string      `json:"bucketing"`
			Flags     []flags.Row `json:"flags"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("flags list -o json is not JSON: %v\n%s", err, out)
		}
		if got.Bucketing != flags.Bucketing || len(got.Flags) != 3 || got.Flags[0].Name != "premium" || got.Flags[0].AllowedUsers != 1 {
			t.Errorf("flags list -o json = %+v", got)
		}
	})
	t.Run("eval", func(t *testing.T) {
		code, out, errOut := runFlagsCLI(t, "flags", "eval", "premium", "--user", "bob@factory-wager.com", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got flags.Evaluation
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("flags eval -o json is not JSON: %v\n%s", err, out)
		}
		want := flags.Evaluation{
			Flag: "premium", User: "bob@factory-wager.com",
			Decision:          flags.Decision{Reason: flags.ReasonOutOfRollout, Bucket: 7714},
			RolloutPercentage: 25, Threshold: 2500, Bucketing: flags.Bucketing,
		}
		if got != want {
			t.Errorf("flags eval -o json = %+v, want %+v", got, want)
		}
	})
	t.Run("simulate", func(t *testing.T) {
		code, out, errOut := runFlagsCLI(t, "flags", "simulate", "premium", "--users", "20000", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var got flags.SimulateResult
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("flags simulate -o json is not JSON: %v\n%s", err, out)
		}
		sum := 0
		for _, n := range got.Histogram {
			sum += n
		}
		if got.Users != 20000 || sum != 20000 || got.Enabled < 4500 || got.Enabled > 5500 {
			t.Errorf("flags simulate premium --users 20000: users %d, histogram total %d, enabled %d; want 20000, 20000, about 5000",
				got.Users, sum, got.Enabled)
		}
	})
}

func TestFlagsEvalCmd_ParsesOptions(t *testing.T) {
	var got *flagsEvalOptions
	d := &deps{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, LookupEnv: func(string) (string, bool) { return "", false }}
	cmd := newFlagsEvalCmd(d, &globalOptions{}, func(o *flagsEvalOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"ptySupport", "--user", "42", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := flagsEvalOptions{Flag: "ptySupport", User: "42", Output: "json"}
	if got == nil || *got != want {
		t.Errorf("flags eval options = %+v, want %+v", got, want)
	}
}
