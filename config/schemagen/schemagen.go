// Package schemagen generates the JSON Schema of cloudflare-config.yaml
// from config's types. It runs at development time, not in edgeconf: the
// generated file is schema/cloudflare-config.schema.json, which package
// schema embeds, so the generator's dependencies (invopop/jsonschema and
// what it pulls in) do not initialise in every edgeconf process (issue 12).
// go test ./config/schemagen -update regenerates the file.
package schemagen

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"

	"github.com/factory-wager/edgeconf/config"
)

// Generate returns a JSON Schema (draft 2020-12) of the configuration
// file, generated from the Go types, for editors and other tools. The keys
// the loader requires are required (domain; the binding and name of each
// KV, R2, D1 and Durable Object binding; a route's pattern; a DNS record's
// name and content), map keys carry the name patterns the rules enforce,
// and unknown keys are refused as the loader refuses them. What the schema
// cannot say (values compared with each other or with the world) is listed
// in config/schema_cases_test.go.
func Generate() ([]byte, error) {
	r := &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		DoNotReference:             false,
		ExpandedStruct:             true,
	}
	s := r.Reflect(&config.Config{})
	s.ID = config.SchemaID
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
		fc.PropertyNames = names(config.FlagNamePattern)
	}
	for _, def := range []string{"CloudflareConfig", "CloudflareSettings"} {
		d, ok := s.Definitions[def]
		if !ok || d.Properties == nil {
			continue
		}
		if v, ok := d.Properties.Get("vars"); ok {
			v.PropertyNames = names(config.IdentifierPattern)
		}
		if v, ok := d.Properties.Get("secrets"); ok && v.Items != nil {
			v.Items.Pattern = config.IdentifierPattern
		}
		if v, ok := d.Properties.Get("environments"); ok {
			v.PropertyNames = names(config.EnvNamePattern)
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
