package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/report"
	"github.com/factory-wager/edgeconf/schema"
)

// TestValidate_SecretsNeverPrinted renders reports whose input holds a
// proxy password and secret-looking vars in every format, and requires
// that the secret text appears in none of them.
func TestValidate_SecretsNeverPrinted(t *testing.T) {
	src := minimal + `  vars: { API_TOKEN: "tok-s3cr3t-value" }
proxy: { url: "ftp://jane:hunter2@proxy.corp:3128" }
`
	doc, _ := parse(t, src, config.LoadOptions{})
	r := config.Validate(doc, config.ValidateOptions{Now: testNow})
	if r.Metrics.Invalid == 0 {
		t.Fatal("want the ftp proxy and the API_TOKEN var to be Invalid")
	}
	for _, f := range report.Formats {
		var buf bytes.Buffer
		if err := report.Write(&buf, r, f, report.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"hunter2", "tok-s3cr3t-value"} {
			if strings.Contains(buf.String(), secret) {
				t.Errorf("%s output contains the secret %q:\n%s", f, secret, buf.String())
			}
		}
	}
	// An unparseable proxy URL with credentials must not echo them either.
	doc, _ = parse(t, minimal+"proxy: { url: \"http://jane:hunter2@exa mple.com:x\" }\n", config.LoadOptions{})
	var buf bytes.Buffer
	_ = report.Write(&buf, config.Validate(doc, config.ValidateOptions{Now: testNow}), report.JSON, report.WriteOptions{})
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "proxy-url") {
		t.Errorf("unparseable proxy URL: %s", buf.String())
	}
}

func TestValidate_SSLReadFileInjected(t *testing.T) {
	cert, err := os.ReadFile("testdata/certs/valid.crt")
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile("testdata/certs/valid.key")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"/etc/tls/c.pem": cert, "/etc/tls/k.pem": key}
	read := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return b, nil
		}
		return nil, os.ErrNotExist
	}
	doc, err := parse(t, minimal+"ssl: { enabled: true, autoManaged: false, certPath: /etc/tls/c.pem, keyPath: /etc/tls/k.pem }\n", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := config.Validate(doc, config.ValidateOptions{Now: testNow, ReadFile: read})
	e := entry(t, r, "ssl")
	if e.Status != report.Valid || !strings.Contains(e.Details, "expires 2036-01-01") {
		t.Errorf("ssl entry = %+v, want Valid with the expiry date", e)
	}
	// The same pair a day after expiry is Invalid; with no clock set, Validate uses time.Now.
	r = config.Validate(doc, config.ValidateOptions{Now: testNow.AddDate(10, 0, 0), ReadFile: read})
	if e := entry(t, r, "ssl"); e.Status != report.Invalid {
		t.Errorf("ssl entry in 2036 = %+v, want Invalid", e)
	}
	if r := config.Validate(doc, config.ValidateOptions{ReadFile: read}); r.Timestamp.IsZero() {
		t.Error("Validate without Now left the timestamp zero")
	}
}

func TestValidate_NotYetValidCert(t *testing.T) {
	doc, err := config.Load("testdata/invalid/ssl-cert-expired.yaml", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := config.Validate(doc, config.ValidateOptions{Now: testNow.AddDate(-3, 0, 0)})
	if !strings.Contains(findingLines(r), "ssl-cert-not-yet-valid") {
		t.Errorf("a certificate used before NotBefore: %s", findingLines(r))
	}
}

func TestValidate_ZeroDocument(t *testing.T) {
	// Validate must cope with the defaults alone (for example after `get`
	// on an empty file) and say what is missing.
	doc, _ := parse(t, "owner: x\n", config.LoadOptions{})
	r := config.Validate(doc, config.ValidateOptions{Now: testNow})
	got := findingLines(r)
	for _, want := range []string{"domain-missing", "cloudflare.worker.name", "integration-binding"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings lack %s:\n%s", want, got)
		}
	}
	if e := entry(t, r, "features"); e.Details != "no feature flags" {
		t.Errorf("features entry = %+v", e)
	}
}

func TestValidate_LoadProblemsAreSectionEntries(t *testing.T) {
	doc, err := parse(t, minimal+"bogus: 1\nports: { main: x }\n", config.LoadOptions{})
	if err == nil {
		t.Fatal("want load problems")
	}
	r := config.Validate(doc, config.ValidateOptions{Now: testNow})
	if e := entry(t, r, "ports"); e.Status != report.Invalid || !strings.Contains(e.Details, "<input>:6:16: ports.main: expected a whole number") {
		t.Errorf("ports entry = %+v", e)
	}
	if e := entry(t, r, "config"); e.Status != report.Invalid || e.Findings[0].Rule != "unknown-key" {
		t.Errorf("config entry = %+v", e)
	}
	if r.Metrics.Total != len(r.Config) || r.Metrics.Invalid != 2 {
		t.Errorf("metrics = %+v", r.Metrics)
	}
}

func entry(t *testing.T, r *report.Report, section string) report.Entry {
	t.Helper()
	for _, e := range r.Config {
		if e.Section == section {
			return e
		}
	}
	t.Fatalf("no entry for section %q", section)
	return report.Entry{}
}

// TestJSONSchema_AcceptsValidCases checks the generated schema against
// real files: every valid case passes it, and unknown keys fail it.
func TestJSONSchema_AcceptsValidCases(t *testing.T) {
	raw := schema.Config()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(config.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(config.SchemaID)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	// asJSON reads a YAML file as the editor sees it: raw, before defaults.
	asJSON := func(src []byte) any {
		var v any
		if err := yaml.Unmarshal(src, &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	for _, path := range []string{"testdata/valid/seed.yaml", "../cloudflare-config.yaml"} {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(asJSON(src)); err != nil {
			t.Errorf("%s fails the schema: %v", path, err)
		}
	}
	bad := asJSON([]byte("domain: x\nbogus: 1\n"))
	var verr *jsonschema.ValidationError
	if err := sch.Validate(bad); !errors.As(err, &verr) {
		t.Errorf("schema accepted an unknown key: %v", err)
	}
}

// TestValidate_SelectedEnvironmentReportedOnce checks that a bad value in
// the selected environment is reported once, where it was merged.
func TestValidate_SelectedEnvironmentReportedOnce(t *testing.T) {
	doc, err := config.Load("testdata/invalid/env-bad-values.yaml", config.LoadOptions{Env: "Staging"})
	if err != nil {
		t.Fatal(err)
	}
	lines := findingLines(config.Validate(doc, config.ValidateOptions{Now: testNow}))
	if n := strings.Count(lines, "App_Staging"); n != 1 {
		t.Errorf("the bad worker name is reported %d times, want once:\n%s", n, lines)
	}
	if !strings.Contains(lines, "cloudflare.worker.name") || !strings.Contains(lines, "env-bad-values.yaml:9:32") {
		t.Errorf("want the merged path located in the environment block:\n%s", lines)
	}
}
