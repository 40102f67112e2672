package cfemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// The endpoints below are those wrangler calls beyond the resource APIs:
// who the token belongs to, the "service" view of a Worker, its
// workers.dev subdomain, its triggers (routes, custom domains, cron
// schedules) set as a whole, and its settings.

// Bounds of the trigger endpoints.
const (
	maxScriptRoutes  = 1000 // routes in one PUT …/scripts/{n}/routes
	maxScriptDomains = 100  // origins in one PUT …/scripts/{n}/domains/records
	maxSchedules     = 5    // cron triggers per Worker (Workers Free plan limit; Paid allows more)
	maxCronLength    = 100
)

type schedule struct {
	Cron       string    `json:"cron"`
	CreatedOn  time.Time `json:"created_on"`
	ModifiedOn time.Time `json:"modified_on"`
}

func (e *Emulator) wranglerRoutes(rt *router) {
	rt.handle("GET", "user", e.getUser)
	rt.handle("GET", "accounts", e.listAccounts)
	rt.handle("GET", "memberships", e.listMemberships)

	const a = "accounts/{account_id}/workers"
	rt.handle("GET", a+"/services/{script}", e.getService)
	rt.handle("DELETE", a+"/services/{script}", e.deleteService)
	rt.handle("GET", a+"/subdomain", e.getAccountSubdomain)
	rt.handle("PUT", a+"/subdomain", e.putAccountSubdomain)
	rt.handle("GET", a+"/scripts/{script}/subdomain", e.getScriptSubdomain)
	rt.handle("POST", a+"/scripts/{script}/subdomain", e.postScriptSubdomain)
	rt.handle("DELETE", a+"/scripts/{script}/subdomain", e.deleteScriptSubdomain)
	rt.handle("GET", a+"/scripts/{script}/schedules", e.getSchedules)
	rt.handle("PUT", a+"/scripts/{script}/schedules", e.putSchedules)
	rt.handle("GET", a+"/scripts/{script}/routes", e.getScriptRoutes)
	rt.handle("PUT", a+"/scripts/{script}/routes", e.putScriptRoutes)
	rt.handle("PUT", a+"/scripts/{script}/domains/records", e.putScriptDomains)
	rt.handle("POST", a+"/scripts/{script}/domains/changeset", e.domainsChangeset)
	rt.handle("GET", a+"/domains/records/{domain_id}", e.getDomain)
	rt.handle("GET", a+"/scripts/{script}/settings", e.getSettings)
	rt.handle("PATCH", a+"/scripts/{script}/settings", e.patchSettings)
	rt.handle("GET", a+"/scripts/{script}/script-settings", e.getScriptSettings)
	rt.handle("PATCH", a+"/scripts/{script}/script-settings", e.patchScriptSettings)
}

// tokenID is the stable id the emulator gives the caller's token.
func tokenID(token string) string {
	sum := sha256.Sum256([]byte("cfemu user\x00" + token))
	return hex.EncodeToString(sum[:16])
}

func (e *Emulator) getUser(c *call) error {
	return c.ok(map[string]any{
		"id": tokenID(c.token), "email": authorEmail, "username": "cfemu", "first_name": "Emulated", "last_name": "User",
		"telephone": nil, "country": nil, "zipcode": nil, "two_factor_authentication_enabled": false,
		"suspended": false, "created_on": stamp(time.Unix(0, 0)), "modified_on": stamp(time.Unix(0, 0)),
	})
}

// accountIDs are the accounts the emulator knows: DefaultAccountID and any
// that holds state.
func (e *Emulator) accountIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := []string{DefaultAccountID}
	for id := range e.st.Accounts {
		if id != DefaultAccountID {
			ids = append(ids, id)
		}
	}
	for _, z := range e.st.Zones {
		if !slices.Contains(ids, z.Account.ID) {
			ids = append(ids, z.Account.ID)
		}
	}
	sort.Strings(ids[1:])
	return ids
}

func accountJSON(id string) map[string]any {
	return map[string]any{"id": id, "name": "Emulated account " + id[:8], "type": "standard",
		"settings": map[string]any{"enforce_twofactor": false}, "created_on": stamp(time.Unix(0, 0))}
}

func (e *Emulator) listAccounts(c *call) error {
	var out []map[string]any
	for _, id := range e.accountIDs() {
		out = append(out, accountJSON(id))
	}
	page, info, aerr := paginate(c, out, 20, 50)
	if aerr != nil {
		return aerr
	}
	return c.okInfo(page, info)
}

