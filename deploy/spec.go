package deploy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1/migrate"
)

// OwnerComment marks the DNS records edgeconf creates; a record without it
// is someone else's and is never changed without AllowDNSTakeover.
const OwnerComment = "managed by edgeconf"

// CodeTagPrefix starts the workers/tag annotation of the versions edgeconf
// uploads; the rest is the start of the bundle's sha256, so a plan can tell
// whether the live code is the code being deployed.
const CodeTagPrefix = "ec-"

// codeTagHexLen keeps the tag within cloudflare.MaxVersionTag.
const codeTagHexLen = cloudflare.MaxVersionTag - len(CodeTagPrefix)

// Spec is what a deploy wants.
type Spec struct {
	Worker             string
	Script             []byte // the bundled main module
	CompatibilityDate  string
	CompatibilityFlags []string
	KV                 []config.KVNamespace
	R2                 []config.R2Bucket
	D1                 []config.D1Database
	DO                 []config.DurableObject
	Vars               map[string]string
	Secrets            []string
	Routes             []config.Route
	DNS                []config.DNSRecord // names made absolute with Domain
	Domain             string
	ZoneID             string
	// MigrationsDir is each D1 database's migrations folder (by name).
	MigrationsDir map[string]string
}

// SpecFrom computes the Spec of a loaded configuration (with its --env
// merged) and the script built from it.
func SpecFrom(doc *config.Document, script []byte) (Spec, error) {
	cf := doc.Config.Cloudflare.CloudflareSettings
	if cf.Worker.Name == "" {
		return Spec{}, fmt.Errorf("cloudflare.worker.name is not set: name the Worker to deploy")
	}
	if len(script) == 0 {
		return Spec{}, fmt.Errorf("the built Worker is empty (run edgeconf build to see why)")
	}
	s := Spec{
		Worker: cf.Worker.Name, Script: script,
		CompatibilityDate: cf.Worker.CompatibilityDate, CompatibilityFlags: cf.Worker.CompatibilityFlags,
		KV: cf.KVNamespaces, R2: cf.R2Buckets, D1: cf.D1Databases, DO: cf.DurableObjects,
		Vars: cf.Vars, Secrets: cf.Secrets, Routes: cf.Routes,
		Domain: strings.ToLower(strings.TrimSuffix(doc.Config.Domain, ".")), ZoneID: cf.ZoneID,
	}
	for _, r := range cf.DNS {
		r.Name = absName(r.Name, s.Domain)
		s.DNS = append(s.DNS, r)
	}
	s.MigrationsDir = map[string]string{}
	for _, d := range cf.D1Databases {
		s.MigrationsDir[d.Name] = migrate.DirFor(filepath.Join(doc.Dir(), config.DefaultFile), d.MigrationsDir)
	}
	return s, nil
}

// absName makes a record name absolute: "@" is the apex, a name outside
// the domain gets the domain appended.
func absName(name, domain string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case name == "@" || name == "":
		return domain
	case domain == "" || name == domain || strings.HasSuffix(name, "."+domain):
		return name
	}
	return name + "." + domain
}

// CodeTag is the workers/tag of a version of this code.
func (s Spec) CodeTag() string {
	sum := sha256.Sum256(s.Script)
	return CodeTagPrefix + hex.EncodeToString(sum[:])[:codeTagHexLen]
}

// Classes lists the Durable Object classes the Worker itself defines (a
// binding with a script name points at another Worker's class).
func (s Spec) Classes() []string {
	var out []string
	for _, d := range s.DO {
		if d.ScriptName == "" || d.ScriptName == s.Worker {
			out = append(out, d.ClassName)
		}
	}
	sort.Strings(out)
	return dedupe(out)
}

// Hostnames lists the hostnames routes, custom domains and DNS records
// name, for finding their zone.
func (s Spec) Hostnames() []string {
	var out []string
	for _, r := range s.Routes {
		out = append(out, routeHost(r.Pattern))
	}
	for _, r := range s.DNS {
		out = append(out, r.Name)
	}
	return out
}

// routeHost is the hostname of a route pattern ("*.example.com/api/*" →
// "example.com").
func routeHost(pattern string) string {
	host, _, _ := strings.Cut(pattern, "/")
	host = strings.TrimPrefix(strings.TrimPrefix(host, "*"), ".")
	return strings.ToLower(host)
}

// Bindings are the bindings a version of the Spec carries, given the ids
// of the resources the account has (or will have: "" stands for an id
// provisioning fills in). Secrets are not among them: a version keeps the
// secrets set on the Worker (cloudflare.Upload.KeepBindings).
func (s Spec) Bindings(namespaces, databases map[string]string) []cloudflare.Binding {
	out := []cloudflare.Binding{{Type: "version_metadata", Name: bundle.VersionMetadataBinding}}
	for _, k := range s.KV {
		id := k.ID
		if id == "" {
			id = namespaces[kvTitle(k)]
		}
		out = append(out, cloudflare.Binding{Type: "kv_namespace", Name: k.Binding, NamespaceID: id})
	}
	for _, b := range s.R2 {
		out = append(out, cloudflare.Binding{Type: "r2_bucket", Name: b.Binding, BucketName: b.Bucket})
	}
	for _, d := range s.D1 {
		id := d.ID
		if id == "" {
			id = databases[d.Name]
		}
		out = append(out, cloudflare.Binding{Type: "d1", Name: d.Binding, ID: id})
	}
	for _, d := range s.DO {
		b := cloudflare.Binding{Type: "durable_object_namespace", Name: d.Binding, ClassName: d.ClassName}
		if d.ScriptName != s.Worker {
			b.ScriptName = d.ScriptName
		}
		out = append(out, b)
	}
	keys := make([]string, 0, len(s.Vars))
	for k := range s.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, cloudflare.Binding{Type: "plain_text", Name: k, Text: s.Vars[k]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// kvTitle is the namespace title a KV binding provisions: its title, else
// the binding name.
func kvTitle(k config.KVNamespace) string {
	if k.Title != "" {
		return k.Title
	}
	return k.Binding
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
