package cloudflare

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"
	"github.com/cloudflare/cloudflare-go/v6/zones"
)

// maxHostnameLabels bounds the walk from a hostname up to its zone.
const maxHostnameLabels = 127

// Zone is a DNS zone of the account.
type Zone struct {
	ID     string
	Name   string
	Status string
}

// ZoneFor finds the account's zone a hostname belongs to: the longest zone
// name that is the hostname or a parent of it. None is an error wrapping
// ErrNotFound.
func (c *Client) ZoneFor(ctx context.Context, hostname string) (Zone, error) {
	host := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(hostname, "*."), "."))
	labels := strings.Split(host, ".")
	if host == "" || len(labels) > maxHostnameLabels {
		return Zone{}, fmt.Errorf("zone of %q: not a hostname", hostname)
	}
	svc := zones.NewZoneService(c.sdk...)
	for i := 0; i < len(labels)-1; i++ {
		name := strings.Join(labels[i:], ".")
		var p zones.ZoneListParams
		p.Name.Value, p.Name.Present = name, true
		if c.accountID != "" {
			var a zones.ZoneListParamsAccount
			a.ID.Value, a.ID.Present = c.accountID, true
			p.Account.Value, p.Account.Present = a, true
		}
		var env struct {
			Result []struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"result"`
		}
		if _, err := svc.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
			return Zone{}, fmt.Errorf("zone of %s: %w", host, err)
		}
		for _, z := range env.Result {
			if strings.EqualFold(z.Name, name) {
				return Zone{ID: z.ID, Name: z.Name, Status: z.Status}, nil
			}
		}
	}
	return Zone{}, fmt.Errorf("zone of %s: %w: no zone of account %s holds it (add the zone to Cloudflare first)", host, ErrNotFound, c.accountID)
}

// DNSRecord is a DNS record of a zone.
type DNSRecord struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	Content string `json:"content"`
	Proxied bool   `json:"proxied"`
	TTL     int    `json:"ttl"` // 1 means automatic
	Comment string `json:"comment,omitempty"`
}

// DNSRecords lists the records of a zone called name (every record when
// name is "").
func (c *Client) DNSRecords(ctx context.Context, zoneID, name string) ([]DNSRecord, error) {
	svc := dns.NewRecordService(c.sdk...)
	var out []DNSRecord
	for page := 1; ; page++ {
		var p dns.RecordListParams
		p.ZoneID.Value, p.ZoneID.Present = zoneID, true
		if name != "" {
			var n dns.RecordListParamsName
			n.Exact.Value, n.Exact.Present = strings.ToLower(name), true
			p.Name.Value, p.Name.Present = n, true
		}
		p.Page.Value, p.Page.Present = float64(page), true
		p.PerPage.Value, p.PerPage.Present = 1000, true
		var env struct {
			Result []struct {
				DNSRecord
				Comment *string `json:"comment"`
			} `json:"result"`
			ResultInfo struct {
				TotalPages int `json:"total_pages"`
			} `json:"result_info"`
		}
		if _, err := svc.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
			return nil, fmt.Errorf("list dns records of zone %s: %w", zoneID, err)
		}
		for _, r := range env.Result {
			rec := r.DNSRecord
			if r.Comment != nil {
				rec.Comment = *r.Comment
			}
			out = append(out, rec)
		}
		if len(env.Result) == 0 || page >= env.ResultInfo.TotalPages {
			return out, nil
		}
	}
}

func (r DNSRecord) body() dns.RecordNewParamsBody {
	var b dns.RecordNewParamsBody
	b.Name.Value, b.Name.Present = r.Name, true
	b.Type.Value, b.Type.Present = dns.RecordNewParamsBodyType(r.Type), true
	b.Content.Value, b.Content.Present = r.Content, true
	b.Proxied.Value, b.Proxied.Present = r.Proxied, true
	ttl := r.TTL
	if ttl == 0 {
		ttl = 1
	}
	b.TTL.Value, b.TTL.Present = dns.TTL(ttl), true
	b.Comment.Value, b.Comment.Present = r.Comment, true
	return b
}

// CreateDNSRecord creates a record and returns it with its id.
func (c *Client) CreateDNSRecord(ctx context.Context, zoneID string, r DNSRecord) (DNSRecord, error) {
	var p dns.RecordNewParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	p.Body = r.body()
	var env struct {
		Result DNSRecord `json:"result"`
	}
	if _, err := dns.NewRecordService(c.sdk...).New(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return DNSRecord{}, fmt.Errorf("create dns record %s %s: %w", r.Type, r.Name, err)
	}
	out := env.Result
	out.Comment = r.Comment
	return out, nil
}

// UpdateDNSRecord overwrites the record r.ID.
func (c *Client) UpdateDNSRecord(ctx context.Context, zoneID string, r DNSRecord) (DNSRecord, error) {
	var p dns.RecordUpdateParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	b := r.body()
	var u dns.RecordUpdateParamsBody
	u.Name, u.Content, u.Proxied, u.Comment = b.Name, b.Content, b.Proxied, b.Comment
	u.TTL = b.TTL
	u.Type.Value, u.Type.Present = dns.RecordUpdateParamsBodyType(r.Type), true
	p.Body = u
	var env struct {
		Result DNSRecord `json:"result"`
	}
	if _, err := dns.NewRecordService(c.sdk...).Update(ctx, r.ID, p, option.WithResponseBodyInto(&env)); err != nil {
		return DNSRecord{}, fmt.Errorf("update dns record %s %s: %w", r.Type, r.Name, c.notFound(err, "dns record "+r.ID))
	}
	out := env.Result
	out.Comment = r.Comment
	return out, nil
}

// DeleteDNSRecord deletes a record; a missing one is an error wrapping
// ErrNotFound.
func (c *Client) DeleteDNSRecord(ctx context.Context, zoneID, id string) error {
	var p dns.RecordDeleteParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	if _, err := dns.NewRecordService(c.sdk...).Delete(ctx, id, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("delete dns record %s: %w", id, c.notFound(err, "dns record "+id))
	}
	return nil
}

// Route sends the requests matching Pattern in a zone to a Worker.
type Route struct {
	ID      string `json:"id"`
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
}

// Routes lists the Worker routes of a zone, by pattern.
func (c *Client) Routes(ctx context.Context, zoneID string) ([]Route, error) {
	var p workers.RouteListParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	var env struct {
		Result []Route `json:"result"`
	}
	if _, err := c.workersSDK().Routes.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, fmt.Errorf("list worker routes of zone %s: %w", zoneID, err)
	}
	sort.Slice(env.Result, func(i, j int) bool { return env.Result[i].Pattern < env.Result[j].Pattern })
	return env.Result, nil
}

// CreateRoute adds a route of a zone to a Worker.
func (c *Client) CreateRoute(ctx context.Context, zoneID, pattern, script string) (Route, error) {
	var p workers.RouteNewParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	p.Pattern.Value, p.Pattern.Present = pattern, true
	p.Script.Value, p.Script.Present = script, true
	var env struct {
		Result Route `json:"result"`
	}
	if _, err := c.workersSDK().Routes.New(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return Route{}, fmt.Errorf("create route %s: %w", pattern, err)
	}
	r := env.Result
	if r.Pattern == "" {
		r.Pattern, r.Script = pattern, script
	}
	return r, nil
}

// UpdateRoute points the route id at pattern and script.
func (c *Client) UpdateRoute(ctx context.Context, zoneID string, r Route) (Route, error) {
	var p workers.RouteUpdateParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	p.ID.Value, p.ID.Present = r.ID, true
	p.Pattern.Value, p.Pattern.Present = r.Pattern, true
	p.Script.Value, p.Script.Present = r.Script, true
	var env struct {
		Result Route `json:"result"`
	}
	if _, err := c.workersSDK().Routes.Update(ctx, r.ID, p, option.WithResponseBodyInto(&env)); err != nil {
		return Route{}, fmt.Errorf("update route %s: %w", r.Pattern, c.notFound(err, "route "+r.ID))
	}
	return env.Result, nil
}

// DeleteRoute removes a route; a missing one is an error wrapping
// ErrNotFound.
func (c *Client) DeleteRoute(ctx context.Context, zoneID, id string) error {
	var p workers.RouteDeleteParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	if _, err := c.workersSDK().Routes.Delete(ctx, id, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("delete route %s: %w", id, c.notFound(err, "route "+id))
	}
	return nil
}

// Domain is a custom domain: a hostname whose every request goes to a
// Worker (Cloudflare creates and owns its DNS record and certificate).
type Domain struct {
	ID          string `json:"id,omitempty"`
	Hostname    string `json:"hostname"`
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	ZoneID      string `json:"zone_id,omitempty"`
	ZoneName    string `json:"zone_name,omitempty"`
}

// Domains lists the account's custom domains; a non-empty service or
// hostname filters them.
func (c *Client) Domains(ctx context.Context, service, hostname string) ([]Domain, error) {
	if err := c.needAccount(); err != nil {
		return nil, err
	}
	var p workers.DomainListParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	if service != "" {
		p.Service.Value, p.Service.Present = service, true
	}
	if hostname != "" {
		p.Hostname.Value, p.Hostname.Present = strings.ToLower(hostname), true
	}
	var env struct {
		Result []Domain `json:"result"`
	}
	if _, err := c.workersSDK().Domains.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, fmt.Errorf("list custom domains: %w", err)
	}
	sort.Slice(env.Result, func(i, j int) bool { return env.Result[i].Hostname < env.Result[j].Hostname })
	return env.Result, nil
}

// AttachDomain attaches a hostname to a Worker (an upsert by hostname).
func (c *Client) AttachDomain(ctx context.Context, d Domain) (Domain, error) {
	if err := c.needAccount(); err != nil {
		return Domain{}, err
	}
	var p workers.DomainUpdateParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	p.Hostname.Value, p.Hostname.Present = strings.ToLower(d.Hostname), true
	p.Service.Value, p.Service.Present = d.Service, true
	if d.Environment != "" {
		p.Environment.Value, p.Environment.Present = d.Environment, true
	}
	if d.ZoneID != "" {
		p.ZoneID.Value, p.ZoneID.Present = d.ZoneID, true
	}
	var env struct {
		Result Domain `json:"result"`
	}
	if _, err := c.workersSDK().Domains.Update(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return Domain{}, fmt.Errorf("attach custom domain %s to %s: %w", d.Hostname, d.Service, err)
	}
	return env.Result, nil
}

// DetachDomain removes a custom domain; a missing one is an error wrapping
// ErrNotFound.
func (c *Client) DetachDomain(ctx context.Context, id string) error {
	if err := c.needAccount(); err != nil {
		return err
	}
	var p workers.DomainDeleteParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	if _, err := c.workersSDK().Domains.Delete(ctx, id, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("detach custom domain %s: %w", id, c.notFound(err, "custom domain "+id))
	}
	return nil
}

// AccountSubdomain returns the account's workers.dev subdomain (the NAME of
// NAME.workers.dev); a missing one is an error wrapping ErrNotFound.
func (c *Client) AccountSubdomain(ctx context.Context) (string, error) {
	if err := c.needAccount(); err != nil {
		return "", err
	}
	var p workers.SubdomainGetParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	var env struct {
		Result struct {
			Subdomain string `json:"subdomain"`
		} `json:"result"`
	}
	if _, err := c.workersSDK().Subdomains.Get(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return "", fmt.Errorf("workers.dev subdomain: %w", c.notFound(err, "workers.dev subdomain"))
	}
	return env.Result.Subdomain, nil
}

// SetWorkersDev turns a Worker's workers.dev URL on or off.
func (c *Client) SetWorkersDev(ctx context.Context, script string, enabled bool) error {
	if _, err := c.scriptPath(script); err != nil {
		return err
	}
	var p workers.ScriptSubdomainNewParams
	p.AccountID.Value, p.AccountID.Present = c.accountParam()
	p.Enabled.Value, p.Enabled.Present = enabled, true
	if _, err := c.workersSDK().Scripts.Subdomain.New(ctx, script, p, option.WithResponseBodyInto(&json.RawMessage{})); err != nil {
		return fmt.Errorf("workers.dev for %s: %w", script, c.notFound(err, "worker "+script))
	}
	return nil
}