func (e *Emulator) listMemberships(c *call) error {
	var out []map[string]any
	for _, id := range e.accountIDs() {
		out = append(out, map[string]any{
			"id": tokenID(c.token + id), "status": "accepted", "account": accountJSON(id),
			"roles": []string{"Super Administrator - All Privileges"}, "permissions": map[string]any{},
		})
	}
	page, info, aerr := paginate(c, out, 20, 50)
	if aerr != nil {
		return aerr
	}
	return c.okInfo(page, info)
}

// serviceNotFound is Cloudflare's answer for a Worker the account does not
// have on the services API.
func serviceNotFound() *apiErr {
	return fail(http.StatusNotFound, codeServiceNotFound, "This Worker does not exist on your account.")
}

func (e *Emulator) getService(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.st.account(c.param("account_id")).Scripts[c.param("script")]
	if s == nil {
		return serviceNotFound()
	}
	script := s.json()
	script["tag"] = tokenID(s.Name)[:32]
	script["last_deployed_from"] = s.lastDeployedFrom()
	return c.ok(map[string]any{
		"id": s.Name, "created_on": stamp(s.CreatedOn), "modified_on": stamp(s.ModifiedOn),
		"default_environment": map[string]any{
			"environment": "production", "created_on": stamp(s.CreatedOn), "modified_on": stamp(s.ModifiedOn), "script": script,
		},
		"environments": []map[string]any{{"environment": "production", "created_on": stamp(s.CreatedOn), "modified_on": stamp(s.ModifiedOn)}},
	})
}

// lastDeployedFrom is the source of the live version ("api", "wrangler").
func (s *script) lastDeployedFrom() string {
	if v := s.live(); v != nil {
		return v.Source
	}
	return "api"
}

// removeScript deletes a Worker with everything that points at it: its
// versions, deployments and secrets go with the script; its routes, custom
// domains and schedules are removed here. The caller holds e.mu.
func (e *Emulator) removeScript(acct, name string) {
	a := e.st.account(acct)
	delete(a.Scripts, name)
	for id, d := range a.Domains {
		if d.Service == name {
			delete(a.Domains, id)
		}
	}
	for _, z := range e.st.Zones {
		if z.Account.ID != acct {
			continue
		}
		for id, r := range z.Routes {
			if r.Script == name {
				delete(z.Routes, id)
			}
		}
	}
}

func (e *Emulator) deleteService(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.st.account(c.param("account_id")).Scripts[c.param("script")] == nil {
		return serviceNotFound()
	}
	e.removeScript(c.param("account_id"), c.param("script"))
	return e.commit(c, nil)
}

// subdomainOf is the account's workers.dev subdomain: the one set with PUT,
// else one derived from the account id.
func (a *account) subdomainName(id string) string {
	if a.Subdomain != "" {
		return a.Subdomain
	}
	return "cfemu-" + id[:8]
}

func (e *Emulator) getAccountSubdomain(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := c.param("account_id")
	return c.ok(map[string]string{"subdomain": e.st.account(id).subdomainName(id)})
}

