package config

// Config is the whole of cloudflare-config.yaml after defaults, ${VAR}
// expansion and (optionally) the merge of one environment section.
//
// Keys are camelCase because they mirror the original TypeScript
// interfaces; the yaml and json names are always the same.
type Config struct {
	Owner           string           `yaml:"owner" json:"owner" jsonschema:"description=Team or person that owns this configuration"`
	Domain          string           `yaml:"domain" json:"domain" jsonschema:"description=Apex domain the app is served from (a DNS hostname)"`
	SSL             SSLConfig        `yaml:"ssl" json:"ssl"`
	Ports           PortConfig       `yaml:"ports" json:"ports"`
	Features        FeatureConfig    `yaml:"features" json:"features" jsonschema:"description=Feature flags by name"`
	Monitoring      MonitoringConfig `yaml:"monitoring" json:"monitoring"`
	Dependencies    DependencyConfig `yaml:"dependencies" json:"dependencies"`
	CrossReferences []CrossReference `yaml:"crossReferences" json:"crossReferences" jsonschema:"description=Values that live in another Cloudflare API and are checked by validate"`
	Cloudflare      CloudflareConfig `yaml:"cloudflare" json:"cloudflare"`
	Proxy           ProxyConfig      `yaml:"proxy" json:"proxy"`
}

// SSLConfig says how TLS is terminated for the local servers.
type SSLConfig struct {
	Enabled     bool   `yaml:"enabled" json:"enabled"`
	AutoManaged bool   `yaml:"autoManaged" json:"autoManaged" jsonschema:"description=Cloudflare manages the certificate (default true)"`
	CertPath    string `yaml:"certPath" json:"certPath,omitempty" jsonschema:"description=PEM certificate; required when enabled and not autoManaged"`
	KeyPath     string `yaml:"keyPath" json:"keyPath,omitempty" jsonschema:"description=PEM private key matching certPath"`
}

// PortConfig holds the local listening ports; they must be distinct.
type PortConfig struct {
	Main       int `yaml:"main" json:"main" jsonschema:"minimum=1,maximum=65535"`
	Compliance int `yaml:"compliance" json:"compliance" jsonschema:"minimum=1,maximum=65535"`
	Dashboard  int `yaml:"dashboard" json:"dashboard" jsonschema:"minimum=1,maximum=65535"`
}

// FeatureConfig maps a flag name to its settings. Any name is allowed.
type FeatureConfig map[string]FeatureFlag

// FeatureFlag is one feature flag with a percentage rollout.
type FeatureFlag struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// RolloutPercentage is the share of users that get the flag, 0..100
	// with at most two decimals (so 0.01 % is the finest step).
	RolloutPercentage float64 `yaml:"rolloutPercentage" json:"rolloutPercentage" jsonschema:"minimum=0,maximum=100"`
	// AllowedUsers always get the flag while it is enabled, whatever the rollout.
	AllowedUsers []string `yaml:"allowedUsers" json:"allowedUsers,omitempty"`

	allowed map[string]struct{} // built by Index so evaluation does not scan or allocate
}

// Index builds the allowed-user set used by IsAllowed. The loader calls it
// for every flag; call it again after changing AllowedUsers by hand.
func (f *FeatureFlag) Index() {
	if len(f.AllowedUsers) == 0 {
		f.allowed = nil
		return
	}
	f.allowed = make(map[string]struct{}, len(f.AllowedUsers))
	for _, u := range f.AllowedUsers {
		f.allowed[u] = struct{}{}
	}
}

// IsAllowed reports whether userID is listed in AllowedUsers.
// It uses the set built by Index and falls back to a scan when Index was not called.
func (f *FeatureFlag) IsAllowed(userID string) bool {
	if f.allowed != nil {
		_, ok := f.allowed[userID]
		return ok
	}
	for _, u := range f.AllowedUsers {
		if u == userID {
			return true
		}
	}
	return false
}

