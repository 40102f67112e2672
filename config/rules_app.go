package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// expiryWarning is how close to expiry a certificate draws a Warning.
const expiryWarning = 30 * 24 * time.Hour

func (v *validator) checkOwner() {
	v.addSection("owner", v.cfg.Owner, "metadata")
	if strings.TrimSpace(v.cfg.Owner) == "" {
		v.warn("owner-missing", "owner", "no owner: name the team or person to ask about this configuration")
	}
}

func (v *validator) checkDomain() {
	v.addSection("domain", v.cfg.Domain, "dns")
	if v.cfg.Domain == "" {
		v.invalid("domain-missing", "domain", "domain is required (the apex the app is served from, e.g. example.com)")
		return
	}
	if msg := hostnameProblem(v.cfg.Domain, true); msg != "" {
		v.invalid("domain-hostname", "domain", "%q is not a valid hostname: %s", v.cfg.Domain, msg)
	}
}

// hostnameProblem explains why s is not a DNS hostname, or returns "".
// With needDot the name must have at least two labels.
func hostnameProblem(s string, needDot bool) string {
	return nameProblem(s, needDot, false)
}

// nameProblem is hostnameProblem; with underscores it also accepts the
// "_" that DNS record names such as _dmarc and _sip._tcp use.
func nameProblem(s string, needDot, underscores bool) string {
	if net.ParseIP(s) != nil {
		return "an IP address, not a hostname"
	}
	if len(s) > 253 {
		return fmt.Sprintf("%d characters, above the 253 limit", len(s))
	}
	if s != strings.ToLower(s) {
		return "use lowercase letters"
	}
	labels := strings.Split(s, ".")
	if needDot && len(labels) < 2 {
		return "needs at least two labels, like example.com"
	}
	for _, l := range labels {
		switch {
		case l == "":
			return "has an empty label (two dots, or a dot at an end)"
		case len(l) > 63:
			return fmt.Sprintf("label %q is %d characters, above the 63 limit", l, len(l))
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Sprintf("label %q starts or ends with a dash", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || underscores && r == '_') {
				return fmt.Sprintf("label %q has %q; use letters, digits and dashes (punycode for IDNs)", l, r)
			}
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "the top-level label is all digits"
	}
	return ""
}

func (v *validator) checkSSL() {
	ssl := v.cfg.SSL
	s := v.addSection("ssl", "", "security", "tls")
	switch {
	case !ssl.Enabled:
		s.summary = "disabled"
		return
	case ssl.AutoManaged:
		s.summary = "enabled, certificate managed by Cloudflare"
		if ssl.CertPath != "" || ssl.KeyPath != "" {
			v.warn("ssl-paths-ignored", "ssl", "certPath and keyPath are ignored while autoManaged is true")
		}
		return
	}
	s.summary = "enabled, certificate " + ssl.CertPath
	if ssl.CertPath == "" {
		v.invalid("ssl-cert-missing", "ssl.certPath", "required when ssl.enabled is true and autoManaged is false")
	}
	if ssl.KeyPath == "" {
		v.invalid("ssl-key-missing", "ssl.keyPath", "required when ssl.enabled is true and autoManaged is false")
	}
	if ssl.CertPath == "" || ssl.KeyPath == "" {
		return
	}
	certPEM, certErr := v.opts.ReadFile(v.resolve(ssl.CertPath))
	if certErr != nil {
		v.invalid("ssl-cert-unreadable", "ssl.certPath", "cannot read %s: %v", ssl.CertPath, unwrapPathErr(certErr))
	}
	keyPEM, keyErr := v.opts.ReadFile(v.resolve(ssl.KeyPath))
	if keyErr != nil {
		v.invalid("ssl-key-unreadable", "ssl.keyPath", "cannot read %s: %v", ssl.KeyPath, unwrapPathErr(keyErr))
	}
	if certErr != nil || keyErr != nil {
		return
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		v.invalid("ssl-cert-pem", "ssl.certPath", "%s holds no PEM CERTIFICATE block", ssl.CertPath)
		return
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		v.invalid("ssl-cert-pem", "ssl.certPath", "%s: %v", ssl.CertPath, err)
		return
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		// The message names no key material, only what does not match.
		v.invalid("ssl-key-mismatch", "ssl.keyPath", "%s does not match %s: %v", ssl.KeyPath, ssl.CertPath, err)
	}
	now := v.opts.Now
	left := leaf.NotAfter.Sub(now)
	s.summary = fmt.Sprintf("enabled, certificate %q expires %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"))
	switch {
	case left <= 0:
		v.invalid("ssl-cert-expired", "ssl.certPath", "certificate %q expired on %s", leaf.Subject.CommonName, leaf.NotAfter.UTC().Format("2006-01-02"))
	case left < expiryWarning:
		v.warn("ssl-cert-expiring", "ssl.certPath", "certificate %q expires in %d days (%s); renew it",
			leaf.Subject.CommonName, int(left.Hours()/24), leaf.NotAfter.UTC().Format("2006-01-02"))
	}
	if leaf.NotBefore.After(now) {
		v.warn("ssl-cert-not-yet-valid", "ssl.certPath", "certificate %q is not valid before %s", leaf.Subject.CommonName, leaf.NotBefore.UTC().Format("2006-01-02"))
	}
}

