package bundle

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/factory-wager/edgeconf/config"
)

// OptionalBindings are bindings the Worker reads only when the Worker has
// them: the dashboard's DASHBOARD_TOKEN secret (without it the dashboard's
// read-only API at the edge is open). Code may use them whether or not the
// configuration declares them.
var OptionalBindings = []string{"DASHBOARD_TOKEN"}

// VersionMetadataBinding is the binding of the version metadata; the Worker
// always has it (edgeconf dev and deploy both provide it).
const VersionMetadataBinding = "CF_VERSION_METADATA"

// FromDocument fills the inputs of Build that come from the configuration:
// the entry module (cloudflare.worker.main, relative to the configuration's
// folder), the environment, the effective file configuration, the refresh
// interval and the binding names.
func FromDocument(doc *config.Document) (Options, error) {
	cf := doc.Config.Cloudflare.CloudflareSettings
	if cf.Worker.Main == "" {
		return Options{}, fmt.Errorf("cloudflare.worker.main is not set: name the Worker's entry module")
	}
	_, v, err := doc.Lookup("")
	if err != nil {
		return Options{}, fmt.Errorf("read the effective configuration: %w", err)
	}
	raw, err := v.MarshalJSON()
	if err != nil {
		return Options{}, fmt.Errorf("encode the effective configuration: %w", err)
	}
	entry := cf.Worker.Main
	if !filepath.IsAbs(entry) {
		entry = filepath.Join(doc.Dir(), entry)
	}
	return Options{
		Entry:          entry,
		Env:            doc.Env,
		Config:         raw,
		RefreshSeconds: float64(doc.Config.Dependencies.Thresholds.Refresh),
		Bindings:       Bindings(cf),
	}, nil
}

// Bindings lists the binding names the settings define, sorted.
func Bindings(cf config.CloudflareSettings) []string {
	out := []string{VersionMetadataBinding}
	for _, k := range cf.KVNamespaces {
		out = append(out, k.Binding)
	}
	for _, b := range cf.R2Buckets {
		out = append(out, b.Binding)
	}
	for _, d := range cf.D1Databases {
		out = append(out, d.Binding)
	}
	for _, d := range cf.DurableObjects {
		out = append(out, d.Binding)
	}
	for k := range cf.Vars {
		out = append(out, k)
	}
	out = append(out, cf.Secrets...)
	sort.Strings(out)
	return out
}
