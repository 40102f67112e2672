// Package config defines the schema of cloudflare-config.yaml, loads it
// with every value's source position, and validates it into a report.
//
// Loading is strict: unknown keys, duplicate keys, values of the wrong type
// and ${VAR} references to unset variables are all reported at once, each
// with file:line:col and its dotted key path. A file that is not YAML at all
// yields a single located problem instead of a panic or a stack trace.
//
// The package does no network I/O. Load reads the config file and the .env
// beside it; Validate reads certificate files only when ssl requires them.
package config