// MonitoringConfig switches telemetry on and declares alert thresholds.
type MonitoringConfig struct {
	Analytics     bool          `yaml:"analytics" json:"analytics"`
	ErrorTracking bool          `yaml:"errorTracking" json:"errorTracking"`
	Performance   bool          `yaml:"performance" json:"performance"`
	Alerts        []AlertConfig `yaml:"alerts" json:"alerts"`
}

// AlertConfig fires when Metric goes above Threshold; the alert record is
// kept in Storage (KV, R2 or DO).
type AlertConfig struct {
	Metric    string  `yaml:"metric" json:"metric" jsonschema:"description=One of the known metric names (see the guide)"`
	Threshold float64 `yaml:"threshold" json:"threshold" jsonschema:"exclusiveMinimum=0"`
	Storage   string  `yaml:"storage" json:"storage" jsonschema:"enum=KV,enum=R2,enum=DO"`
}

// DependencyConfig drives the dependency monitor.
type DependencyConfig struct {
	Enabled      bool                 `yaml:"enabled" json:"enabled"`
	Thresholds   DependencyThresholds `yaml:"thresholds" json:"thresholds"`
	Integrations Integrations         `yaml:"integrations" json:"integrations"`
}

// DependencyThresholds are ages in seconds: refresh < warning < critical.
type DependencyThresholds struct {
	Refresh  int `yaml:"refresh" json:"refresh" jsonschema:"description=Seconds between checks"`
	Warning  int `yaml:"warning" json:"warning" jsonschema:"description=Seconds without a good check before a warning"`
	Critical int `yaml:"critical" json:"critical" jsonschema:"description=Seconds without a good check before critical and fallback"`
}

// Integrations says which Cloudflare storage the app depends on.
type Integrations struct {
	R2 bool `yaml:"r2" json:"r2"`
	KV bool `yaml:"kv" json:"kv"`
	DO bool `yaml:"do" json:"do"`
}

// CrossReference declares a value held in another API (a KV key, an R2
// object, a D1 query or a Durable Object) that validate should check.
type CrossReference struct {
	Source    string `yaml:"source" json:"source" jsonschema:"enum=KV,enum=R2,enum=D1,enum=DO"`
	Path      string `yaml:"path" json:"path" jsonschema:"description=BINDING/key (KV, R2, DO) or BINDING?sql=... (D1)"`
	Validator string `yaml:"validator" json:"validator,omitempty" jsonschema:"enum=json,enum=json-string-list,enum=pem-certificate,enum=url,enum=non-empty,enum=number"`
}

// CloudflareConfig is the cloudflare section: account, Worker, bindings,
// routes and DNS, plus named environments that are deep-merged over it.
type CloudflareConfig struct {
	CloudflareSettings `yaml:",inline"`
	// Environments are merged over the settings above by --env NAME:
	// maps merge, lists replace.
	Environments map[string]CloudflareSettings `yaml:"environments" json:"environments,omitempty"`
}

// CloudflareSettings is everything in the cloudflare section that an
// environment may override.
type CloudflareSettings struct {
	AccountID      string            `yaml:"accountId" json:"accountId,omitempty" jsonschema:"description=32 hex digits; needed for --remote and deploy"`
	ZoneID         string            `yaml:"zoneId" json:"zoneId,omitempty" jsonschema:"description=32 hex digits; needed for routes and DNS"`
	Worker         WorkerConfig      `yaml:"worker" json:"worker,omitempty"`
	KVNamespaces   []KVNamespace     `yaml:"kvNamespaces" json:"kvNamespaces,omitempty"`
	R2Buckets      []R2Bucket        `yaml:"r2Buckets" json:"r2Buckets,omitempty"`
	D1Databases    []D1Database      `yaml:"d1Databases" json:"d1Databases,omitempty"`
	DurableObjects []DurableObject   `yaml:"durableObjects" json:"durableObjects,omitempty"`
	Vars           map[string]string `yaml:"vars" json:"vars,omitempty" jsonschema:"description=Plain-text variables; never secrets"`
	Secrets        []string          `yaml:"secrets" json:"secrets,omitempty" jsonschema:"description=Secret names only; values are set with wrangler secret put"`
	Routes         []Route           `yaml:"routes" json:"routes,omitempty"`
	DNS            []DNSRecord       `yaml:"dns" json:"dns,omitempty"`
}

