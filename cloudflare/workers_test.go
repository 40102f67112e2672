package cloudflare_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

func workerUpload(code string) cloudflare.Upload {
	return cloudflare.Upload{
		MainModule: "index.js",
		Modules:    []cloudflare.Module{{Name: "index.js", Content: []byte(code)}},
		Bindings: []cloudflare.Binding{
			{Type: "kv_namespace", Name: "CONFIG", NamespaceID: "0123456789abcdef0123456789abcdef"},
			{Type: "plain_text", Name: "ENVIRONMENT", Text: "production"},
		},
		CompatibilityDate:  "2026-01-01",
		CompatibilityFlags: []string{"nodejs_compat"},
		KeepBindings:       []string{"secret_text"},
	}
}

// TestWorkers_UploadVersionDeployRollback walks the life of a Worker: a
// script upload (live at 100 %), a version upload (not live), a 90/10
// split, a rollback to the first version, and deletion.
func TestWorkers_UploadVersionDeployRollback(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, ctx := e.client, context.Background()

	if _, err := c.UploadVersion(ctx, "app", workerUpload("v0")); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("a version of a Worker that does not exist: %v, want ErrNotFound", err)
	}
	if _, err := c.Deployments(ctx, "app"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("deployments of a missing Worker: %v, want ErrNotFound", err)
	}
	res, err := c.UploadScript(ctx, "app", workerUpload("export default {fetch(){return new Response('1')}}"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Etag == "" {
		t.Errorf("script upload answered no etag: %+v", res)
	}
	deps, err := c.Deployments(ctx, "app")
	if err != nil || len(deps) != 1 || len(deps[0].Versions) != 1 || deps[0].Versions[0].Percentage != 100 || deps[0].Versions[0].VersionID != res.VersionID {
		t.Fatalf("after the first upload (version %s), deployments = %+v, %v; want it at 100 %%", res.VersionID, deps, err)
	}
	first := deps[0].Versions[0].VersionID

	up := workerUpload("export default {fetch(){return new Response('2')}}")
	up.Message, up.Tag = "second", "v2"
	second, err := c.UploadVersion(ctx, "app", up)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID == "" || second.ID == first || second.Number != 2 {
		t.Fatalf("second version = %+v", second)
	}
	got, err := c.Version(ctx, "app", second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Message != "second" || got.Tag != "v2" || got.CompatibilityDate != "2026-01-01" ||
		len(got.CompatibilityFlags) != 1 || got.Etag == "" {
		t.Errorf("version = %+v", got)
	}
	if len(got.Bindings) != 2 || got.Bindings[0].NamespaceID != "0123456789abcdef0123456789abcdef" || got.Bindings[1].Text != "production" {
		t.Errorf("bindings came back as %+v", got.Bindings)
	}
	if deps, _ := c.Deployments(ctx, "app"); len(deps) != 1 || deps[0].Versions[0].VersionID != first {
		t.Fatalf("a version upload changed what is live: %+v", deps)
	}

	split, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{
		Versions: []cloudflare.Split{{VersionID: second.ID, Percentage: 10}, {VersionID: first, Percentage: 90}},
		Message:  "canary",
	})
	if err != nil {
		t.Fatal(err)
	}
	deps, err = c.Deployments(ctx, "app")
	if err != nil || len(deps) != 2 || deps[0].ID != split.ID || deps[0].Message != "canary" || len(deps[0].Versions) != 2 {
		t.Fatalf("deployments after the split = %+v, %v", deps, err)
	}
	vs, err := c.Versions(ctx, "app", 0)
	if err != nil || len(vs) != 2 || vs[0].ID != second.ID || vs[1].ID != first {
		t.Fatalf("versions = %+v, %v; want newest first", vs, err)
	}
	if vs, err := c.Versions(ctx, "app", 1); err != nil || len(vs) != 1 {
		t.Fatalf("versions with limit 1 = %+v, %v", vs, err)
	}
	if _, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: first, Percentage: 100}}, Message: "rollback"}); err != nil {
		t.Fatal(err)
	}
	if deps, _ := c.Deployments(ctx, "app"); deps[0].Versions[0].VersionID != first || deps[0].Versions[0].Percentage != 100 {
		t.Fatalf("after the rollback the live split is %+v", deps[0])
	}
	scripts, err := c.Scripts(ctx)
	if err != nil || len(scripts) != 1 || scripts[0].Name != "app" {
		t.Fatalf("scripts = %+v, %v", scripts, err)
	}
	if err := c.DeleteScript(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteScript(ctx, "app"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("deleting a deleted Worker: %v, want ErrNotFound", err)
	}
}

