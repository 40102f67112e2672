package wrangler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/tailscale/hujson"
	"go.yaml.in/yaml/v3"

	"github.com/factory-wager/edgeconf/config"
)

// Imported is the result of Import.
type Imported struct {
	Cloudflare config.CloudflareConfig
	// Unmapped names each key of the wrangler file edgeconf cannot carry
	// over, with its dotted path.
	Unmapped []string
}

// knownKey reports whether Import maps key (or knowingly derives it, like
// migrations); any other key is reported in Imported.Unmapped.
func knownKey(key string) bool {
	switch key {
	case "$schema", "name", "main", "account_id", "compatibility_date",
		"compatibility_flags", "routes", "vars", "kv_namespaces", "r2_buckets",
		"d1_databases", "durable_objects", "version_metadata", "migrations", "env":
		return true
	}
	return false
}

// extraLine finds the edgeconf comment that carries what wrangler's format
// cannot hold. It is compiled on first use, not at package init (issue 12).
var extraLine = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\s*(?:#|//) edgeconf: (\{.*\})\s*$`)
})

// Import reads a wrangler.toml or wrangler.jsonc (name tells which: a
// .toml suffix is TOML, anything else JSONC) into the cloudflare section.
func Import(name string, data []byte) (*Imported, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes: %w (%d bytes)", name, len(data), ErrTooLarge, MaxFileBytes)
	}
	var raw map[string]any
	var f file
	if strings.EqualFold(filepath.Ext(name), ".toml") {
		if _, err := toml.Decode(string(data), &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		std, err := hujson.Standardize(bytes.Clone(data)) // Standardize works in place
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := json.Unmarshal(std, &raw); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	// One decoder for both formats: the raw map re-encoded as JSON.
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(js, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := &Imported{}
	out.Unmapped = unknown(raw, "")
	if envs, ok := raw["env"].(map[string]any); ok {
		for n, e := range envs {
			if m, ok := e.(map[string]any); ok {
				out.Unmapped = append(out.Unmapped, unknown(m, "env."+n+".")...)
			}
		}
	}
	var ex extra
	if m := extraLine().FindSubmatch(data); m != nil {
		_ = json.Unmarshal(m[1], &ex) // a damaged comment only loses what it carried
	}
	base := fromSettings(f.settings, &ex, "", &out.Unmapped)
	out.Cloudflare.CloudflareSettings = base
	names := make([]string, 0, len(f.Env))
	for n := range f.Env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		exEnv := ex.Env[n]
		if exEnv == nil {
			exEnv = &extra{}
		}
		full := fromSettings(*f.Env[n], exEnv, "env."+n+".", &out.Unmapped)
		if exEnv.Main == "" {
			full.Worker.Main = f.Env[n].Main
		}
		if out.Cloudflare.Environments == nil {
			out.Cloudflare.Environments = map[string]config.CloudflareSettings{}
		}
		out.Cloudflare.Environments[n] = diff(base, full, "env."+n+".", &out.Unmapped)
	}
	sort.Strings(out.Unmapped)
	return out, nil
}

func unknown(m map[string]any, prefix string) []string {
	var out []string
	for k := range m {
		if !knownKey(k) {
			out = append(out, prefix+k)
		}
	}
	return out
}

func fromSettings(s settings, ex *extra, prefix string, unmapped *[]string) config.CloudflareSettings {
	cf := config.CloudflareSettings{
		AccountID: s.AccountID,
		Worker: config.WorkerConfig{
			Name: s.Name, Main: s.Main, CompatibilityDate: s.CompatibilityDate, CompatibilityFlags: s.CompatibilityFlags,
		},
		Vars:    s.Vars,
		Secrets: ex.Secrets,
	}
	if ex.Main != "" {
		cf.Worker.Main = ex.Main
	}
	for _, r := range s.Routes {
		cf.Routes = append(cf.Routes, config.Route{Pattern: r.Pattern, CustomDomain: r.CustomDomain})
		if r.ZoneID != "" {
			cf.ZoneID = r.ZoneID
		}
	}
	for _, k := range s.KVNamespaces {
		cf.KVNamespaces = append(cf.KVNamespaces, config.KVNamespace{Binding: k.Binding, ID: k.ID, Title: ex.KVTitles[k.Binding]})
	}
	for _, r := range s.R2Buckets {
		cf.R2Buckets = append(cf.R2Buckets, config.R2Bucket{Binding: r.Binding, Bucket: r.BucketName})
	}
	for _, d := range s.D1Databases {
		cf.D1Databases = append(cf.D1Databases, config.D1Database{Binding: d.Binding, Name: d.DatabaseName, ID: d.DatabaseID, MigrationsDir: d.MigrationsDir})
	}
	if s.DurableObjects != nil {
		for _, d := range s.DurableObjects.Bindings {
			cf.DurableObjects = append(cf.DurableObjects, config.DurableObject{Binding: d.Name, ClassName: d.ClassName, ScriptName: d.ScriptName})
		}
	}
	if s.VersionMetadata != nil && s.VersionMetadata.Binding != VersionMetadataBinding {
		*unmapped = append(*unmapped, fmt.Sprintf("%sversion_metadata.binding (%q: the Worker reads %s)", prefix, s.VersionMetadata.Binding, VersionMetadataBinding))
	}
	return cf
}

// diff keeps what an environment changes over the base: edgeconf merges
// environments over the base (maps merge, lists replace).
func diff(base, full config.CloudflareSettings, prefix string, unmapped *[]string) config.CloudflareSettings {
	var d config.CloudflareSettings
	set := func(dst any, b, f any) {
		if !reflect.DeepEqual(b, f) {
			reflect.ValueOf(dst).Elem().Set(reflect.ValueOf(f))
		}
	}
	set(&d.AccountID, base.AccountID, full.AccountID)
	set(&d.ZoneID, base.ZoneID, full.ZoneID)
	set(&d.Worker.Name, base.Worker.Name, full.Worker.Name)
	set(&d.Worker.Main, base.Worker.Main, full.Worker.Main)
	set(&d.Worker.CompatibilityDate, base.Worker.CompatibilityDate, full.Worker.CompatibilityDate)
	set(&d.Worker.CompatibilityFlags, base.Worker.CompatibilityFlags, full.Worker.CompatibilityFlags)
	set(&d.KVNamespaces, base.KVNamespaces, full.KVNamespaces)
	set(&d.R2Buckets, base.R2Buckets, full.R2Buckets)
	set(&d.D1Databases, base.D1Databases, full.D1Databases)
	set(&d.DurableObjects, base.DurableObjects, full.DurableObjects)
	set(&d.Secrets, base.Secrets, full.Secrets)
	set(&d.Routes, base.Routes, full.Routes)
	for k, v := range full.Vars {
		if bv, ok := base.Vars[k]; !ok || bv != v {
			if d.Vars == nil {
				d.Vars = map[string]string{}
			}
			d.Vars[k] = v
		}
	}
	for k := range base.Vars {
		if _, ok := full.Vars[k]; !ok {
			*unmapped = append(*unmapped, fmt.Sprintf("%svars.%s (absent here but set at the top level: edgeconf environments cannot remove a var)", prefix, k))
		}
	}
	return d
}

// YAML renders the cloudflare section as it goes in cloudflare-config.yaml,
// with the unmapped keys listed as comments above it.
func (im *Imported) YAML() ([]byte, error) {
	js, err := json.Marshal(map[string]any{"cloudflare": im.Cloudflare})
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(js, &n); err != nil { // JSON is YAML; the node keeps the key order
		return nil, fmt.Errorf("encode: %w", err)
	}
	blockStyle(&n)
	var b bytes.Buffer
	for _, u := range im.Unmapped {
		fmt.Fprintf(&b, "# not carried over: %s\n", u)
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b.Bytes(), nil
}

func blockStyle(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
	} else if n.Kind != yaml.ScalarNode {
		n.Style = 0
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}