func (e *Emulator) putAccountSubdomain(c *call) error {
	var req struct {
		Subdomain string `json:"subdomain"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	name := strings.ToLower(req.Subdomain)
	if !scriptName().MatchString(name) || strings.HasPrefix(name, "_") {
		return badRequest("subdomain %q: use lowercase letters, digits and '-' (at most 63)", req.Subdomain)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.st.account(c.param("account_id")).Subdomain = name
	return e.commit(c, map[string]string{"subdomain": name})
}

func (s *script) subdomainJSON() map[string]bool {
	return map[string]bool{"enabled": s.WorkersDev, "previews_enabled": s.PreviewsEnabled}
}

func (e *Emulator) getScriptSubdomain(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	return c.ok(s.subdomainJSON())
}

func (e *Emulator) postScriptSubdomain(c *call) error {
	var req struct {
		Enabled         *bool `json:"enabled"`
		PreviewsEnabled *bool `json:"previews_enabled"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if req.Enabled == nil {
		return badRequest("enabled is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	s.WorkersDev = *req.Enabled
	s.PreviewsEnabled = s.WorkersDev
	if req.PreviewsEnabled != nil {
		s.PreviewsEnabled = *req.PreviewsEnabled
	}
	return e.commit(c, s.subdomainJSON())
}

func (e *Emulator) deleteScriptSubdomain(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	s.WorkersDev, s.PreviewsEnabled = false, false
	return e.commit(c, s.subdomainJSON())
}

func schedulesJSON(s *script) map[string]any {
	out := []schedule{}
	out = append(out, s.Schedules...)
	return map[string]any{"schedules": out}
}

func (e *Emulator) getSchedules(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	return c.ok(schedulesJSON(s))
}

// putSchedules replaces the Worker's cron triggers.
func (e *Emulator) putSchedules(c *call) error {
	var req []struct {
		Cron string `json:"cron"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if len(req) > maxSchedules {
		return badRequest("a Worker has at most %d cron triggers, not %d", maxSchedules, len(req))
	}
	for _, r := range req {
		if f := strings.Fields(r.Cron); len(r.Cron) > maxCronLength || (len(f) != 5 && len(f) != 6) {
			return badRequest("invalid cron expression %q: want five fields (minute hour day month weekday)", r.Cron)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	s.Schedules = nil
	for _, r := range req {
		s.Schedules = append(s.Schedules, schedule{Cron: r.Cron, CreatedOn: c.now, ModifiedOn: c.now})
	}
	return e.commit(c, schedulesJSON(s))
}

// zoneFor finds the account's zone of a route or domain: by id, by name, or
// by the hostname; the caller holds e.mu.
func (e *Emulator) zoneFor(acct, zoneID, zoneName, host string) *zone {
	switch {
	case zoneID != "":
		if z := e.st.Zones[zoneID]; z != nil && z.Account.ID == acct {
			return z
		}
		return nil
	case zoneName != "":
		for _, z := range e.st.Zones {
			if z.Name == strings.ToLower(zoneName) && z.Account.ID == acct {
				return z
			}
		}
		return nil
	}
	return e.zoneOf(acct, host)
}

func (e *Emulator) scriptRoutes(acct, name string) []map[string]string {
	out := []map[string]string{}
	for _, z := range e.st.Zones {
		if z.Account.ID != acct {
			continue
		}
		for _, r := range z.Routes {
			if r.Script == name {
				out = append(out, map[string]string{"id": r.ID, "pattern": r.Pattern, "script": r.Script, "zone_id": z.ID, "zone_name": z.Name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["pattern"] < out[j]["pattern"] })
	return out
}

func (e *Emulator) getScriptRoutes(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, aerr := c.script(); aerr != nil {
		return aerr
	}
	return c.ok(e.scriptRoutes(c.param("account_id"), c.param("script")))
}

// putScriptRoutes replaces the Worker's routes: the same routes the zones'
// workers/routes lists. A pattern another Worker holds moves to this one.
func (e *Emulator) putScriptRoutes(c *call) error {
	var req []struct {
		Pattern      string `json:"pattern"`
		ZoneID       string `json:"zone_id"`
		ZoneName     string `json:"zone_name"`
		CustomDomain bool   `json:"custom_domain"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if len(req) > maxScriptRoutes {
		return badRequest("at most %d routes per request, not %d", maxScriptRoutes, len(req))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, aerr := c.script(); aerr != nil {
		return aerr
	}
	acct, name := c.param("account_id"), c.param("script")
	type placed struct {
		z       *zone
		pattern string
	}
	var want []placed
	for _, r := range req {
		if r.CustomDomain {
			return badRequest("route %q is a custom domain: attach it with PUT …/domains/records", r.Pattern)
		}
		host, _, _ := strings.Cut(r.Pattern, "/")
		z := e.zoneFor(acct, r.ZoneID, r.ZoneName, strings.TrimPrefix(strings.TrimPrefix(host, "*"), "."))
		if z == nil {
			return fail(http.StatusBadRequest, codeBadRequest, "Could not find zone for %s: add the zone to the account first", r.Pattern)
		}
		if aerr := checkPattern(z, r.Pattern); aerr != nil {
			return aerr
		}
		want = append(want, placed{z, r.Pattern})
	}
	for _, z := range e.st.Zones {
		if z.Account.ID != acct {
			continue
		}
		for id, r := range z.Routes {
			if r.Script == name {
				delete(z.Routes, id)
			}
		}
	}
	for _, w := range want {
		found := false
		for _, r := range w.z.Routes {
			if r.Pattern == w.pattern {
				r.Script, found = name, true
			}
		}
		if !found {
			r := &workerRoute{ID: newID(), Pattern: w.pattern, Script: name}
			w.z.Routes[r.ID] = r
		}
	}
	return e.commit(c, e.scriptRoutes(acct, name))
}

type origin struct {
	Hostname string `json:"hostname"`
	ZoneID   string `json:"zone_id"`
	ZoneName string `json:"zone_name"`
}

// domainsChangeset says what attaching origins would change, without
// changing it.
func (e *Emulator) domainsChangeset(c *call) error {
	var req []origin
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, aerr := c.script(); aerr != nil {
		return aerr
	}
	a := e.st.account(c.param("account_id"))
	out := map[string][]map[string]any{"added": {}, "removed": {}, "updated": {}, "conflicting": {}}
	for _, o := range req {
		host := strings.ToLower(o.Hostname)
		var have *domain
		for _, d := range a.Domains {
			if d.Hostname == host {
				have = d
			}
		}
		switch {
		case have == nil:
			out["added"] = append(out["added"], map[string]any{"hostname": host})
		default:
			out["updated"] = append(out["updated"], map[string]any{"id": have.ID, "hostname": host, "modified": have.Service != c.param("script")})
		}
	}
	return c.ok(out)
}

// putScriptDomains attaches the origins to the Worker, replacing its custom
// domains when override_scope is set.
func (e *Emulator) putScriptDomains(c *call) error {
	var req struct {
		Origins                   []origin `json:"origins"`
		OverrideScope             bool     `json:"override_scope"`
		OverrideExistingOrigin    bool     `json:"override_existing_origin"`
		OverrideExistingDNSRecord bool     `json:"override_existing_dns_record"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if len(req.Origins) > maxScriptDomains {
		return badRequest("at most %d custom domains per request, not %d", maxScriptDomains, len(req.Origins))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, aerr := c.script(); aerr != nil {
		return aerr
	}
	acct, name := c.param("account_id"), c.param("script")
	a := e.st.account(acct)
	var attach []*domain
	for _, o := range req.Origins {
		host := strings.ToLower(strings.TrimSuffix(o.Hostname, "."))
		z := e.zoneFor(acct, o.ZoneID, o.ZoneName, host)
		if host == "" || z == nil || (host != z.Name && !strings.HasSuffix(host, "."+z.Name)) {
			return badRequest("hostname %q is not in a zone of this account", o.Hostname)
		}
		d := &domain{Hostname: host, Service: name, Environment: "production", ZoneID: z.ID, ZoneName: z.Name}
		for _, have := range a.Domains {
			if have.Hostname == host {
				if have.Service != name && !req.OverrideExistingOrigin {
					return fail(http.StatusConflict, codeDomainTaken, "Hostname %s is already used by the Worker %s (set override_existing_origin to move it)", host, have.Service)
				}
				d.ID, d.CertID = have.ID, have.CertID
			}
		}
		for _, r := range z.Records {
			if r.Name == host && !req.OverrideExistingDNSRecord && (r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME") {
				return fail(http.StatusConflict, codeDomainTaken, "Hostname %s already has a DNS record (set override_existing_dns_record to replace it)", host)
			}
		}
		attach = append(attach, d)
	}
	if req.OverrideScope {
		for id, d := range a.Domains {
			if d.Service == name {
				delete(a.Domains, id)
			}
		}
	}
	out := []domain{}
	for _, d := range attach {
		if d.ID == "" {
			d.ID, d.CertID = newID(), newUUID()
		}
		a.Domains[d.ID] = d
		out = append(out, *d)
	}
	return e.commit(c, out)
}

// settingsJSON are a Worker's settings: those of its live version and its
// own.
func (s *script) settingsJSON() map[string]any {
	out := map[string]any{
		"bindings": []json.RawMessage{}, "compatibility_date": "", "compatibility_flags": []string{},
		"logpush": s.Logpush, "placement": map[string]any{}, "tags": nonNilStrings(s.Tags), "tail_consumers": []any{},
		"usage_model": "standard", "observability": map[string]any{"enabled": false}, "limits": map[string]any{},
	}
	if v := s.live(); v != nil {
		out["bindings"] = v.Bindings
		out["compatibility_date"] = v.CompatibilityDate
		out["compatibility_flags"] = v.CompatibilityFlags
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (e *Emulator) getSettings(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	return c.ok(s.settingsJSON())
}

// patchSettings changes the live version's settings: Cloudflare makes a
// new version with the same code and the changed settings and deploys it.
// Bindings, when given, replace the version's; a binding of type
// "inherit" keeps the live binding of its name.
func (e *Emulator) patchSettings(c *call) error {
	raw, aerr := c.settingsPart()
	if aerr != nil {
		return aerr
	}
	var req struct {
		Bindings           []json.RawMessage `json:"bindings"`
		CompatibilityDate  *string           `json:"compatibility_date"`
		CompatibilityFlags []string          `json:"compatibility_flags"`
		Logpush            *bool             `json:"logpush"`
		Tags               []string          `json:"tags"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return badRequest("settings is not valid JSON: %v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	live := s.live()
	if live == nil {
		return badRequest("Worker %s has no deployed version to change", s.Name)
	}
	up := &upload{modules: live.Modules}
	up.meta.MainModule = live.MainModule
	up.meta.CompatibilityDate, up.meta.CompatibilityFlags = live.CompatibilityDate, live.CompatibilityFlags
	up.meta.Bindings = live.Bindings
	if req.CompatibilityDate != nil {
		up.meta.CompatibilityDate = *req.CompatibilityDate
	}
	if req.CompatibilityFlags != nil {
		up.meta.CompatibilityFlags = req.CompatibilityFlags
	}
	if req.Bindings != nil {
		byName := map[string]json.RawMessage{}
		for _, b := range live.Bindings {
			var x struct{ Name string }
			if json.Unmarshal(b, &x) == nil {
				byName[x.Name] = b
			}
		}
		var bindings []json.RawMessage
		for _, b := range req.Bindings {
			var x struct{ Type, Name string }
			if err := json.Unmarshal(b, &x); err != nil || x.Name == "" {
				return badRequest("a binding needs a type and a name")
			}
			if x.Type == "inherit" {
				if old, ok := byName[x.Name]; ok {
					bindings = append(bindings, old)
					continue
				}
				return badRequest("binding %s: inherit names no binding of the live version", x.Name)
			}
			bindings = append(bindings, b)
		}
		up.meta.Bindings = bindings
	}
	if req.Logpush != nil {
		s.Logpush = *req.Logpush
	}
	if req.Tags != nil {
		s.Tags = req.Tags
	}
	v := s.newVersion(up, c.now)
	v.Source = sourceOf(c.r)
	s.Deployments = append(s.Deployments, &deployment{
		ID: newUUID(), CreatedOn: c.now, Source: v.Source, Strategy: "percentage",
		Versions: []deployedVersion{{VersionID: v.ID, Percentage: 100}}, AuthorEmail: authorEmail,
	})
	return e.commit(c, s.settingsJSON())
}

// settingsPart reads the "settings" part of a multipart PATCH, or a JSON
// body.
func (c *call) settingsPart() ([]byte, *apiErr) {
	mt, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt == "application/json" {
		return c.body, nil
	}
	if mt != "multipart/form-data" {
		return nil, badRequest("settings are multipart/form-data with a 'settings' part")
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, badRequest("no 'settings' part")
		}
		if err != nil {
			return nil, badRequest("malformed multipart body: %v", err)
		}
		if p.FormName() == "settings" {
			b, err := io.ReadAll(p)
			if err != nil {
				return nil, badRequest("malformed multipart body: %v", err)
			}
			return b, nil
		}
	}
}

func (s *script) scriptSettingsJSON() map[string]any {
	return map[string]any{"logpush": s.Logpush, "tags": nonNilStrings(s.Tags), "tail_consumers": []any{}, "observability": map[string]any{"enabled": false}}
}

func (e *Emulator) getScriptSettings(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	return c.ok(s.scriptSettingsJSON())
}

// patchScriptSettings changes the Worker's own settings (not versioned).
func (e *Emulator) patchScriptSettings(c *call) error {
	var req struct {
		Logpush *bool    `json:"logpush"`
		Tags    []string `json:"tags"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	if req.Logpush != nil {
		s.Logpush = *req.Logpush
	}
	if req.Tags != nil {
		s.Tags = req.Tags
	}
	return e.commit(c, s.scriptSettingsJSON())
}

// sourceOf is where an upload came from, as the API records it.
func sourceOf(r *http.Request) string {
	if strings.Contains(strings.ToLower(r.Header.Get("User-Agent")), "wrangler") {
		return "wrangler"
	}
	return "api"
}