// WorkerConfig names the Worker script and its entry module.
type WorkerConfig struct {
	Name               string   `yaml:"name" json:"name,omitempty" jsonschema:"pattern=^[a-z0-9]([a-z0-9-]*[a-z0-9])?$,maxLength=63"`
	Main               string   `yaml:"main" json:"main,omitempty"`
	CompatibilityDate  string   `yaml:"compatibilityDate" json:"compatibilityDate,omitempty" jsonschema:"format=date"`
	CompatibilityFlags []string `yaml:"compatibilityFlags" json:"compatibilityFlags,omitempty"`
}

// KVNamespace binds a Workers KV namespace.
type KVNamespace struct {
	Binding string `yaml:"binding" json:"binding"`
	Title   string `yaml:"title" json:"title,omitempty"`
	ID      string `yaml:"id" json:"id,omitempty" jsonschema:"description=32 hex digits; empty until provisioned"`
}

// R2Bucket binds an R2 bucket.
type R2Bucket struct {
	Binding string `yaml:"binding" json:"binding"`
	Bucket  string `yaml:"bucket" json:"bucket"`
	// RequesterPays sends x-amz-request-payer on S3-compatible stores;
	// Cloudflare R2 does not implement it.
	RequesterPays bool `yaml:"requesterPays" json:"requesterPays,omitempty"`
}

// D1Database binds a D1 database.
type D1Database struct {
	Binding string `yaml:"binding" json:"binding"`
	Name    string `yaml:"name" json:"name"`
	ID      string `yaml:"id" json:"id,omitempty" jsonschema:"description=UUID; empty until provisioned"`
	// MigrationsDir is where the database's NNNN_name.sql migrations live,
	// relative to the configuration file; "" means migrations/ (wrangler's
	// migrations_dir).
	MigrationsDir string `yaml:"migrationsDir" json:"migrationsDir,omitempty" jsonschema:"description=Folder of NNNN_name.sql migrations relative to this file; default migrations (wrangler's migrations_dir)"`
}

// DurableObject binds a Durable Object class.
type DurableObject struct {
	Binding    string `yaml:"binding" json:"binding"`
	ClassName  string `yaml:"className" json:"className"`
	ScriptName string `yaml:"scriptName" json:"scriptName,omitempty"`
}

// Route attaches the Worker to a URL pattern in a zone.
type Route struct {
	Pattern      string `yaml:"pattern" json:"pattern"`
	CustomDomain bool   `yaml:"customDomain" json:"customDomain,omitempty"`
}

// DNSRecord is a record edgeconf keeps in the zone.
type DNSRecord struct {
	Type    string `yaml:"type" json:"type" jsonschema:"enum=A,enum=AAAA,enum=CNAME,enum=TXT,enum=MX,enum=CAA,enum=NS,enum=SRV"`
	Name    string `yaml:"name" json:"name"`
	Content string `yaml:"content" json:"content"`
	Proxied bool   `yaml:"proxied" json:"proxied,omitempty"`
	TTL     int    `yaml:"ttl" json:"ttl,omitempty" jsonschema:"description=1 means automatic; otherwise 60..86400"`
}

// ProxyConfig is the outbound HTTP(S) proxy used by edgeconf's clients.
type ProxyConfig struct {
	URL     string   `yaml:"url" json:"url,omitempty" jsonschema:"description=http:// or https:// proxy URL; a password in it is never printed"`
	NoProxy []string `yaml:"noProxy" json:"noProxy,omitempty"`
}
