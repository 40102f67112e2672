package cfemu

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// maxDeployableVersions is how far back a deployment (a rollback) may reach.
const maxDeployableVersions = 100

type script struct {
	Name        string             `json:"name"`
	CreatedOn   time.Time          `json:"created_on"`
	ModifiedOn  time.Time          `json:"modified_on"`
	Versions    []*version         `json:"versions"`    // oldest first
	Deployments []*deployment      `json:"deployments"` // oldest first; the last is live
	Secrets     map[string]*secret `json:"secrets"`
	// WorkersDev and PreviewsEnabled are the workers.dev toggles.
	WorkersDev      bool       `json:"workers_dev,omitempty"`
	PreviewsEnabled bool       `json:"previews_enabled,omitempty"`
	Schedules       []schedule `json:"schedules,omitempty"`
	Logpush         bool       `json:"logpush,omitempty"`
	Tags            []string   `json:"tags,omitempty"`
}

type module struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Content     []byte `json:"content"`
}

type version struct {
	ID                 string            `json:"id"`
	Number             int               `json:"number"`
	CreatedOn          time.Time         `json:"created_on"`
	Source             string            `json:"source"`
	MainModule         string            `json:"main_module"`
	Modules            []module          `json:"modules"`
	Bindings           []json.RawMessage `json:"bindings"`
	CompatibilityDate  string            `json:"compatibility_date"`
	CompatibilityFlags []string          `json:"compatibility_flags"`
	Annotations        map[string]string `json:"annotations,omitempty"`
	Etag               string            `json:"etag"`
}

type deployedVersion struct {
	VersionID  string  `json:"version_id"`
	Percentage float64 `json:"percentage"`
}

type deployment struct {
	ID          string            `json:"id"`
	CreatedOn   time.Time         `json:"created_on"`
	Source      string            `json:"source"`
	Strategy    string            `json:"strategy"`
	Versions    []deployedVersion `json:"versions"`
	Annotations map[string]string `json:"annotations,omitempty"`
	AuthorEmail string            `json:"author_email"`
}

type secret struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Text string `json:"text"`
}

type domain struct {
	ID          string `json:"id"`
	Hostname    string `json:"hostname"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	ZoneID      string `json:"zone_id"`
	ZoneName    string `json:"zone_name"`
	CertID      string `json:"cert_id"`
}

type workerRoute struct {
	ID      string `json:"id"`
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
}

// authorEmail is what the emulator records as the author of uploads.
const authorEmail = "emulator@cfemu.invalid"

var scriptName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,62}$`) })

func (e *Emulator) workersRoutes(rt *router) {
	const s = "accounts/{account_id}/workers/scripts"
	rt.handle("GET", s, e.listScripts)
	rt.handle("PUT", s+"/{script}", e.uploadScript)
	rt.handle("GET", s+"/{script}", e.getScriptContent)
	rt.handle("DELETE", s+"/{script}", e.deleteScript)
	rt.handle("POST", s+"/{script}/versions", e.uploadVersion)
	rt.handle("GET", s+"/{script}/versions", e.listVersions)
	rt.handle("GET", s+"/{script}/versions/{version_id}", e.getVersion)
	rt.handle("POST", s+"/{script}/deployments", e.createDeployment)
	rt.handle("GET", s+"/{script}/deployments", e.listDeployments)
	rt.handle("GET", s+"/{script}/deployments/{deployment_id}", e.getDeployment)
	rt.handle("DELETE", s+"/{script}/deployments/{deployment_id}", e.deleteDeployment)
	rt.handle("PUT", s+"/{script}/secrets", e.putSecret)
	rt.handle("GET", s+"/{script}/secrets", e.listSecrets)
	rt.handle("GET", s+"/{script}/secrets/{secret}", e.getSecret)
	rt.handle("DELETE", s+"/{script}/secrets/{secret}", e.deleteSecret)

	const d = "accounts/{account_id}/workers/domains"
	rt.handle("PUT", d, e.putDomain)
	rt.handle("GET", d, e.listDomains)
	rt.handle("GET", d+"/{domain_id}", e.getDomain)
	rt.handle("DELETE", d+"/{domain_id}", e.deleteDomain)

	const r = "zones/{zone_id}/workers/routes"
	rt.handle("POST", r, e.createRoute)
	rt.handle("GET", r, e.listRoutes)
	rt.handle("GET", r+"/{route_id}", e.getRoute)
	rt.handle("PUT", r+"/{route_id}", e.updateRoute)
	rt.handle("DELETE", r+"/{route_id}", e.deleteRoute)
}

