// Package wrangler converts between edgeconf's cloudflare section and
// wrangler's configuration file (wrangler.toml or wrangler.jsonc), for
// users who deploy with wrangler or who move from it to edgeconf.
//
// Generate writes a file the pinned wrangler accepts; Import reads one back
// into the cloudflare section and names everything it cannot carry over.
// What wrangler's format has no place for (the Worker's source entry, KV
// titles, secret names) travels in one "edgeconf:" comment line, so
// generate → import → generate is a fixed point.
package wrangler

import (
	"errors"
	"fmt"
)

// Format is a wrangler configuration file format.
type Format string

// The formats Generate writes and Import reads.
const (
	TOML  Format = "toml"
	JSONC Format = "jsonc"
)

// MaxFileBytes bounds the size of a wrangler file Import reads.
const MaxFileBytes = 1 << 20

// VersionMetadataBinding is the version-metadata binding the Worker reads.
const VersionMetadataBinding = "CF_VERSION_METADATA"

// ErrTooLarge is returned (wrapped) when an input is over MaxFileBytes.
var ErrTooLarge = errors.New("wrangler file over the size limit")

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case TOML, JSONC:
		return Format(s), nil
	}
	return "", fmt.Errorf("format %q: want toml or jsonc", s)
}

// file is wrangler's configuration, the part edgeconf maps. The tags give
// both formats the same key names.
type file struct {
	Schema string `toml:"$schema,omitempty" json:"$schema,omitempty"`
	settings
	Migrations []migration          `toml:"migrations,omitempty" json:"migrations,omitempty"`
	Env        map[string]*settings `toml:"env,omitempty" json:"env,omitempty"`
}

// settings are the keys of the top level that an [env.X] section repeats.
type settings struct {
	Name               string            `toml:"name" json:"name"`
	Main               string            `toml:"main" json:"main"`
	AccountID          string            `toml:"account_id,omitempty" json:"account_id,omitempty"`
	CompatibilityDate  string            `toml:"compatibility_date,omitempty" json:"compatibility_date,omitempty"`
	CompatibilityFlags []string          `toml:"compatibility_flags,omitempty" json:"compatibility_flags,omitempty"`
	Routes             []route           `toml:"routes,omitempty" json:"routes,omitempty"`
	Vars               map[string]string `toml:"vars,omitempty" json:"vars,omitempty"`
	KVNamespaces       []kvNamespace     `toml:"kv_namespaces,omitempty" json:"kv_namespaces,omitempty"`
	R2Buckets          []r2Bucket        `toml:"r2_buckets,omitempty" json:"r2_buckets,omitempty"`
	D1Databases        []d1Database      `toml:"d1_databases,omitempty" json:"d1_databases,omitempty"`
	DurableObjects     *durableObjects   `toml:"durable_objects,omitempty" json:"durable_objects,omitempty"`
	VersionMetadata    *versionMetadata  `toml:"version_metadata,omitempty" json:"version_metadata,omitempty"`
}

type route struct {
	Pattern      string `toml:"pattern" json:"pattern"`
	ZoneID       string `toml:"zone_id,omitempty" json:"zone_id,omitempty"`
	ZoneName     string `toml:"zone_name,omitempty" json:"zone_name,omitempty"` // the top-level domain when zoneId is unset
	CustomDomain bool   `toml:"custom_domain,omitempty" json:"custom_domain,omitempty"`
}

type kvNamespace struct {
	Binding string `toml:"binding" json:"binding"`
	ID      string `toml:"id,omitempty" json:"id,omitempty"`
}

type r2Bucket struct {
	Binding    string `toml:"binding" json:"binding"`
	BucketName string `toml:"bucket_name" json:"bucket_name"`
}

type d1Database struct {
	Binding       string `toml:"binding" json:"binding"`
	DatabaseName  string `toml:"database_name" json:"database_name"`
	DatabaseID    string `toml:"database_id,omitempty" json:"database_id,omitempty"`
	MigrationsDir string `toml:"migrations_dir,omitempty" json:"migrations_dir,omitempty"`
}

type durableObjects struct {
	Bindings []doBinding `toml:"bindings" json:"bindings"`
}

type doBinding struct {
	Name       string `toml:"name" json:"name"`
	ClassName  string `toml:"class_name" json:"class_name"`
	ScriptName string `toml:"script_name,omitempty" json:"script_name,omitempty"`
}

type migration struct {
	Tag              string   `toml:"tag" json:"tag"`
	NewSqliteClasses []string `toml:"new_sqlite_classes,omitempty" json:"new_sqlite_classes,omitempty"`
}

type versionMetadata struct {
	Binding string `toml:"binding" json:"binding"`
}

// extra is what wrangler's format cannot hold, carried in the generated
// file's "edgeconf:" comment line.
type extra struct {
	Main     string            `json:"main,omitempty"`     // cloudflare.worker.main, the source entry
	KVTitles map[string]string `json:"kvTitles,omitempty"` // binding → title
	Secrets  []string          `json:"secrets,omitempty"`  // names only
	Env      map[string]*extra `json:"env,omitempty"`
}