func (v *validator) resolve(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.doc.Dir(), p)
}

// unwrapPathErr drops the path an *fs.PathError repeats.
func unwrapPathErr(err error) error {
	type unwrapper interface{ Unwrap() error }
	if u, ok := err.(unwrapper); ok && u.Unwrap() != nil {
		return u.Unwrap()
	}
	return err
}

func (v *validator) checkPorts() {
	p := v.cfg.Ports
	v.addSection("ports", fmt.Sprintf("main %d, compliance %d, dashboard %d", p.Main, p.Compliance, p.Dashboard), "network")
	ports := []struct {
		name string
		val  int
	}{{"main", p.Main}, {"compliance", p.Compliance}, {"dashboard", p.Dashboard}}
	seen := map[int]string{}
	for _, e := range ports {
		path := "ports." + e.name
		if v.broken(path) {
			continue // its default stands in; comparing it would mislead
		}
		if e.val < 1 || e.val > 65535 {
			v.invalid("port-range", path, "%d is outside 1..65535", e.val)
			continue
		}
		if first, dup := seen[e.val]; dup {
			v.invalid("port-distinct", path, "%d is already ports.%s; each server needs its own port", e.val, first)
			continue
		}
		seen[e.val] = e.name
		if e.val < 1024 {
			v.warn("port-privileged", path, "%d is below 1024 and needs root or CAP_NET_BIND_SERVICE to listen", e.val)
		}
	}
}

func (v *validator) checkFeatures() {
	if len(v.cfg.Features) == 0 {
		v.addSection("features", "no feature flags", "feature-flag")
		return
	}
	for _, name := range sortedKeys(v.cfg.Features) {
		f := v.cfg.Features[name]
		path := "features." + name
		v.addSection(path, flagSummary(f), "feature-flag")
		if !validFlagName(name) {
			v.invalid("flag-name", path, "flag name %q must start with a letter and use letters, digits, _ or - (at most 64)", name)
		}
		pct := f.RolloutPercentage
		switch {
		case pct < 0 || pct > 100:
			v.invalid("rollout-range", path+".rolloutPercentage", "%s is outside 0..100", fmtNum(pct))
		case math.Abs(pct*100-math.Round(pct*100)) > 1e-9:
			v.invalid("rollout-precision", path+".rolloutPercentage", "%s has more than 2 decimals; the finest step is 0.01", fmtNum(pct))
		case !f.Enabled && pct > 0:
			v.warn("rollout-disabled", path+".rolloutPercentage", "the flag is disabled, so the %s%% rollout has no effect", fmtNum(pct))
		}
		seen := map[string]int{}
		for i, u := range f.AllowedUsers {
			upath := fmt.Sprintf("%s.allowedUsers[%d]", path, i)
			if strings.TrimSpace(u) == "" {
				v.invalid("allowed-user-empty", upath, "an allowed user must not be empty")
				continue
			}
			if first, dup := seen[u]; dup {
				v.invalid("allowed-user-duplicate", upath, "%q is already allowedUsers[%d]", u, first)
				continue
			}
			seen[u] = i
		}
	}
}

func flagSummary(f FeatureFlag) string {
	state := "disabled"
	if f.Enabled {
		state = "enabled"
	}
	s := fmt.Sprintf("%s, %s%% rollout", state, fmtNum(f.RolloutPercentage))
	switch n := len(f.AllowedUsers); n {
	case 0:
	case 1:
		s += ", 1 allowed user"
	default:
		s += fmt.Sprintf(", %d allowed users", n)
	}
	return s
}

