package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// Name rules. They are character classes checked by hand rather than
// regexps: compiling regexps at package init was most of this package's
// start-up cost (issue 12), and the checks run on every validate.
var (
	hex32       = namePattern{first: isLowerHex, rest: isLowerHex, min: 32, max: 32}
	workerNames = namePattern{first: isDNSEnd, rest: isDNSInner, last: isDNSEnd, min: 1, max: 63}
	bucketNames = namePattern{first: isDNSEnd, rest: isDNSInner, last: isDNSEnd, min: 3, max: 63}
	envNames    = namePattern{first: isDNSEnd, rest: isEnvInner, min: 1, max: 63}
	d1Names     = namePattern{first: isAlnum, rest: isD1Inner, min: 1, max: 64}
)

// namePattern is a name of min to max bytes whose first, inner and last
// bytes belong to character classes (last nil: the same as rest).
type namePattern struct {
	first, rest, last func(byte) bool
	min, max          int
}

// MatchString reports whether s has an allowed length and characters.
func (p namePattern) MatchString(s string) bool {
	if len(s) < p.min || len(s) > p.max {
		return false
	}
	for i := 0; i < len(s); i++ {
		class := p.rest
		switch {
		case i == 0:
			class = p.first
		case i == len(s)-1 && p.last != nil:
			class = p.last
		}
		if !class(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
func isDNSEnd(c byte) bool   { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
func isDNSInner(c byte) bool { return isDNSEnd(c) || c == '-' }
func isEnvInner(c byte) bool { return isDNSEnd(c) || c == '-' || c == '_' }
func isAlnum(c byte) bool    { return isLetter(rune(c)) || c >= '0' && c <= '9' }
func isD1Inner(c byte) bool  { return isAlnum(c) || c == '-' || c == '_' }

// isUUID reports whether s is a lower-case UUID, as D1 database IDs are:
// 8-4-4-4-12 hex digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// Workers limits on plain-text variables (the paid plan's; free allows 64).
const (
	maxVars      = 128
	maxVarBytes  = 5 * 1024
	freePlanVars = 64
)

func (v *validator) checkCloudflare() {
	cf := v.cfg.Cloudflare
	target := "local state only (no accountId)"
	if cf.AccountID != "" {
		target = "account " + cf.AccountID
	}
	v.addSection("cloudflare", target, "cloudflare")
	switch {
	case cf.AccountID == "":
		v.warn("account-id-missing", "cloudflare.accountId", "empty: fine locally, but --remote and deploy need it (set CLOUDFLARE_ACCOUNT_ID)")
	case !hex32.MatchString(cf.AccountID):
		v.invalid("account-id", "cloudflare.accountId", "%q is not 32 lowercase hex digits", cf.AccountID)
	}
	switch {
	case cf.ZoneID == "" && (len(cf.Routes) > 0 || len(cf.DNS) > 0):
		v.warn("zone-id-missing", "cloudflare.zoneId", "empty: routes and DNS records need it to deploy (set CLOUDFLARE_ZONE_ID)")
	case cf.ZoneID != "" && !hex32.MatchString(cf.ZoneID):
		v.invalid("zone-id", "cloudflare.zoneId", "%q is not 32 lowercase hex digits", cf.ZoneID)
	}
	v.checkSettings(cf.CloudflareSettings, "cloudflare", false)
	for _, name := range sortedKeys(cf.Environments) {
		path := "cloudflare.environments." + name
		v.addSection(path, "overrides "+strings.Join(setKeys(cf.Environments[name]), ", "), "environment")
		if !envNames.MatchString(name) {
			v.invalid("env-name", path, "environment name %q must be lowercase letters, digits, _ or - (at most 63)", name)
		}
		env := cf.Environments[name]
		if env.AccountID != "" && !hex32.MatchString(env.AccountID) {
			v.invalid("account-id", path+".accountId", "%q is not 32 lowercase hex digits", env.AccountID)
		}
		if env.ZoneID != "" && !hex32.MatchString(env.ZoneID) {
			v.invalid("zone-id", path+".zoneId", "%q is not 32 lowercase hex digits", env.ZoneID)
		}
		if name != v.doc.Env {
			// The selected environment's values are checked where they
			// were merged, under cloudflare.*; checking them here too
			// would report each problem twice.
			v.checkSettings(env, path, true)
		}
	}
}

// setKeys names the keys an environment overrides, for its summary.
func setKeys(s CloudflareSettings) []string {
	var keys []string
	add := func(set bool, k string) {
		if set {
			keys = append(keys, k)
		}
	}
	add(s.AccountID != "", "accountId")
	add(s.ZoneID != "", "zoneId")
	add(s.Worker.Name != "" || s.Worker.Main != "" || s.Worker.CompatibilityDate != "" || len(s.Worker.CompatibilityFlags) > 0, "worker")
	add(len(s.KVNamespaces) > 0, "kvNamespaces")
	add(len(s.R2Buckets) > 0, "r2Buckets")
	add(len(s.D1Databases) > 0, "d1Databases")
	add(len(s.DurableObjects) > 0, "durableObjects")
	add(len(s.Vars) > 0, "vars")
	add(len(s.Secrets) > 0, "secrets")
	add(len(s.Routes) > 0, "routes")
	add(len(s.DNS) > 0, "dns")
	if len(keys) == 0 {
		return []string{"nothing"}
	}
	return keys
}

// checkSettings validates the cloudflare settings at prefix. partial is
// set for an environment section, where every key is optional.
func (v *validator) checkSettings(s CloudflareSettings, prefix string, partial bool) {
	section := func(path, summary string, tags ...string) {
		if !partial {
			v.addSection(path, summary, tags...)
		}
	}
	v.checkWorker(s.Worker, prefix+".worker", partial, section)

	bindings := map[string]string{} // name -> path of its first declaration
	bind := func(name, path string) {
		if name == "" {
			return
		}
		if first, dup := bindings[name]; dup {
			v.invalid("binding-duplicate", path+".binding", "binding %q is already declared at %s", name, first)
			return
		}
		bindings[name] = path
		if !IsIdentifier(name) {
			v.invalid("binding-name", path+".binding", "%q is not a valid binding name (a JavaScript identifier such as CONFIG)", name)
		}
	}
	required := func(path, key, val, why string) {
		if val == "" {
			v.invalid("required", path+"."+key, "%s is required: %s", key, why)
		}
	}

	for i, ns := range s.KVNamespaces {
		path := fmt.Sprintf("%s.kvNamespaces[%d]", prefix, i)
		section(path, fmt.Sprintf("%s → %s%s", ns.Binding, orDash(ns.Title), idNote(ns.ID)), "binding", "kv")
		required(path, "binding", ns.Binding, "the name the Worker uses, e.g. CONFIG")
		bind(ns.Binding, path)
		if ns.ID == "" && ns.Title == "" {
			v.invalid("kv-title", path+".title", "give a title (to provision the namespace) or an id")
		}
		if ns.ID != "" && !hex32.MatchString(ns.ID) {
			v.invalid("kv-id", path+".id", "%q is not a KV namespace id (32 lowercase hex digits)", ns.ID)
		}
	}
	for i, b := range s.R2Buckets {
		path := fmt.Sprintf("%s.r2Buckets[%d]", prefix, i)
		section(path, fmt.Sprintf("%s → %s", b.Binding, orDash(b.Bucket)), "binding", "r2")
		required(path, "binding", b.Binding, "the name the Worker uses, e.g. FILES")
		bind(b.Binding, path)
		required(path, "bucket", b.Bucket, "the R2 bucket name")
		if b.Bucket != "" && !bucketNames.MatchString(b.Bucket) {
			v.invalid("r2-bucket-name", path+".bucket", "%q is not a valid R2 bucket name (3-63 lowercase letters, digits and dashes, starting and ending with a letter or digit)", b.Bucket)
		}
		if b.RequesterPays {
			v.warn("r2-requester-pays", path+".requesterPays", "Cloudflare R2 does not implement Requester Pays; the x-amz-request-payer header only matters on other S3-compatible stores")
		}
	}
	for i, db := range s.D1Databases {
		path := fmt.Sprintf("%s.d1Databases[%d]", prefix, i)
		section(path, fmt.Sprintf("%s → %s%s", db.Binding, orDash(db.Name), idNote(db.ID)), "binding", "d1")
		required(path, "binding", db.Binding, "the name the Worker uses, e.g. DB")
		bind(db.Binding, path)
		required(path, "name", db.Name, "the D1 database name")
		if db.Name != "" && !d1Names.MatchString(db.Name) {
			v.invalid("d1-name", path+".name", "%q is not a valid D1 database name (letters, digits, _ and -, at most 64)", db.Name)
		}
		if db.ID != "" && !isUUID(db.ID) {
			v.invalid("d1-id", path+".id", "%q is not a D1 database id (a lowercase UUID)", db.ID)
		}
	}
	for i, do := range s.DurableObjects {
		path := fmt.Sprintf("%s.durableObjects[%d]", prefix, i)
		section(path, fmt.Sprintf("%s → class %s", do.Binding, orDash(do.ClassName)), "binding", "do")
		required(path, "binding", do.Binding, "the name the Worker uses, e.g. SESSIONS")
		bind(do.Binding, path)
		required(path, "className", do.ClassName, "the exported class that implements the Durable Object")
		if do.ClassName != "" && !IsIdentifier(do.ClassName) {
			v.invalid("do-class", path+".className", "%q is not a JavaScript class name", do.ClassName)
		}
		if do.ScriptName != "" && !workerNames.MatchString(do.ScriptName) {
			v.invalid("worker-name", path+".scriptName", "%q is not a valid Worker name", do.ScriptName)
		}
	}

	secrets := map[string]int{}
	for i, name := range s.Secrets {
		path := fmt.Sprintf("%s.secrets[%d]", prefix, i)
		if !IsIdentifier(name) {
			v.invalid("secret-name", path, "%q is not a valid secret name (a JavaScript identifier)", name)
		}
		if first, dup := secrets[name]; dup {
			v.invalid("secret-duplicate", path, "%q is already secrets[%d]", name, first)
			continue
		}
		secrets[name] = i
		if first, clash := bindings[name]; clash {
			v.invalid("binding-duplicate", path, "%q is also the binding at %s", name, first)
		}
	}

	section(prefix+".vars", plural(len(s.Vars), "plain-text variable"), "worker", "vars")
	section(prefix+".secrets", secretsSummary(s.Secrets), "security", "worker")
	if len(s.Vars) > maxVars {
		v.invalid("vars-count", prefix+".vars", "%d variables, above the Workers limit of %d", len(s.Vars), maxVars)
	} else if len(s.Vars) > freePlanVars {
		v.warn("vars-count", prefix+".vars", "%d variables, above the Workers Free plan limit of %d", len(s.Vars), freePlanVars)
	}
	for _, name := range sortedKeys(s.Vars) {
		path := prefix + ".vars." + name
		if !IsIdentifier(name) {
			v.invalid("var-name", path, "%q is not a valid variable name (a JavaScript identifier)", name)
		}
		if _, both := secrets[name]; both {
			v.invalid("var-is-secret", path, "%s is declared under both vars and secrets; keep it under secrets only", name)
		} else if looksSecret(name) {
			// Never echo the value: it may be the secret itself.
			v.invalid("var-looks-secret", path, "%s looks like a secret; declare it under secrets and set it with `wrangler secret put %s`", name, name)
		}
		if first, clash := bindings[name]; clash {
			v.invalid("binding-duplicate", path, "%q is also the binding at %s", name, first)
		}
		if n := len(s.Vars[name]); n > maxVarBytes {
			v.invalid("var-size", path, "the value is %d bytes, above the Workers limit of %d", n, maxVarBytes)
		}
	}

	for i, r := range s.Routes {
		path := fmt.Sprintf("%s.routes[%d]", prefix, i)
		section(path, routeSummary(r), "routing")
		v.checkRoute(r, path)
	}
	cnames := map[string]int{}
	for i, rec := range s.DNS {
		path := fmt.Sprintf("%s.dns[%d]", prefix, i)
		section(path, fmt.Sprintf("%s %s → %s", rec.Type, orDash(rec.Name), orDash(rec.Content)), "dns")
		v.checkDNSRecord(rec, path)
		if rec.Type != "CNAME" {
			continue
		}
		if first, dup := cnames[rec.Name]; dup {
			v.invalid("dns-cname-conflict", path+".name", "%s already has a CNAME at dns[%d]; a name holds at most one CNAME", rec.Name, first)
			continue
		}
		cnames[rec.Name] = i
	}
	for name, i := range cnames {
		for j, rec := range s.DNS {
			if rec.Name == name && rec.Type != "CNAME" {
				v.invalid("dns-cname-conflict", fmt.Sprintf("%s.dns[%d].name", prefix, j), "%s also has a CNAME at dns[%d]; a CNAME cannot share its name with other records", name, i)
			}
		}
	}
}

func (v *validator) checkWorker(w WorkerConfig, path string, partial bool, section func(string, string, ...string)) {
	section(path, fmt.Sprintf("%s (%s, compatibility date %s)", orDash(w.Name), orDash(w.Main), orDash(w.CompatibilityDate)), "worker")
	switch {
	case w.Name == "" && !partial:
		v.invalid("required", path+".name", "name is required: the Worker script name, e.g. quantum-dashboard")
	case w.Name != "" && !workerNames.MatchString(w.Name):
		v.invalid("worker-name", path+".name", "%q must be 1-63 lowercase letters, digits and dashes, not starting or ending with a dash", w.Name)
	}
	if w.Main == "" && !partial {
		v.invalid("required", path+".main", "main is required: the entry module, e.g. worker/index.js")
	} else if w.Main != "" && !hasAnySuffix(w.Main, ".js", ".mjs", ".cjs", ".ts", ".mts") {
		v.warn("worker-main", path+".main", "%q is not a .js, .mjs, .cjs, .ts or .mts module", w.Main)
	}
	switch {
	case w.CompatibilityDate == "" && !partial:
		v.warn("compat-date-missing", path+".compatibilityDate", "not set: the Workers runtime then uses its oldest behaviour; pin a date such as %s", v.opts.Now.UTC().Format("2006-01-02"))
	case w.CompatibilityDate != "":
		d, err := time.Parse("2006-01-02", w.CompatibilityDate)
		switch {
		case err != nil:
			v.invalid("compat-date", path+".compatibilityDate", "%q is not a real date in YYYY-MM-DD form", w.CompatibilityDate)
		case d.After(v.opts.Now.UTC()):
			v.invalid("compat-date-future", path+".compatibilityDate", "%s is in the future (today is %s); the runtime refuses future dates", w.CompatibilityDate, v.opts.Now.UTC().Format("2006-01-02"))
		}
	}
	seen := map[string]bool{}
	for i, f := range w.CompatibilityFlags {
		fpath := fmt.Sprintf("%s.compatibilityFlags[%d]", path, i)
		if strings.TrimSpace(f) == "" {
			v.invalid("compat-flag", fpath, "a compatibility flag must not be empty")
		} else if seen[f] {
			v.invalid("compat-flag", fpath, "%q is listed twice", f)
		}
		seen[f] = true
	}
}

func (v *validator) checkRoute(r Route, path string) {
	p := r.Pattern
	if p == "" {
		v.invalid("required", path+".pattern", "pattern is required, e.g. dashboard.example.com/*")
		return
	}
	if strings.Contains(p, "://") {
		v.invalid("route-scheme", path+".pattern", "%q: leave out the scheme; routes match both http and https", p)
		return
	}
	host, rest, _ := strings.Cut(p, "/")
	bare := strings.TrimPrefix(host, "*.")
	if h, _, err := net.SplitHostPort(bare); err == nil {
		bare = h
	}
	if msg := hostnameProblem(bare, false); msg != "" && bare != "*" {
		v.invalid("route-host", path+".pattern", "%q: host %q is not valid: %s", p, host, msg)
		return
	}
	if r.CustomDomain && (rest != "" || strings.Contains(host, "*")) {
		v.invalid("route-custom-domain", path+".pattern", "%q: a custom domain is a bare hostname, without paths or wildcards", p)
	}
	if d := v.cfg.Domain; d != "" && bare != d && !strings.HasSuffix(bare, "."+d) {
		v.warn("route-zone", path+".pattern", "%q is not under domain %s; it needs a zone of its own", p, d)
	}
}

var dnsTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "CAA", "NS", "SRV"}

func (v *validator) checkDNSRecord(r DNSRecord, path string) {
	if !contains(dnsTypes, r.Type) {
		v.invalid("dns-type", path+".type", "%q is not one of %s", r.Type, strings.Join(dnsTypes, ", "))
	}
	if r.Name == "" {
		v.invalid("required", path+".name", "name is required (@ for the apex, or a label such as dashboard)")
	} else if r.Name != "@" {
		if msg := nameProblem(strings.TrimPrefix(r.Name, "*."), false, true); msg != "" {
			v.invalid("dns-name", path+".name", "%q: %s", r.Name, msg)
		}
	}
	switch {
	case r.Content == "":
		v.invalid("required", path+".content", "content is required")
	case r.Type == "A":
		if ip := net.ParseIP(r.Content); ip == nil || ip.To4() == nil {
			v.invalid("dns-content", path+".content", "%q is not an IPv4 address", r.Content)
		}
	case r.Type == "AAAA":
		if ip := net.ParseIP(r.Content); ip == nil || ip.To4() != nil {
			v.invalid("dns-content", path+".content", "%q is not an IPv6 address", r.Content)
		}
	case r.Type == "CNAME" || r.Type == "NS":
		if msg := hostnameProblem(strings.TrimSuffix(r.Content, "."), true); msg != "" {
			v.invalid("dns-content", path+".content", "%q is not a hostname: %s", r.Content, msg)
		}
	}
	if r.Proxied && r.Type != "A" && r.Type != "AAAA" && r.Type != "CNAME" {
		v.invalid("dns-proxied", path+".proxied", "only A, AAAA and CNAME records can be proxied, not %s", r.Type)
	}
	switch {
	case r.TTL == 0 || r.TTL == 1:
	case r.TTL < 60 || r.TTL > 86400:
		v.invalid("dns-ttl", path+".ttl", "%d is outside 60..86400 (or 1 for automatic)", r.TTL)
	case r.Proxied:
		v.warn("dns-ttl", path+".ttl", "proxied records always use automatic TTL; %d is ignored", r.TTL)
	}
}

// isSecretWord reports whether a name part marks a credential.
func isSecretWord(part string) bool {
	switch part {
	case "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS":
		return true
	}
	return false
}

// looksSecret reports whether a variable name suggests a credential: its
// last part is a credential word (API_TOKEN, STRIPE_KEY, DB_PASSWORD), or
// any part is SECRET or PASSWORD (CLIENT_SECRET_V2). CACHE_KEY_PREFIX and
// TOKEN_TTL_SECONDS are not secrets.
func looksSecret(name string) bool {
	parts := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool { return r == '_' || r == '-' })
	if len(parts) == 0 {
		return false
	}
	if isSecretWord(parts[len(parts)-1]) {
		return true
	}
	for _, p := range parts {
		if p == "SECRET" || p == "PASSWORD" {
			return true
		}
	}
	return false
}

func secretsSummary(s []string) string {
	if len(s) == 0 {
		return "no secrets declared"
	}
	return fmt.Sprintf("%d declared (names only): %s", len(s), strings.Join(s, ", "))
}

func routeSummary(r Route) string {
	if r.CustomDomain {
		return r.Pattern + " (custom domain)"
	}
	return r.Pattern
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func idNote(id string) string {
	if id == "" {
		return " (no id in the file: deploy finds or creates it by name)"
	}
	return " (" + id + ")"
}

func hasAnySuffix(s string, suffixes ...string) bool {
	for _, x := range suffixes {
		if strings.HasSuffix(s, x) {
			return true
		}
	}
	return false
}

// plural renders "1 thing" or "n things".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