func scriptNotFound() *apiErr {
	return fail(http.StatusNotFound, codeNotFound, "workers.api.error.script_not_found")
}

// script finds the script of the path; the caller holds e.mu.
func (c *call) script() (*script, *apiErr) {
	s := c.e.st.account(c.param("account_id")).Scripts[c.param("script")]
	if s == nil {
		return nil, scriptNotFound()
	}
	return s, nil
}

// upload is a parsed multipart script or version upload.
type upload struct {
	meta struct {
		MainModule         string            `json:"main_module"`
		BodyPart           string            `json:"body_part"`
		Bindings           []json.RawMessage `json:"bindings"`
		CompatibilityDate  string            `json:"compatibility_date"`
		CompatibilityFlags []string          `json:"compatibility_flags"`
		Annotations        map[string]string `json:"annotations"`
		KeepBindings       []string          `json:"keep_bindings"`
	}
	modules []module
}

// parseUpload reads the multipart body: a JSON "metadata" part and module
// parts, matched by filename (or, for older clients, by part name).
func (c *call) parseUpload(versionUpload bool) (*upload, *apiErr) {
	mt, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return nil, badRequest("Unsupported or unexpected Content Type: a Worker upload is multipart/form-data")
	}
	up := &upload{}
	gotMeta := false
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badRequest("malformed multipart body: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, badRequest("malformed multipart body: %v", err)
		}
		if p.FormName() == "metadata" {
			if err := json.Unmarshal(b, &up.meta); err != nil {
				return nil, badRequest("metadata is not valid JSON: %v", err)
			}
			gotMeta = true
			continue
		}
		name := p.FileName()
		if name == "" {
			name = p.FormName()
		}
		up.modules = append(up.modules, module{Name: name, ContentType: p.Header.Get("Content-Type"), Content: b})
	}
	if !gotMeta {
		return nil, fail(http.StatusBadRequest, 10021, "a Worker upload needs a 'metadata' part")
	}
	main := up.meta.MainModule
	if main == "" && !versionUpload {
		main = up.meta.BodyPart
	}
	if main == "" {
		if versionUpload {
			return nil, fail(http.StatusBadRequest, 10021, "main_module is required: version uploads do not support service-worker syntax")
		}
		return nil, fail(http.StatusBadRequest, 10021, "main_module (or body_part) is required")
	}
	found := false
	for _, m := range up.modules {
		found = found || m.Name == main
	}
	if !found {
		return nil, fail(http.StatusBadRequest, 10021, "No such module %q: the main module must be one of the uploaded parts", main)
	}
	up.meta.MainModule = main
	if up.meta.CompatibilityDate == "" {
		up.meta.CompatibilityDate = "2021-11-02"
	}
	return up, nil
}

func (s *script) newVersion(up *upload, now time.Time) *version {
	h := sha256.New()
	for _, m := range up.modules {
		h.Write([]byte(m.Name))
		h.Write(m.Content)
	}
	v := &version{
		ID: newUUID(), Number: len(s.Versions) + 1, CreatedOn: now, Source: "api",
		MainModule: up.meta.MainModule, Modules: up.modules, Bindings: up.meta.Bindings,
		CompatibilityDate: up.meta.CompatibilityDate, CompatibilityFlags: up.meta.CompatibilityFlags,
		Annotations: up.meta.Annotations, Etag: hex.EncodeToString(h.Sum(nil)),
	}
	if v.Bindings == nil {
		v.Bindings = []json.RawMessage{}
	}
	// A secret_text binding of an upload sets the Worker's secret; the
	// version keeps the binding without its text, as the API shows it.
	for i, raw := range v.Bindings {
		var b struct{ Type, Name, Text string }
		if json.Unmarshal(raw, &b) == nil && b.Type == "secret_text" && b.Name != "" {
			if s.Secrets == nil {
				s.Secrets = map[string]*secret{}
			}
			s.Secrets[b.Name] = &secret{Name: b.Name, Type: b.Type, Text: b.Text}
			v.Bindings[i], _ = json.Marshal(map[string]string{"type": b.Type, "name": b.Name})
		}
	}
	if v.CompatibilityFlags == nil {
		v.CompatibilityFlags = []string{}
	}
	// keep_bindings: the bindings of those types the latest version has
	// and the upload does not name are carried over.
	if len(up.meta.KeepBindings) > 0 && len(s.Versions) > 0 {
		named := map[string]bool{}
		for _, raw := range v.Bindings {
			var b struct{ Name string }
			if json.Unmarshal(raw, &b) == nil {
				named[b.Name] = true
			}
		}
		for _, raw := range s.Versions[len(s.Versions)-1].Bindings {
			var b struct{ Type, Name string }
			if json.Unmarshal(raw, &b) == nil && !named[b.Name] && slices.Contains(up.meta.KeepBindings, b.Type) {
				v.Bindings = append(v.Bindings, raw)
			}
		}
	}
	s.Versions = append(s.Versions, v)
	s.ModifiedOn = now
	return v
}

