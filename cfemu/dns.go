package cfemu

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

type zone struct {
	ID        string                  `json:"id"`
	Name      string                  `json:"name"`
	Status    string                  `json:"status"`
	Account   zoneAccount             `json:"account"`
	CreatedOn time.Time               `json:"created_on"`
	Records   map[string]*dnsRecord   `json:"records"`
	Routes    map[string]*workerRoute `json:"routes"`
}

type zoneAccount struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (z *zone) init() {
	if z.Records == nil {
		z.Records = map[string]*dnsRecord{}
	}
	if z.Routes == nil {
		z.Routes = map[string]*workerRoute{}
	}
}

func (z *zone) json() map[string]any {
	return map[string]any{
		"id": z.ID, "name": z.Name, "status": z.Status, "paused": false, "type": "full",
		"account": z.Account, "created_on": stamp(z.CreatedOn), "modified_on": stamp(z.CreatedOn),
		"activated_on": stamp(z.CreatedOn), "development_mode": 0,
		"name_servers":          []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		"original_name_servers": []string{}, "permissions": []string{},
		"meta": map[string]any{}, "owner": map[string]any{}, "plan": map[string]any{"id": "free", "name": "Free Website"},
	}
}

type dnsRecord struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Content    string          `json:"content"`
	Proxied    bool            `json:"proxied"`
	TTL        int             `json:"ttl"`
	Priority   *int            `json:"priority,omitempty"`
	Comment    string          `json:"comment,omitempty"`
	Tags       []string        `json:"tags"`
	Settings   json.RawMessage `json:"settings,omitempty"`
	CreatedOn  time.Time       `json:"created_on"`
	ModifiedOn time.Time       `json:"modified_on"`
}

func (r *dnsRecord) json() map[string]any {
	out := map[string]any{
		"id": r.ID, "type": r.Type, "name": r.Name, "content": r.Content, "proxied": r.Proxied,
		"proxiable": proxiable(r.Type), "ttl": r.TTL, "comment": nil, "tags": r.Tags,
		"settings": map[string]any{}, "meta": map[string]any{},
		"created_on": stamp(r.CreatedOn), "modified_on": stamp(r.ModifiedOn),
	}
	if r.Comment != "" {
		out["comment"] = r.Comment
	}
	if r.Priority != nil {
		out["priority"] = *r.Priority
	}
	if len(r.Settings) > 0 {
		out["settings"] = r.Settings
	}
	return out
}

func proxiable(typ string) bool { return typ == "A" || typ == "AAAA" || typ == "CNAME" }

var hostname = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)
})

