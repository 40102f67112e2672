package config

import "sync"

// DefaultConfig returns the values used for every key the file leaves out.
// The guide lists them; `edgeconf get --explain` names them as the
// "default" layer.
func DefaultConfig() Config {
	return Config{
		SSL:   SSLConfig{Enabled: false, AutoManaged: true},
		Ports: PortConfig{Main: 8091, Compliance: 3001, Dashboard: 3000},
		Monitoring: MonitoringConfig{
			Analytics:   true,
			Performance: true,
		},
		Dependencies: DependencyConfig{
			Enabled:      true,
			Thresholds:   DependencyThresholds{Refresh: 60, Warning: 300, Critical: 900},
			Integrations: Integrations{KV: true, R2: true},
		},
		Cloudflare: CloudflareConfig{CloudflareSettings: CloudflareSettings{
			Worker: WorkerConfig{Main: "worker/index.js"},
		}},
		Proxy: ProxyConfig{NoProxy: []string{"localhost", "127.0.0.1"}},
	}
}

var defaultLeaves = sync.OnceValue(func() map[string]Value {
	d := &Document{Config: DefaultConfig()}
	m := map[string]Value{}
	for _, l := range d.Leaves("") {
		if !l.Value.zero() {
			m[l.Path] = l.Value
		}
	}
	return m
})