func (s *script) live() *version {
	if len(s.Deployments) == 0 {
		return nil
	}
	d := s.Deployments[len(s.Deployments)-1]
	best := d.Versions[0]
	for _, dv := range d.Versions {
		if dv.Percentage > best.Percentage {
			best = dv
		}
	}
	return s.version(best.VersionID)
}

func (s *script) version(id string) *version {
	for _, v := range s.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (s *script) json() map[string]any {
	out := map[string]any{
		"id": s.Name, "created_on": stamp(s.CreatedOn), "modified_on": stamp(s.ModifiedOn),
		"handlers": []string{"fetch"}, "usage_model": "standard", "has_modules": true, "has_assets": false,
		"logpush": false, "tags": []string{}, "tail_consumers": []any{}, "startup_time_ms": 0,
	}
	if v := s.live(); v != nil {
		out["etag"] = v.Etag
		out["compatibility_date"] = v.CompatibilityDate
		out["compatibility_flags"] = v.CompatibilityFlags
	}
	return out
}

func (v *version) json(full bool) map[string]any {
	out := map[string]any{
		"id": v.ID, "number": v.Number,
		"metadata": map[string]any{
			"author_email": authorEmail, "author_id": "cfemu", "created_on": stamp(v.CreatedOn),
			"modified_on": stamp(v.CreatedOn), "source": v.Source, "hasPreview": false,
		},
	}
	if v.Annotations != nil {
		out["annotations"] = v.Annotations
	}
	if full {
		out["resources"] = map[string]any{
			"bindings": v.Bindings,
			"script":   map[string]any{"etag": v.Etag, "handlers": []string{"fetch"}, "last_deployed_from": "api"},
			"script_runtime": map[string]any{
				"compatibility_date": v.CompatibilityDate, "compatibility_flags": v.CompatibilityFlags, "usage_model": "standard",
			},
		}
		out["startup_time_ms"] = 0
	}
	return out
}

func (d *deployment) json() map[string]any {
	out := map[string]any{
		"id": d.ID, "created_on": stamp(d.CreatedOn), "source": d.Source, "strategy": d.Strategy,
		"versions": d.Versions, "author_email": d.AuthorEmail,
	}
	if d.Annotations != nil {
		out["annotations"] = d.Annotations
	}
	return out
}

func (e *Emulator) listScripts(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, s := range e.st.account(c.param("account_id")).Scripts {
		out = append(out, s.json())
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["id"].(string) < out[j]["id"].(string) })
	return c.ok(out)
}

