package config

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the JSON Schema that JSONSchema returns.
const SchemaID = "https://github.com/factory-wager/edgeconf/schema/cloudflare-config.schema.json"

// JSONSchema returns a JSON Schema (draft 2020-12) of the configuration
// file, generated from the Go types, for editors and other tools. No key is
// required by the schema because every key has a default; unknown keys are
// refused as the loader refuses them.
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
	s.Title = "edgeconf cloudflare-config.yaml"
	s.Description = "Configuration of a web app on Cloudflare Workers; see docs/guides/CLOUDFLARE-CONFIG-GUIDE.md"
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal schema: %w", err)
	}
	return append(out, '\n'), nil
}
