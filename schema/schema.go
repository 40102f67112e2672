// Package schema holds the JSON Schema of cloudflare-config.yaml, the file
// beside this one that editors use and `edgeconf schema` prints.
//
// config/schemagen generates it from config's types at development time;
// embedding the result keeps the generator's dependencies out of every
// edgeconf process start (issue 12). config/schemagen's tests fail when the
// file is stale; go test ./config/schemagen -update regenerates it.
package schema

import (
	"bytes"
	_ "embed"
)

//go:embed cloudflare-config.schema.json
var configSchema []byte

// Config returns the JSON Schema (draft 2020-12) of cloudflare-config.yaml.
// The caller may modify the returned slice.
func Config() []byte { return bytes.Clone(configSchema) }
