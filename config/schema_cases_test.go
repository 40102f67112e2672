package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/schema"
)

// schemaBlind lists the invalid golden cases the JSON Schema cannot flag,
// each with why: rules that compare values with each other or with the
// world (duplicates, cross references, dates, DNS conflicts), and inputs
// that are not plain YAML data. Every other invalid case must fail the
// schema too, so an editor flags what validate flags.
var schemaBlind = map[string]string{
	"alert-duplicate":             "compares values with each other",
	"proxy-port-range":            "a URL format check does not bound the port number",
	"binding-duplicate":           "compares values with each other",
	"port-duplicate":              "compares values with each other",
	"dns-cname-conflict":          "compares values with each other",
	"var-and-secret":              "compares values with each other",
	"thresholds-order":            "compares values with each other",
	"crossref-binding":            "compares values with each other",
	"crossref-d1-r2":              "compares values with each other",
	"integration-without-binding": "compares values with each other",
	"env-var-other-environment":   "compares values with each other",
	"rollout-disabled":            "compares values with each other",
	"worker-main-and-flags":       "compares values with each other",
	"ssl-paths-ignored":           "compares values with each other",
	"ssl-missing-paths":           "compares values with each other",
	"r2-requester-pays":           "compares values with each other",
	"alert-storage-do":            "compares values with each other",
	"alert-storage-integration":   "compares values with each other",
	"compat-date-future":          "depends on the world (clock, files, environment)",
	"ssl-cert-expired":            "depends on the world (clock, files, environment)",
	"ssl-cert-expiring":           "depends on the world (clock, files, environment)",
	"ssl-cert-missing-file":       "depends on the world (clock, files, environment)",
	"ssl-key-mismatch":            "depends on the world (clock, files, environment)",
	"ssl-not-pem":                 "depends on the world (clock, files, environment)",
	"missing-env-var":             "depends on the world (clock, files, environment)",
	"multi-document":              "not plain YAML data (several documents, size, ${ syntax)",
	"oversized":                   "not plain YAML data (several documents, size, ${ syntax)",
	"unterminated-env-var":        "not plain YAML data (several documents, size, ${ syntax)",
	"owner-missing":               "a Warning, not an error: the schema does not warn",
	"account-id-missing":          "a Warning, not an error: the schema does not warn",
	"zone-id-missing":             "a Warning, not an error: the schema does not warn",
	"var-looks-secret":            "a Warning, not an error: the schema does not warn",
	"proxy-password-redacted":     "a Warning, not an error: the schema does not warn",
	"account-id":                  "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"kv-id":                       "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"domain-invalid":              "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"domain-ip":                   "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"domain-long-label":           "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"domain-single-label":         "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"domain-uppercase":            "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"compat-date-invalid":         "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"r2-bucket-name":              "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"route-host":                  "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"route-scheme":                "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"proxy-scheme":                "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"proxy-no-host":               "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"durable-object-class":        "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"dns-content":                 "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"port-privileged":             "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"rollout-precision":           "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"thresholds-zero":             "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"thresholds-refresh-short":    "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"alert-metric-unknown":        "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"allowed-users":               "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"bad-env-var-name":            "a value format or range: values may be ${VAR} references the schema sees unexpanded",
	"worker-required":             "required only after environments merge (an environment may set part of the worker)",
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
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
	return sch
}

// schemaVerdict is "" when the file passes the schema, else why not.
func schemaVerdict(t *testing.T, sch *jsonschema.Schema, path string) string {
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		return "not YAML data: " + err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "not JSON data: " + err.Error()
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return "not JSON data: " + err.Error()
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); errors.As(err, &verr) {
		return strings.SplitN(verr.Error(), "\n", 2)[0]
	} else if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ""
}

func TestJSONSchema_FlagsWhatValidateFlags(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid cases: %v", err)
	}
	var missed []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		flagged := schemaVerdict(t, sch, f) != ""
		_, blind := schemaBlind[name]
		switch {
		case !flagged && !blind:
			missed = append(missed, name)
		case flagged && blind:
			t.Errorf("%s: the schema flags it now; remove it from schemaBlind", name)
		}
	}
	sort.Strings(missed)
	if len(missed) > 0 {
		t.Errorf("%d invalid cases pass the schema (make the schema flag them, or list them in schemaBlind with why):\n%s", len(missed), strings.Join(missed, "\n"))
	}
}