// ensureZone returns the zone called name, creating it in accountID.
func (e *Emulator) ensureZone(accountID, name string) (*zone, *apiErr) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !hostname().MatchString(name) || !strings.Contains(name, ".") {
		return nil, badRequest("invalid zone name %q", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, z := range e.st.Zones {
		if z.Name == name {
			return z, nil
		}
	}
	z := &zone{ID: newID(), Name: name, Status: "active", Account: zoneAccount{ID: accountID, Name: "emulated account"}, CreatedOn: e.now()}
	z.init()
	e.st.Zones[z.ID] = z
	e.changed()
	return z, nil
}

func (e *Emulator) zoneRoutes(rt *router) {
	rt.handle("GET", "zones", e.listZones)
	rt.handle("POST", "zones", e.createZone)
	rt.handle("GET", "zones/{zone_id}", e.getZone)
	rt.handle("DELETE", "zones/{zone_id}", e.deleteZone)
	const r = "zones/{zone_id}/dns_records"
	rt.handle("GET", r, e.listRecords)
	rt.handle("POST", r, e.createRecord)
	rt.handle("GET", r+"/{record_id}", e.getRecord)
	rt.handle("PATCH", r+"/{record_id}", e.editRecord)
	rt.handle("PUT", r+"/{record_id}", e.replaceRecord)
	rt.handle("DELETE", r+"/{record_id}", e.deleteRecord)
}

// zone finds the zone of the path; the caller holds e.mu.
func (c *call) zone() (*zone, *apiErr) {
	z := c.e.st.Zones[c.param("zone_id")]
	if z == nil {
		return nil, badIdentifier("/zones/" + c.param("zone_id"))
	}
	return z, nil
}

func (e *Emulator) listZones(c *call) error {
	q := c.r.URL.Query()
	e.mu.Lock()
	var out []map[string]any
	for _, z := range e.st.Zones {
		if (q.Get("name") == "" || strings.EqualFold(q.Get("name"), z.Name)) &&
			(q.Get("account.id") == "" || q.Get("account.id") == z.Account.ID) &&
			(q.Get("status") == "" || q.Get("status") == z.Status) {
			out = append(out, z.json())
		}
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	page, info, aerr := paginate(c, out, 20, 50)
	if aerr != nil {
		return aerr
	}
	return c.okInfo(page, info)
}

func (e *Emulator) createZone(c *call) error {
	var req struct {
		Name    string      `json:"name"`
		Account zoneAccount `json:"account"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if !isHexID(req.Account.ID) {
		return badRequest("account.id is required")
	}
	e.mu.Lock()
	for _, z := range e.st.Zones {
		if z.Name == strings.ToLower(req.Name) {
			e.mu.Unlock()
			return fail(http.StatusBadRequest, codeZoneExists, "%s already exists", z.Name)
		}
	}
	e.mu.Unlock()
	z, aerr := e.ensureZone(req.Account.ID, req.Name)
	if aerr != nil {
		return aerr
	}
	c.applied = true
	e.mu.Lock()
	defer e.mu.Unlock()
	return c.ok(z.json())
}

func (e *Emulator) getZone(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	z, aerr := c.zone()
	if aerr != nil {
		return aerr
	}
	return c.ok(z.json())
}

func (e *Emulator) deleteZone(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	z, aerr := c.zone()
	if aerr != nil {
		return aerr
	}
	delete(e.st.Zones, z.ID)
	return e.commit(c, map[string]string{"id": z.ID})
}

// recordInput is the body of a create, replace or edit.
type recordInput struct {
	Type     *string         `json:"type"`
	Name     *string         `json:"name"`
	Content  *string         `json:"content"`
	Proxied  *bool           `json:"proxied"`
	TTL      *int            `json:"ttl"`
	Priority *int            `json:"priority"`
	Comment  *string         `json:"comment"`
	Tags     []string        `json:"tags"`
	Settings json.RawMessage `json:"settings"`
}

// apply merges in into r and checks the result against the zone.
func (in *recordInput) apply(z *zone, r *dnsRecord) *apiErr {
	if in.Type != nil {
		r.Type = strings.ToUpper(*in.Type)
	}
	if in.Name != nil {
		name := strings.ToLower(strings.TrimSuffix(*in.Name, "."))
		switch {
		case name == "@" || name == "":
			name = z.Name
		case name != z.Name && !strings.HasSuffix(name, "."+z.Name):
			name += "." + z.Name
		}
		r.Name = name
	}
	if in.Content != nil {
		r.Content = *in.Content
	}
	if in.Proxied != nil {
		r.Proxied = *in.Proxied
	}
	if in.TTL != nil {
		r.TTL = *in.TTL
	}
	if in.Priority != nil {
		r.Priority = in.Priority
	}
	if in.Comment != nil {
		r.Comment = *in.Comment
	}
	if in.Tags != nil {
		r.Tags = in.Tags
	}
	if in.Settings != nil {
		r.Settings = in.Settings
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if r.TTL == 0 {
		r.TTL = 1
	}
	return r.check()
}

func (r *dnsRecord) check() *apiErr {
	invalid := func(format string, args ...any) *apiErr {
		return fail(http.StatusBadRequest, codeDNSInvalid, format, args...)
	}
	if r.Type == "" || r.Name == "" || r.Content == "" {
		return invalid("DNS records need a type, a name and content")
	}
	if !hostname().MatchString(r.Name) {
		return invalid("DNS name %q is invalid.", r.Name)
	}
	if r.TTL != 1 && (r.TTL < 60 || r.TTL > 86400) {
		return invalid("TTL must be between 60 and 86400 seconds, or 1 for Automatic.")
	}
	if r.Proxied && !proxiable(r.Type) {
		return invalid("%s records cannot be proxied.", r.Type)
	}
	switch r.Type {
	case "A", "AAAA":
		ip, err := netip.ParseAddr(r.Content)
		if err != nil || ip.Is4() != (r.Type == "A") {
			return invalid("Content for %s record is invalid. Must be a valid IPv%s address.", r.Type, map[bool]string{true: "4", false: "6"}[r.Type == "A"])
		}
	case "CNAME", "NS", "MX":
		if !hostname().MatchString(strings.ToLower(strings.TrimSuffix(r.Content, "."))) {
			return invalid("Content for %s record must be a hostname.", r.Type)
		}
		if r.Type == "MX" && r.Priority == nil {
			return invalid("MX records need a priority.")
		}
	case "TXT", "CAA", "SRV", "HTTPS", "SVCB", "PTR", "DS", "DNSKEY", "TLSA", "SSHFP", "URI", "NAPTR", "CERT", "LOC", "SMIMEA":
	default:
		return invalid("DNS record type %q is invalid.", r.Type)
	}
	return nil
}

// conflict reports a clash of r with the zone's other records.
func (z *zone) conflict(r *dnsRecord) *apiErr {
	for _, o := range z.Records {
		if o.ID == r.ID || o.Name != r.Name {
			continue
		}
		if o.Type == r.Type && o.Content == r.Content {
			return fail(http.StatusBadRequest, codeDNSIdentical, "An identical record already exists.")
		}
		if o.Type == "CNAME" || r.Type == "CNAME" {
			return fail(http.StatusBadRequest, codeDNSConflict, "An A, AAAA, or CNAME record with that host already exists.")
		}
	}
	return nil
}

func recordMissing() *apiErr {
	return fail(http.StatusNotFound, codeDNSMissing, "Record does not exist.")
}

func (e *Emulator) listRecords(c *call) error {
	q := c.r.URL.Query()
	e.mu.Lock()
	z, aerr := c.zone()
	var out []*dnsRecord
	if aerr == nil {
		for _, r := range z.Records {
			if matchRecord(q.Get, r) {
				out = append(out, r)
			}
		}
	}
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Type+out[i].Content < out[j].Type+out[j].Content
	})
	page, info, aerr := paginate(c, out, 100, 5_000_000)
	if aerr != nil {
		return aerr
	}
	items := make([]map[string]any, len(page))
	for i, r := range page {
		items[i] = r.json()
	}
	return c.okInfo(items, info)
}

func matchRecord(get func(string) string, r *dnsRecord) bool {
	eq := func(want, got string) bool { return want == "" || strings.EqualFold(want, got) }
	name := strings.ToLower(get("name"))
	return eq(get("type"), r.Type) &&
		eq(name, r.Name) && eq(get("name.exact"), r.Name) &&
		strings.Contains(r.Name, strings.ToLower(get("name.contains"))) &&
		strings.HasPrefix(r.Name, strings.ToLower(get("name.startswith"))) &&
		strings.HasSuffix(r.Name, strings.ToLower(get("name.endswith"))) &&
		(get("content") == "" || get("content") == r.Content) &&
		(get("content.exact") == "" || get("content.exact") == r.Content) &&
		(get("proxied") == "" || get("proxied") == map[bool]string{true: "true", false: "false"}[r.Proxied])
}

func (e *Emulator) createRecord(c *call) error {
	var in recordInput
	if err := c.decodeJSON(&in); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	z, aerr := c.zone()
	if aerr != nil {
		return aerr
	}
	r := &dnsRecord{ID: newID(), CreatedOn: c.now, ModifiedOn: c.now}
	if aerr := in.apply(z, r); aerr != nil {
		return aerr
	}
	if aerr := z.conflict(r); aerr != nil {
		return aerr
	}
	z.Records[r.ID] = r
	return e.commit(c, r.json())
}

func (c *call) record() (*zone, *dnsRecord, *apiErr) {
	z, aerr := c.zone()
	if aerr != nil {
		return nil, nil, aerr
	}
	r := z.Records[c.param("record_id")]
	if r == nil {
		return nil, nil, recordMissing()
	}
	return z, r, nil
}

func (e *Emulator) getRecord(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, r, aerr := c.record()
	if aerr != nil {
		return aerr
	}
	return c.ok(r.json())
}

func (e *Emulator) editRecord(c *call) error    { return e.updateRecord(c, false) }
func (e *Emulator) replaceRecord(c *call) error { return e.updateRecord(c, true) }

// updateRecord is PATCH (merge) or PUT (replace) of a record.
func (e *Emulator) updateRecord(c *call, replace bool) error {
	var in recordInput
	if err := c.decodeJSON(&in); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	z, old, aerr := c.record()
	if aerr != nil {
		return aerr
	}
	r := *old
	if replace {
		r = dnsRecord{ID: old.ID, CreatedOn: old.CreatedOn}
	}
	r.ModifiedOn = c.now
	if aerr := in.apply(z, &r); aerr != nil {
		return aerr
	}
	if aerr := z.conflict(&r); aerr != nil {
		return aerr
	}
	*old = r
	return e.commit(c, r.json())
}

func (e *Emulator) deleteRecord(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	z, r, aerr := c.record()
	if aerr != nil {
		return aerr
	}
	delete(z.Records, r.ID)
	return e.commit(c, map[string]string{"id": r.ID})
}