// TestWorkers_RefusedBeforeSending: uploads and deployments the API would
// refuse fail in the client, naming the rule, without a request.
func TestWorkers_RefusedBeforeSending(t *testing.T) {
	requests := 0
	e := newEnv(t, envOptions{emu: cfemu.Options{OnRequest: func(cfemu.Event) { requests++ }}})
	c, ctx := e.client, context.Background()
	noMain := workerUpload("x")
	noMain.MainModule = "main.js"
	secret := workerUpload("x")
	secret.Bindings = append(secret.Bindings, cloudflare.Binding{Type: "secret_text", Name: "TOKEN", Text: "hunter2"})
	long := workerUpload("x")
	long.Message = strings.Repeat("m", cloudflare.MaxVersionMessage+1)
	longTag := workerUpload("x")
	longTag.Tag = strings.Repeat("t", cloudflare.MaxVersionTag+1)
	migr := workerUpload("x")
	migr.Migrations = &cloudflare.Migrations{NewTag: "v1", NewClasses: []string{"TerminalSession"}}
	empty := workerUpload("x")
	empty.Modules = nil
	for name, tc := range map[string]struct {
		up   cloudflare.Upload
		want string
	}{
		"main module missing": {noMain, `main module "main.js"`},
		"secret in bindings":  {secret, "Upload.Secrets"},
		"message too long":    {long, "MaxVersionMessage"},
		"tag too long":        {longTag, "MaxVersionTag"},
		"no modules":          {empty, "1 to 1000 modules"},
		"migrations":          {migr, "script upload"},
	} {
		_, err := c.UploadVersion(ctx, "app", tc.up)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		splits []cloudflare.Split
		want   string
	}{
		"none":     {nil, "between 1 and 2"},
		"three":    {[]cloudflare.Split{{"a", 50}, {"b", 25}, {"c", 25}}, "between 1 and 2"},
		"sum":      {[]cloudflare.Split{{"a", 50}, {"b", 40}}, "not 100"},
		"twice":    {[]cloudflare.Split{{"a", 50}, {"a", 50}}, "twice"},
		"negative": {[]cloudflare.Split{{"a", -10}, {"b", 110}}, "between 0 and 100"},
		"no id":    {[]cloudflare.Split{{"", 100}}, "without an id"},
	} {
		_, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: tc.splits})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("deploy %s: %v, want an error naming %q", name, err, tc.want)
		}
	}
	if requests != 0 {
		t.Errorf("%d requests were sent for uploads and deployments the client should refuse", requests)
	}
}

// TestWorkers_Secrets: secrets are set, listed by name only and deleted;
// their values appear in no error.
func TestWorkers_Secrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, ctx := e.client, context.Background()
	const value = "s3cr3t-value-never-printed"
	if err := c.PutSecret(ctx, "app", "TOKEN", value); !errors.Is(err, cloudflare.ErrNotFound) || strings.Contains(err.Error(), value) {
		t.Fatalf("secret of a missing Worker: %v (want ErrNotFound, without the value)", err)
	}
	if _, err := c.UploadScript(ctx, "app", workerUpload("x")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"TOKEN", "API_KEY"} {
		if err := c.PutSecret(ctx, "app", n, value); err != nil {
			t.Fatal(err)
		}
	}
	names, err := c.Secrets(ctx, "app")
	if err != nil || strings.Join(names, ",") != "API_KEY,TOKEN" {
		t.Fatalf("secrets = %v, %v", names, err)
	}
	if err := c.DeleteSecret(ctx, "app", "TOKEN"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteSecret(ctx, "app", "TOKEN"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("deleting a deleted secret: %v", err)
	}
	if names, _ := c.Secrets(ctx, "app"); len(names) != 1 || names[0] != "API_KEY" {
		t.Fatalf("secrets after delete = %v", names)
	}
	if err := c.PutSecret(ctx, "app", "", value); err == nil {
		t.Fatal("a secret without a name was accepted")
	}
}