func validFlagName(s string) bool {
	if s == "" || len(s) > 64 || !isLetter(rune(s[0])) {
		return false
	}
	for _, r := range s {
		if !isLetter(r) && !(r >= '0' && r <= '9') && r != '_' && r != '-' {
			return false
		}
	}
	return true
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Metric describes an alert metric edgeconf's monitor knows.
type Metric struct {
	Name string
	Unit string // "ms", "ratio" (0..1), "count" or "s"
	Help string
}

// KnownMetrics lists the metric names an alert may use, in guide order.
var KnownMetrics = []Metric{
	{"kv.latency_ms", "ms", "Workers KV read latency"},
	{"kv.error_rate", "ratio", "share of failed KV operations"},
	{"r2.latency_ms", "ms", "R2 request latency"},
	{"r2.error_rate", "ratio", "share of failed R2 operations"},
	{"d1.latency_ms", "ms", "D1 query latency"},
	{"d1.error_rate", "ratio", "share of failed D1 queries"},
	{"do.latency_ms", "ms", "Durable Object request latency"},
	{"do.error_rate", "ratio", "share of failed Durable Object requests"},
	{"worker.latency_ms", "ms", "Worker response time"},
	{"worker.cpu_ms", "ms", "Worker CPU time per request"},
	{"worker.error_rate", "ratio", "share of Worker responses that are 5xx"},
	{"ws.connections", "count", "open WebSocket connections"},
	{"config.age_s", "s", "seconds since the configuration was last refreshed"},
}

func knownMetric(name string) (Metric, bool) {
	for _, m := range KnownMetrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

func metricNames() []string {
	names := make([]string, len(KnownMetrics))
	for i, m := range KnownMetrics {
		names[i] = m.Name
	}
	return names
}

func (v *validator) checkMonitoring() {
	m := v.cfg.Monitoring
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	v.addSection("monitoring", fmt.Sprintf("analytics %s, error tracking %s, performance %s, %d alerts",
		onOff(m.Analytics), onOff(m.ErrorTracking), onOff(m.Performance), len(m.Alerts)), "monitoring")
	in := v.cfg.Dependencies.Integrations
	seen := map[string]int{}
	for i, a := range m.Alerts {
		path := fmt.Sprintf("monitoring.alerts[%d]", i)
		v.addSection(path, fmt.Sprintf("%s above %s, stored in %s", a.Metric, fmtNum(a.Threshold), a.Storage), "monitoring", "alert")
		metric, known := knownMetric(a.Metric)
		switch {
		case a.Metric == "":
			v.invalid("alert-metric", path+".metric", "metric is required; known metrics: %s", strings.Join(metricNames(), ", "))
		case !known:
			v.invalid("alert-metric", path+".metric", "unknown metric %q%s", a.Metric, suggest(a.Metric, metricNames(), "metrics"))
		default:
			if first, dup := seen[a.Metric]; dup {
				v.warn("alert-duplicate", path+".metric", "%s is already watched by monitoring.alerts[%d]", a.Metric, first)
			}
			seen[a.Metric] = i
		}
		switch {
		case a.Threshold <= 0:
			v.invalid("alert-threshold", path+".threshold", "%s must be above 0", fmtNum(a.Threshold))
		case known && metric.Unit == "ratio" && a.Threshold > 1:
			v.invalid("alert-threshold", path+".threshold", "%s is a ratio from 0 to 1 (0.05 means 5%%), not %s", a.Metric, fmtNum(a.Threshold))
		}
		switch a.Storage {
		case "KV":
			if !in.KV {
				v.invalid("alert-storage", path+".storage", "KV storage needs dependencies.integrations.kv: true")
			}
		case "R2":
			if !in.R2 {
				v.invalid("alert-storage", path+".storage", "R2 storage needs dependencies.integrations.r2: true")
			}
		case "DO":
			if !in.DO {
				v.invalid("alert-storage", path+".storage", "DO storage needs dependencies.integrations.do: true")
			}
			if len(v.cfg.Cloudflare.DurableObjects) == 0 {
				v.invalid("alert-storage", path+".storage", "DO storage needs a binding under cloudflare.durableObjects")
			}
		case "":
			v.invalid("alert-storage", path+".storage", "storage is required: KV, R2 or DO")
		default:
			v.invalid("alert-storage", path+".storage", "%q is not KV, R2 or DO (uppercase)", a.Storage)
		}
	}
}

func (v *validator) checkDependencies() {
	d := v.cfg.Dependencies
	t := d.Thresholds
	state := "disabled"
	if d.Enabled {
		state = "enabled"
	}
	var watch []string
	for _, w := range []struct {
		on   bool
		name string
	}{{d.Integrations.KV, "kv"}, {d.Integrations.R2, "r2"}, {d.Integrations.DO, "do"}} {
		if w.on {
			watch = append(watch, w.name)
		}
	}
	if len(watch) == 0 {
		watch = []string{"nothing"}
	}
	v.addSection("dependencies", fmt.Sprintf("%s, refresh %ds, warning %ds, critical %ds; watching %s",
		state, t.Refresh, t.Warning, t.Critical, strings.Join(watch, ", ")), "monitoring")
	const tp = "dependencies.thresholds."
	ok := true
	for _, e := range []struct {
		name string
		val  int
	}{{"refresh", t.Refresh}, {"warning", t.Warning}, {"critical", t.Critical}} {
		if e.val <= 0 {
			v.invalid("threshold-positive", tp+e.name, "%d must be above 0 seconds", e.val)
			ok = false
		}
	}
	if ok {
		if t.Refresh >= t.Warning {
			v.invalid("threshold-order", tp+"warning", "%d must be above refresh (%d): the order is refresh < warning < critical", t.Warning, t.Refresh)
		}
		if t.Warning >= t.Critical {
			v.invalid("threshold-order", tp+"critical", "%d must be above warning (%d): the order is refresh < warning < critical", t.Critical, t.Warning)
		}
		if t.Refresh < 60 {
			v.warn("threshold-refresh-kv", tp+"refresh", "%ds is shorter than KV's ~60 s propagation; refreshing faster only re-reads stale values", t.Refresh)
		}
	}
	cf := v.cfg.Cloudflare
	if d.Integrations.KV && len(cf.KVNamespaces) == 0 {
		v.warn("integration-binding", "dependencies.integrations.kv", "kv is watched but cloudflare.kvNamespaces binds no namespace")
	}
	if d.Integrations.R2 && len(cf.R2Buckets) == 0 {
		v.warn("integration-binding", "dependencies.integrations.r2", "r2 is watched but cloudflare.r2Buckets binds no bucket")
	}
	if d.Integrations.DO && len(cf.DurableObjects) == 0 {
		v.warn("integration-binding", "dependencies.integrations.do", "do is watched but cloudflare.durableObjects binds no class")
	}
}

// Validators lists the cross-reference validator names, in guide order.
var Validators = []string{"json", "json-string-list", "pem-certificate", "url", "non-empty", "number"}

func (v *validator) checkCrossReferences() {
	cf := v.cfg.Cloudflare
	kinds := map[string]map[string]bool{"KV": {}, "R2": {}, "D1": {}, "DO": {}}
	for _, b := range cf.KVNamespaces {
		kinds["KV"][b.Binding] = true
	}
	for _, b := range cf.R2Buckets {
		kinds["R2"][b.Binding] = true
	}
	for _, b := range cf.D1Databases {
		kinds["D1"][b.Binding] = true
	}
	for _, b := range cf.DurableObjects {
		kinds["DO"][b.Binding] = true
	}
	for i, ref := range v.cfg.CrossReferences {
		path := fmt.Sprintf("crossReferences[%d]", i)
		s := v.addSection(path, fmt.Sprintf("%s %s", ref.Source, ref.Path), "cross-api", strings.ToLower(ref.Source))
		s.crossRef = true
		if ref.Validator != "" {
			s.summary += ", checked as " + ref.Validator
		}
		bindings, knownSource := kinds[ref.Source]
		if !knownSource {
			v.invalid("ref-source", path+".source", "%q is not KV, R2, D1 or DO (uppercase)", ref.Source)
		}
		if ref.Validator != "" && !contains(Validators, ref.Validator) {
			v.invalid("ref-validator", path+".validator", "unknown validator %q%s", ref.Validator, suggest(ref.Validator, Validators, "validators"))
		}
		if ref.Path == "" {
			v.invalid("ref-path", path+".path", "path is required: BINDING/key, or BINDING?sql=... for D1")
			continue
		}
		if !knownSource {
			continue
		}
		binding, _, msg := splitRefPath(ref.Source, ref.Path)
		if msg != "" {
			v.invalid("ref-path", path+".path", "%s: %s", quoteShort(ref.Path), msg)
			continue
		}
		if !bindings[binding] {
			other := ""
			for k, m := range kinds {
				if k != ref.Source && m[binding] {
					other = fmt.Sprintf(" (%s is bound as %s)", binding, k)
				}
			}
			v.invalid("ref-binding", path+".path", "no %s binding named %q is declared under cloudflare%s", ref.Source, binding, other)
		}
	}
}

// splitRefPath splits "BINDING/key" (or "BINDING?sql=..." for D1) and
// explains what is wrong with a malformed path.
func splitRefPath(source, p string) (binding, rest, problem string) {
	if source == "D1" {
		b, q, ok := strings.Cut(p, "?")
		if !ok {
			return "", "", "a D1 path is BINDING?sql=SELECT..."
		}
		sql, problem := d1SQL(q)
		if problem != "" {
			return "", "", problem
		}
		if !IsIdentifier(b) {
			return "", "", fmt.Sprintf("%q is not a binding name", b)
		}
		return b, sql, ""
	}
	b, key, ok := strings.Cut(p, "/")
	if !ok || key == "" {
		return "", "", "expected BINDING/key"
	}
	if !IsIdentifier(b) {
		return "", "", fmt.Sprintf("%q is not a binding name", b)
	}
	switch source {
	case "KV":
		if len(key) > 512 {
			return "", "", fmt.Sprintf("the key is %d bytes, above KV's 512-byte limit", len(key))
		}
		if key == "." || key == ".." {
			return "", "", "KV keys cannot be . or .."
		}
	case "R2":
		if len(key) > 1024 {
			return "", "", fmt.Sprintf("the object key is %d bytes, above R2's 1024-byte limit", len(key))
		}
	}
	return b, key, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// IsIdentifier reports whether s is a JavaScript identifier usable as a
// binding name (IdentifierPattern).
func IsIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(isLetter(r) || r == '_' || r == '$' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (v *validator) checkProxy() {
	p := v.cfg.Proxy
	s := v.addSection("proxy", "direct connections (no proxy)", "network", "proxy")
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil:
			// url.Parse errors quote the input, which may hold a password.
			v.invalid("proxy-url", "proxy.url", "not a URL (%s)", redactURLError(err))
		case u.Scheme != "http" && u.Scheme != "https":
			v.invalid("proxy-url", "proxy.url", "%s: the scheme must be http or https, not %q", RedactURL(p.URL), u.Scheme)
		case u.Host == "":
			v.invalid("proxy-url", "proxy.url", "%s has no host", RedactURL(p.URL))
		case !validPort(u.Port()):
			v.invalid("proxy-url", "proxy.url", "%s: port %s is not in 1..65535", RedactURL(p.URL), u.Port())
		default:
			s.summary = "via " + RedactURL(p.URL)
		}
	}
	for i, np := range p.NoProxy {
		if strings.TrimSpace(np) == "" {
			v.invalid("no-proxy-entry", fmt.Sprintf("proxy.noProxy[%d]", i), "an entry must not be empty")
		}
	}
	if len(p.NoProxy) > 0 && p.URL != "" {
		s.summary += fmt.Sprintf(", except %s", strings.Join(p.NoProxy, ", "))
	}
}

// validPort reports whether p, the port of a URL, is empty or 1..65535.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// redactURLError keeps the reason of a url.Error and drops the URL it quotes.
func redactURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return "unparseable"
}

// quoteShort quotes s for a message, eliding the middle of long values.
func quoteShort(s string) string {
	const max = 60
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:max/2]) + fmt.Sprintf("...(%d bytes)", len(s))
}

// d1SQL extracts the sql= parameter of a D1 reference query. Unlike
// url.ParseQuery it accepts ";" inside the statement.
func d1SQL(q string) (string, string) {
	for _, part := range strings.Split(q, "&") {
		raw, ok := strings.CutPrefix(part, "sql=")
		if !ok {
			continue
		}
		sql, err := url.QueryUnescape(raw)
		if err != nil {
			return "", "the sql= value is not URL-encoded correctly (" + err.Error() + ")"
		}
		if strings.TrimSpace(sql) == "" {
			break
		}
		return sql, ""
	}
	return "", "a D1 path needs a non-empty sql= query, like DB?sql=SELECT+1"
}
