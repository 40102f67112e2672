// Package edgeconf is the root of the edgeconf module: it holds the example
// configuration, embedded so that every build carries a valid starting
// point. The work is done in the packages below it (config, report,
// flags, ...) and the edgeconf command in cmd/edgeconf.
package edgeconf

import _ "embed"

// ExampleConfig is the repository's cloudflare-config.yaml, the seed
// configuration of the Quantum Terminal Dashboard.
//
//go:embed cloudflare-config.yaml
var ExampleConfig []byte
