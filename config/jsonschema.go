package config

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the JSON Schema that JSONSchema returns.
const SchemaID = "https://github.com/factory-wager/edgeconf/schema/cloudflare-config.schema.json"

// Name patterns the rules enforce, as the schema states them (a test
// checks each against its rule).
const (
	FlagNamePattern   = `^[A-Za-z][A-Za-z0-9_-]{0,63}$` // features.<name> (validFlagName)
	IdentifierPattern = `^[A-Za-z_$][A-Za-z0-9_$]*$`    // vars and secrets (IsIdentifier)
	EnvNamePattern    = `^[a-z0-9][a-z0-9_-]{0,62}$`    // cloudflare.environments.<name> (envNames)
)

// JSONSchema returns a JSON Schema (draft 2020-12) of the configuration
// file, generated from the Go types, for editors and other tools. The keys
// the loader requires are required (domain; the binding and name of each
// KV, R2, D1 and Durable Object binding; a route's pattern; a DNS record's
// name and content), map keys carry the name patterns the rules enforce,
// and unknown keys are refused as the loader refuses them. What the schema
// cannot say (values compared with each other or with the world) is listed
// in config/schema_cases_test.go.
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             false,
		ExpandedStruct:             true,
	}
	s := r.Reflect(&Config{})
	s.ID = SchemaID
	// Top-level x-* keys hold YAML anchors; the loader ignores them.
	s.PatternProperties = map[string]*jsonschema.Schema{"^x-": {}}
	tighten(s)
	s.Title = "edgeconf cloudflare-config.yaml"
	s.Description = "Configuration of a web app on Cloudflare Workers; see docs/guides/CLOUDFLARE-CONFIG-GUIDE.md"
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	return append(out, '\n'), nil
}

// tighten adds what the Go types cannot say: required keys and the name
// patterns of map keys.
func tighten(s *jsonschema.Schema) {
	s.Required = append(s.Required, "domain")
	names := func(pattern string) *jsonschema.Schema { return &jsonschema.Schema{Pattern: pattern} }
	if fc, ok := s.Definitions["FeatureConfig"]; ok {
		fc.PropertyNames = names(FlagNamePattern)
	}
	for _, def := range []string{"CloudflareConfig", "CloudflareSettings"} {
		d, ok := s.Definitions[def]
		if !ok || d.Properties == nil {
			continue
		}
		if v, ok := d.Properties.Get("vars"); ok {
			v.PropertyNames = names(IdentifierPattern)
		}
		if v, ok := d.Properties.Get("secrets"); ok && v.Items != nil {
			v.Items.Pattern = IdentifierPattern
		}
		if v, ok := d.Properties.Get("environments"); ok {
			v.PropertyNames = names(EnvNamePattern)
		}
	}
	for def, keys := range map[string][]string{
		"KVNamespace":   {"binding"},
		"R2Bucket":      {"binding", "bucket"},
		"D1Database":    {"binding", "name"},
		"DurableObject": {"binding", "className"},
		"Route":         {"pattern"},
		"DNSRecord":     {"name", "content"},
	} {
		if d, ok := s.Definitions[def]; ok {
			d.Required = append(d.Required, keys...)
		}
	}
}