// TestZones_DNSRoutesDomains: the zone of a hostname, DNS records, routes
// and custom domains, as the deployer uses them.
func TestZones_DNSRoutesDomains(t *testing.T) {
	e := newEnv(t, envOptions{emu: cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: testAccount}, {Name: "eu.example.com", AccountID: testAccount}}}})
	c, ctx := e.client, context.Background()
	z, err := c.ZoneFor(ctx, "app.example.com")
	if err != nil || z.Name != "example.com" || z.ID == "" {
		t.Fatalf("zone of app.example.com = %+v, %v", z, err)
	}
	if z2, err := c.ZoneFor(ctx, "*.api.eu.example.com"); err != nil || z2.Name != "eu.example.com" {
		t.Fatalf("the longest zone wins: %+v, %v", z2, err)
	}
	if _, err := c.ZoneFor(ctx, "app.example.org"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("a hostname in no zone: %v", err)
	}
	if _, err := c.ZoneFor(ctx, ""); err == nil {
		t.Fatal("an empty hostname has a zone")
	}

	rec, err := c.CreateDNSRecord(ctx, z.ID, cloudflare.DNSRecord{Type: "CNAME", Name: "app.example.com", Content: "app.workers.dev", Proxied: true, Comment: "managed by edgeconf"})
	if err != nil || rec.ID == "" {
		t.Fatalf("create record = %+v, %v", rec, err)
	}
	if _, err := c.CreateDNSRecord(ctx, z.ID, cloudflare.DNSRecord{Type: "A", Name: "other.example.com", Content: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	recs, err := c.DNSRecords(ctx, z.ID, "APP.example.com")
	if err != nil || len(recs) != 1 || recs[0].Comment != "managed by edgeconf" || !recs[0].Proxied || recs[0].ID != rec.ID {
		t.Fatalf("records of app = %+v, %v", recs, err)
	}
	if all, err := c.DNSRecords(ctx, z.ID, ""); err != nil || len(all) != 2 || all[1].Comment != "" {
		t.Fatalf("all records = %+v, %v", all, err)
	}
	rec.Content = "app2.workers.dev"
	if up, err := c.UpdateDNSRecord(ctx, z.ID, rec); err != nil || up.Content != "app2.workers.dev" {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if err := c.DeleteDNSRecord(ctx, z.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteDNSRecord(ctx, z.ID, rec.ID); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("deleting a deleted record: %v", err)
	}

	if _, err := c.UploadScript(ctx, "app", workerUpload("x")); err != nil {
		t.Fatal(err)
	}
	r, err := c.CreateRoute(ctx, z.ID, "app.example.com/*", "app")
	if err != nil || r.ID == "" || r.Script != "app" {
		t.Fatalf("create route = %+v, %v", r, err)
	}
	if _, err := c.CreateRoute(ctx, z.ID, "app.example.com/*", "app"); err == nil {
		t.Fatal("a second route with the same pattern was accepted")
	}
	r.Pattern = "app.example.com/api/*"
	if r2, err := c.UpdateRoute(ctx, z.ID, r); err != nil || r2.Pattern != "app.example.com/api/*" {
		t.Fatalf("update route = %+v, %v", r2, err)
	}
	if rs, err := c.Routes(ctx, z.ID); err != nil || len(rs) != 1 || rs[0].Pattern != "app.example.com/api/*" {
		t.Fatalf("routes = %+v, %v", rs, err)
	}
	if err := c.DeleteRoute(ctx, z.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRoute(ctx, z.ID, r.ID); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("deleting a deleted route: %v", err)
	}

	d, err := c.AttachDomain(ctx, cloudflare.Domain{Hostname: "Dash.Example.com", Service: "app", ZoneID: z.ID})
	if err != nil || d.ID == "" || d.Hostname != "dash.example.com" || d.ZoneName != "example.com" {
		t.Fatalf("attach domain = %+v, %v", d, err)
	}
	if again, err := c.AttachDomain(ctx, cloudflare.Domain{Hostname: "dash.example.com", Service: "app"}); err != nil || again.ID != d.ID {
		t.Fatalf("attaching again is an upsert: %+v, %v", again, err)
	}
	if ds, err := c.Domains(ctx, "app", ""); err != nil || len(ds) != 1 {
		t.Fatalf("domains of app = %+v, %v", ds, err)
	}
	if ds, err := c.Domains(ctx, "", "other.example.com"); err != nil || len(ds) != 0 {
		t.Fatalf("domains filtered by another hostname = %+v, %v", ds, err)
	}
	if err := c.DetachDomain(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DetachDomain(ctx, d.ID); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("detaching a detached domain: %v", err)
	}
}

// TestWorkers_NeedAccount: every account-scoped call names the missing
// account id instead of sending a request.
func TestWorkers_NeedAccount(t *testing.T) {
	c, err := cloudflare.New(cloudflare.Options{BaseURL: "http://127.0.0.1:1/client/v4", Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]error{}
	_, calls["UploadScript"] = c.UploadScript(ctx, "app", workerUpload("x"))
	_, calls["UploadVersion"] = c.UploadVersion(ctx, "app", workerUpload("x"))
	_, calls["Versions"] = c.Versions(ctx, "app", 0)
	_, calls["Version"] = c.Version(ctx, "app", "v")
	_, calls["Deploy"] = c.Deploy(ctx, "app", cloudflare.DeployOptions{})
	_, calls["Deployments"] = c.Deployments(ctx, "app")
	_, calls["Scripts"] = c.Scripts(ctx)
	calls["DeleteScript"] = c.DeleteScript(ctx, "app")
	calls["PutSecret"] = c.PutSecret(ctx, "app", "A", "b")
	_, calls["Secrets"] = c.Secrets(ctx, "app")
	calls["DeleteSecret"] = c.DeleteSecret(ctx, "app", "A")
	_, calls["Domains"] = c.Domains(ctx, "", "")
	_, calls["AttachDomain"] = c.AttachDomain(ctx, cloudflare.Domain{})
	calls["DetachDomain"] = c.DetachDomain(ctx, "d")
	_, calls["AccountSubdomain"] = c.AccountSubdomain(ctx)
	calls["SetWorkersDev"] = c.SetWorkersDev(ctx, "app", true)
	for name, err := range calls {
		if err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_ACCOUNT_ID") {
			t.Errorf("%s without an account: %v", name, err)
		}
	}
}

// TestDeleteResources: namespaces, buckets and databases are deleted, and
// deleting what is gone is ErrNotFound.
func TestDeleteResources(t *testing.T) {
	e := newEnv(t, envOptions{})
	c, ctx := e.client, context.Background()
	ns, _, err := c.EnsureNamespace(ctx, "to-delete")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.EnsureBucket(ctx, "to-delete"); err != nil {
		t.Fatal(err)
	}
	db, _, err := c.EnsureDatabase(ctx, "to-delete")
	if err != nil {
		t.Fatal(err)
	}
	for name, del := range map[string]func() error{
		"namespace": func() error { return c.DeleteNamespace(ctx, ns.ID) },
		"bucket":    func() error { return c.DeleteBucket(ctx, "to-delete") },
		"database":  func() error { return c.DeleteDatabase(ctx, db.UUID) },
	} {
		if err := del(); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		if err := del(); !errors.Is(err, cloudflare.ErrNotFound) {
			t.Errorf("delete %s again: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := c.DatabaseByID(ctx, db.UUID); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Errorf("a deleted database by id: %v", err)
	}
}
