package deploy

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

const (
	emuToken   = "deploy-test-token"
	emuAccount = "0123456789abcdef0123456789abcdef"
)

func emulator(t *testing.T) *cloudflare.Client {
	t.Helper()
	emu, err := cfemu.New(cfemu.Options{Token: emuToken, RateLimit: -1, Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: emuAccount}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: emuToken, AccountID: emuAccount,
		Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestObserve_EmptyThenDeployed: Observe reads an empty account as a first
// deploy, and an account where the Spec was set up by hand (through the
// client, as a deploy would) as a plan with no changes.
func TestObserve_EmptyThenDeployed(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	s := testSpec()
	st, err := Observe(ctx, c, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live != nil || len(st.Namespaces) != 0 || st.Zone.Name != "example.com" {
		t.Fatalf("empty account observed as %+v", st)
	}
	if p := Compute(s, st, PlanOptions{SecretAvailable: func(string) bool { return true }}); !p.FirstDeploy || !p.HasChanges() {
		t.Fatalf("plan for an empty account: %+v", p)
	}

	ns, _, err := c.EnsureNamespace(ctx, "app-config")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.EnsureBucket(ctx, "app-files"); err != nil {
		t.Fatal(err)
	}
	db, _, err := c.EnsureDatabase(ctx, "app-db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadScript(ctx, "app", cloudflare.Upload{MainModule: "index.js",
		Modules:  []cloudflare.Module{{Name: "index.js", Content: s.Script}},
		Bindings: s.Bindings(map[string]string{"app-config": ns.ID}, map[string]string{"app-db": db.UUID}), CompatibilityDate: s.CompatibilityDate,
		CompatibilityFlags: s.CompatibilityFlags}); err != nil {
		t.Fatal(err)
	}
	// The first upload is a script upload, which carries no tag: upload the
	// same code as a tagged version and deploy it, as deploy does.
	v, err := c.UploadVersion(ctx, "app", cloudflare.Upload{MainModule: "index.js",
		Modules:  []cloudflare.Module{{Name: "index.js", Content: s.Script}},
		Bindings: s.Bindings(map[string]string{"app-config": ns.ID}, map[string]string{"app-db": db.UUID}), CompatibilityDate: s.CompatibilityDate,
		CompatibilityFlags: s.CompatibilityFlags, KeepBindings: []string{"secret_text"}, Tag: s.CodeTag()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v.ID, Percentage: 100}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutSecret(ctx, "app", "DASHBOARD_TOKEN", "x"); err != nil {
		t.Fatal(err)
	}
	z, err := c.ZoneFor(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoute(ctx, z.ID, "app.example.com/*", "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttachDomain(ctx, cloudflare.Domain{Hostname: "dash.example.com", Service: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDNSRecord(ctx, z.ID, cloudflare.DNSRecord{Type: "CNAME", Name: "app.example.com", Content: "app.workers.dev", Proxied: true, Comment: ownerComment("app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDNSRecord(ctx, z.ID, cloudflare.DNSRecord{Type: "A", Name: "unrelated.example.com", Content: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}

	st, err = Observe(ctx, c, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Live == nil || st.Live.ID != v.ID || len(st.DNS) != 1 || len(st.Routes) != 1 || len(st.Domains) != 1 || len(st.Secrets) != 1 {
		t.Fatalf("deployed account observed as %+v", st)
	}
	p := Compute(s, st, PlanOptions{})
	if p.HasChanges() || len(p.Problems) != 0 {
		var b []Change
		for _, c := range p.Changes {
			if c.Action != Adopt {
				b = append(b, c)
			}
		}
		t.Fatalf("plan after setting everything up: changes %+v, problems %q", b, p.Problems)
	}
}

// fakeAPI fails the call named by fail.
type fakeAPI struct{ fail string }

var errBoom = errors.New("boom")

func (f fakeAPI) err(name string) error {
	if f.fail == name {
		return errBoom
	}
	return nil
}
func (f fakeAPI) Namespaces(context.Context) ([]cloudflare.Namespace, error) {
	return nil, f.err("Namespaces")
}
func (f fakeAPI) Bucket(context.Context, string) (cloudflare.Bucket, error) {
	if err := f.err("Bucket"); err != nil {
		return cloudflare.Bucket{}, err
	}
	return cloudflare.Bucket{}, cloudflare.ErrNotFound
}
func (f fakeAPI) Database(context.Context, string) (cloudflare.Database, error) {
	if err := f.err("Database"); err != nil {
		return cloudflare.Database{}, err
	}
	return cloudflare.Database{}, cloudflare.ErrNotFound
}
func (f fakeAPI) Deployments(context.Context, string) ([]cloudflare.Deployment, error) {
	if err := f.err("Deployments"); err != nil {
		return nil, err
	}
	return []cloudflare.Deployment{{Versions: []cloudflare.Split{{VersionID: "a", Percentage: 10}, {VersionID: "b", Percentage: 90}}}}, nil
}
func (f fakeAPI) Version(_ context.Context, _, id string) (cloudflare.Version, error) {
	return cloudflare.Version{ID: id}, f.err("Version")
}
func (f fakeAPI) Secrets(context.Context, string) ([]string, error) { return nil, f.err("Secrets") }
func (f fakeAPI) ZoneFor(context.Context, string) (cloudflare.Zone, error) {
	return cloudflare.Zone{ID: "z"}, f.err("ZoneFor")
}
func (f fakeAPI) Routes(context.Context, string) ([]cloudflare.Route, error) {
	return nil, f.err("Routes")
}
func (f fakeAPI) Domains(_ context.Context, service, _ string) ([]cloudflare.Domain, error) {
	if service == "" {
		return nil, f.err("Domains(hostname)")
	}
	return nil, f.err("Domains")
}
func (f fakeAPI) DNSRecords(context.Context, string, string) ([]cloudflare.DNSRecord, error) {
	return nil, f.err("DNSRecords")
}

// TestObserve_Failures: a failing read fails Observe with its error; a
// missing bucket or database is not a failure; the live version is the
// one with the largest share.
func TestObserve_Failures(t *testing.T) {
	ctx := context.Background()
	st, err := Observe(ctx, fakeAPI{}, testSpec())
	if err != nil {
		t.Fatal(err)
	}
	if st.Live == nil || st.Live.ID != "b" || len(st.LiveSplit) != 2 {
		t.Fatalf("live = %+v", st.Live)
	}
	for _, name := range []string{"Namespaces", "Bucket", "Database", "Deployments", "Version", "Secrets", "ZoneFor", "Routes", "Domains", "Domains(hostname)", "DNSRecords"} {
		if _, err := Observe(ctx, fakeAPI{fail: name}, testSpec()); !errors.Is(err, errBoom) {
			t.Errorf("%s failing: Observe = %v", name, err)
		}
	}
	s := testSpec()
	s.ZoneID = "given"
	if st, err := Observe(ctx, fakeAPI{fail: "ZoneFor"}, s); err != nil || st.Zone.ID != "given" {
		t.Errorf("a configured zone id is used without a lookup: %+v, %v", st.Zone, err)
	}
}