// uploadScript uploads a script and deploys it at 100 %, creating the
// script on its first upload.
func (e *Emulator) uploadScript(c *call) error {
	name := c.param("script")
	if !scriptName().MatchString(name) {
		return badRequest("Invalid Worker name %q: use lowercase letters, digits, '-' and '_' (at most 63)", name)
	}
	up, aerr := c.parseUpload(false)
	if aerr != nil {
		return aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	s := a.Scripts[name]
	if s == nil {
		s = &script{Name: name, CreatedOn: c.now, Secrets: map[string]*secret{}}
		a.Scripts[name] = s
	}
	v := s.newVersion(up, c.now)
	v.Source = sourceOf(c.r)
	d := &deployment{
		ID: newUUID(), CreatedOn: c.now, Source: v.Source, Strategy: "percentage",
		Versions: []deployedVersion{{VersionID: v.ID, Percentage: 100}}, AuthorEmail: authorEmail,
	}
	s.Deployments = append(s.Deployments, d)
	out := s.json()
	// deployment_id is, despite its name, the id of the version the upload
	// made (wrangler prints it as "Current Version ID").
	out["deployment_id"] = v.ID
	out["last_deployed_from"] = v.Source
	return e.commit(c, out)
}

func (e *Emulator) getScriptContent(c *call) error {
	e.mu.Lock()
	s, aerr := c.script()
	var main *module
	if aerr == nil {
		if v := s.live(); v != nil {
			for i := range v.Modules {
				if v.Modules[i].Name == v.MainModule {
					main = &v.Modules[i]
				}
			}
		}
	}
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	if main == nil {
		return scriptNotFound()
	}
	ct := main.ContentType
	if ct == "" {
		ct = "application/javascript+module"
	}
	c.w.Header().Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(main.Content)
	return nil
}

func (e *Emulator) deleteScript(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, aerr := c.script(); aerr != nil {
		return aerr
	}
	e.removeScript(c.param("account_id"), c.param("script"))
	return e.commit(c, nil)
}

// uploadVersion uploads a version without deploying it. The script must
// exist: the first upload of a script is a script upload.
func (e *Emulator) uploadVersion(c *call) error {
	up, aerr := c.parseUpload(true)
	if aerr != nil {
		return aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	v := s.newVersion(up, c.now)
	v.Source = sourceOf(c.r)
	return e.commit(c, v.json(true))
}

func (e *Emulator) listVersions(c *call) error {
	e.mu.Lock()
	s, aerr := c.script()
	var items []map[string]any
	if aerr == nil {
		for i := len(s.Versions) - 1; i >= 0; i-- {
			if c.r.URL.Query().Get("deployable") == "true" && len(s.Versions)-i > maxDeployableVersions {
				break
			}
			items = append(items, s.Versions[i].json(false))
		}
	}
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	page, info, aerr := paginate(c, items, 10, 100)
	if aerr != nil {
		return aerr
	}
	return c.okInfo(map[string]any{"items": page}, info)
}

func (e *Emulator) getVersion(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	v := s.version(c.param("version_id"))
	if v == nil {
		return fail(http.StatusNotFound, codeNotFound, "version %s not found", c.param("version_id"))
	}
	return c.ok(v.json(true))
}

func (e *Emulator) createDeployment(c *call) error {
	var req struct {
		Strategy    string            `json:"strategy"`
		Versions    []deployedVersion `json:"versions"`
		Annotations map[string]string `json:"annotations"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if req.Strategy != "percentage" {
		return badRequest("strategy must be \"percentage\", got %q", req.Strategy)
	}
	if len(req.Versions) < 1 || len(req.Versions) > 2 {
		return badRequest("a deployment splits traffic between 1 and 2 versions, got %d", len(req.Versions))
	}
	sum := 0.0
	for _, v := range req.Versions {
		// 0 % is allowed: a version at 0 % is reached only with the
		// Cloudflare-Workers-Version-Overrides header (a smoke test).
		if v.Percentage < 0 || v.Percentage > 100 {
			return badRequest("percentage %v of version %s is outside 0..100", v.Percentage, v.VersionID)
		}
		sum += v.Percentage
	}
	if math.Abs(sum-100) > 1e-9 {
		return badRequest("the percentages of a deployment add up to %v, not 100", sum)
	}
	if len(req.Versions) == 2 && req.Versions[0].VersionID == req.Versions[1].VersionID {
		return badRequest("a deployment names version %s twice", req.Versions[0].VersionID)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	for _, dv := range req.Versions {
		v := s.version(dv.VersionID)
		if v == nil {
			return fail(http.StatusNotFound, codeNotFound, "version %s not found", dv.VersionID)
		}
		if len(s.Versions)-v.Number >= maxDeployableVersions {
			return badRequest("version %s (number %d) is older than the %d most recent versions and cannot be deployed", v.ID, v.Number, maxDeployableVersions)
		}
	}
	d := &deployment{ID: newUUID(), CreatedOn: c.now, Source: "api", Strategy: req.Strategy, Versions: req.Versions, Annotations: req.Annotations, AuthorEmail: authorEmail}
	s.Deployments = append(s.Deployments, d)
	return e.commit(c, d.json())
}

func (e *Emulator) listDeployments(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	out := []map[string]any{}
	for i := len(s.Deployments) - 1; i >= 0; i-- {
		out = append(out, s.Deployments[i].json())
	}
	return c.ok(map[string]any{"deployments": out})
}

func (e *Emulator) findDeployment(c *call) (*script, int, *apiErr) {
	s, aerr := c.script()
	if aerr != nil {
		return nil, 0, aerr
	}
	for i, d := range s.Deployments {
		if d.ID == c.param("deployment_id") {
			return s, i, nil
		}
	}
	return nil, 0, fail(http.StatusNotFound, codeNotFound, "deployment %s not found", c.param("deployment_id"))
}

func (e *Emulator) getDeployment(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, i, aerr := e.findDeployment(c)
	if aerr != nil {
		return aerr
	}
	return c.ok(s.Deployments[i].json())
}

func (e *Emulator) deleteDeployment(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, i, aerr := e.findDeployment(c)
	if aerr != nil {
		return aerr
	}
	if i == len(s.Deployments)-1 {
		return badRequest("deployment %s is live and cannot be deleted; deploy another version first", s.Deployments[i].ID)
	}
	s.Deployments = append(s.Deployments[:i], s.Deployments[i+1:]...)
	return e.commit(c, nil)
}

func (e *Emulator) putSecret(c *call) error {
	var req secret
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if req.Name == "" {
		return badRequest("a secret needs a name")
	}
	if req.Type == "" {
		req.Type = "secret_text"
	}
	if req.Type != "secret_text" {
		return badRequest("secret type must be \"secret_text\", got %q", req.Type)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	s.Secrets[req.Name] = &req
	return e.commit(c, map[string]string{"name": req.Name, "type": req.Type})
}

func (e *Emulator) listSecrets(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	out := []map[string]string{}
	for _, sec := range s.Secrets {
		out = append(out, map[string]string{"name": sec.Name, "type": sec.Type})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["name"] < out[j]["name"] })
	return c.ok(out)
}

func (e *Emulator) getSecret(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	sec := s.Secrets[c.param("secret")]
	if sec == nil {
		return fail(http.StatusNotFound, codeNotFound, "secret %s not found", c.param("secret"))
	}
	return c.ok(map[string]string{"name": sec.Name, "type": sec.Type})
}

func (e *Emulator) deleteSecret(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, aerr := c.script()
	if aerr != nil {
		return aerr
	}
	if s.Secrets[c.param("secret")] == nil {
		return fail(http.StatusNotFound, codeNotFound, "secret %s not found", c.param("secret"))
	}
	delete(s.Secrets, c.param("secret"))
	return e.commit(c, nil)
}

// zoneOf finds the account's zone that hostname belongs to (the longest
// matching zone name); the caller holds e.mu.
func (e *Emulator) zoneOf(accountID, hostname string) *zone {
	var best *zone
	for _, z := range e.st.Zones {
		if z.Account.ID != accountID || (hostname != z.Name && !strings.HasSuffix(hostname, "."+z.Name)) {
			continue
		}
		if best == nil || len(z.Name) > len(best.Name) {
			best = z
		}
	}
	return best
}

// putDomain attaches a custom domain to a Worker (an upsert by hostname).
func (e *Emulator) putDomain(c *call) error {
	var req domain
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	req.Hostname = strings.ToLower(strings.TrimSuffix(req.Hostname, "."))
	if req.Hostname == "" || req.Service == "" {
		return badRequest("a custom domain needs a hostname and a service")
	}
	if req.Environment == "" {
		req.Environment = "production"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	acct := c.param("account_id")
	a := e.st.account(acct)
	if a.Scripts[req.Service] == nil {
		return scriptNotFound()
	}
	var z *zone
	switch {
	case req.ZoneID != "":
		z = e.st.Zones[req.ZoneID]
	case req.ZoneName != "":
		for _, cand := range e.st.Zones {
			if cand.Name == req.ZoneName && cand.Account.ID == acct {
				z = cand
			}
		}
	default:
		z = e.zoneOf(acct, req.Hostname)
	}
	if z == nil || (req.Hostname != z.Name && !strings.HasSuffix(req.Hostname, "."+z.Name)) {
		return badRequest("hostname %s is not in a zone of this account", req.Hostname)
	}
	req.ZoneID, req.ZoneName = z.ID, z.Name
	for _, d := range a.Domains {
		if d.Hostname == req.Hostname {
			req.ID, req.CertID = d.ID, d.CertID
		}
	}
	if req.ID == "" {
		req.ID, req.CertID = newID(), newUUID()
	}
	d := req
	a.Domains[d.ID] = &d
	return e.commit(c, d)
}

func (e *Emulator) listDomains(c *call) error {
	q := c.r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []domain{}
	for _, d := range e.st.account(c.param("account_id")).Domains {
		if (q.Get("hostname") == "" || q.Get("hostname") == d.Hostname) &&
			(q.Get("service") == "" || q.Get("service") == d.Service) &&
			(q.Get("zone_id") == "" || q.Get("zone_id") == d.ZoneID) &&
			(q.Get("zone_name") == "" || q.Get("zone_name") == d.ZoneName) &&
			(q.Get("environment") == "" || q.Get("environment") == d.Environment) {
			out = append(out, *d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Hostname < out[j].Hostname })
	return c.ok(out)
}

func (e *Emulator) getDomain(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.st.account(c.param("account_id")).Domains[c.param("domain_id")]
	if d == nil {
		return fail(http.StatusNotFound, codeNotFound, "custom domain %s not found", c.param("domain_id"))
	}
	return c.ok(d)
}

func (e *Emulator) deleteDomain(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	if a.Domains[c.param("domain_id")] == nil {
		return fail(http.StatusNotFound, codeNotFound, "custom domain %s not found", c.param("domain_id"))
	}
	delete(a.Domains, c.param("domain_id"))
	return e.commit(c, nil)
}

// checkPattern checks that a route pattern belongs to the zone.
func checkPattern(z *zone, pattern string) *apiErr {
	host, _, _ := strings.Cut(pattern, "/")
	host = strings.TrimPrefix(strings.TrimPrefix(host, "*"), ".")
	if pattern == "" || host == "" || (host != z.Name && !strings.HasSuffix(host, "."+z.Name)) {
		return badRequest("route pattern %q does not match zone %s", pattern, z.Name)
	}
	return nil
}

func (e *Emulator) createRoute(c *call) error {
	var req workerRoute
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	z, aerr := c.zone()
	if aerr != nil {
		return aerr
	}
	if aerr := checkPattern(z, req.Pattern); aerr != nil {
		return aerr
	}
	for _, r := range z.Routes {
		if r.Pattern == req.Pattern {
			return fail(http.StatusBadRequest, codeRouteExists, "A route with the same pattern already exists.")
		}
	}
	req.ID = newID()
	r := req
	z.Routes[r.ID] = &r
	return e.commit(c, r)
}

func (e *Emulator) listRoutes(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	z, aerr := c.zone()
	if aerr != nil {
		return aerr
	}
	out := []workerRoute{}
	for _, r := range z.Routes {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern < out[j].Pattern })
	return c.ok(out)
}

func (c *call) route() (*zone, *workerRoute, *apiErr) {
	z, aerr := c.zone()
	if aerr != nil {
		return nil, nil, aerr
	}
	r := z.Routes[c.param("route_id")]
	if r == nil {
		return nil, nil, fail(http.StatusNotFound, codeNotFound, "route %s not found", c.param("route_id"))
	}
	return z, r, nil
}

func (e *Emulator) getRoute(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, r, aerr := c.route()
	if aerr != nil {
		return aerr
	}
	return c.ok(r)
}

func (e *Emulator) updateRoute(c *call) error {
	var req workerRoute
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	z, r, aerr := c.route()
	if aerr != nil {
		return aerr
	}
	if aerr := checkPattern(z, req.Pattern); aerr != nil {
		return aerr
	}
	for _, other := range z.Routes {
		if other != r && other.Pattern == req.Pattern {
			return fail(http.StatusBadRequest, codeRouteExists, "A route with the same pattern already exists.")
		}
	}
	r.Pattern, r.Script = req.Pattern, req.Script
	return e.commit(c, r)
}

func (e *Emulator) deleteRoute(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	z, r, aerr := c.route()
	if aerr != nil {
		return aerr
	}
	delete(z.Routes, r.ID)
	return e.commit(c, map[string]string{"id": r.ID})
}
