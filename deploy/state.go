package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/d1/migrate"
)

// API is what Observe reads from the account; *cloudflare.Client has it.
type API interface {
	Namespaces(ctx context.Context) ([]cloudflare.Namespace, error)
	Bucket(ctx context.Context, name string) (cloudflare.Bucket, error)
	Database(ctx context.Context, name string) (cloudflare.Database, error)
	Deployments(ctx context.Context, script string) ([]cloudflare.Deployment, error)
	Version(ctx context.Context, script, id string) (cloudflare.Version, error)
	Secrets(ctx context.Context, script string) ([]string, error)
	ZoneFor(ctx context.Context, hostname string) (cloudflare.Zone, error)
	Routes(ctx context.Context, zoneID string) ([]cloudflare.Route, error)
	Domains(ctx context.Context, service, hostname string) ([]cloudflare.Domain, error)
	DNSRecords(ctx context.Context, zoneID, name string) ([]cloudflare.DNSRecord, error)
}

// State is what the account has for a Spec.
type State struct {
	Namespaces map[string]string // title → id
	Buckets    map[string]bool
	Databases  map[string]string // name → uuid
	// Live is the version with the largest share of the live deployment;
	// nil when the Worker does not exist yet.
	Live      *cloudflare.Version
	LiveSplit []cloudflare.Split
	Secrets   []string
	Zone      cloudflare.Zone // zero when the Spec needs no zone
	Routes    []cloudflare.Route
	// Domains holds the custom domains of the Spec's hostnames, whatever
	// Worker they point at, and those of the Worker.
	Domains []cloudflare.Domain
	DNS     []cloudflare.DNSRecord // the records named by the Spec or owned by edgeconf
	// PendingMigrations are the migration files (by database name) not yet
	// applied to the database; all of them for a database to be created.
	PendingMigrations map[string][]string
}

// d1API opens a D1 database to read its applied migrations; Observe uses it
// when the API has it (*cloudflare.Client does).
type d1API interface {
	D1(db cloudflare.Database) *cloudflare.D1
}

// Observe reads what the account has for spec. It changes nothing.
func Observe(ctx context.Context, api API, spec Spec) (State, error) {
	st := State{Namespaces: map[string]string{}, Buckets: map[string]bool{}, Databases: map[string]string{}}
	if len(spec.KV) > 0 {
		nss, err := api.Namespaces(ctx)
		if err != nil {
			return State{}, err
		}
		for _, ns := range nss {
			st.Namespaces[ns.Title] = ns.ID
		}
	}
	for _, b := range spec.R2 {
		_, err := api.Bucket(ctx, b.Bucket)
		switch {
		case err == nil:
			st.Buckets[b.Bucket] = true
		case !errors.Is(err, cloudflare.ErrNotFound):
			return State{}, err
		}
	}
	st.PendingMigrations = map[string][]string{}
	for _, d := range spec.D1 {
		db, err := api.Database(ctx, d.Name)
		switch {
		case err == nil:
			st.Databases[d.Name] = db.UUID
		case !errors.Is(err, cloudflare.ErrNotFound):
			return State{}, err
		}
		if err := observeMigrations(ctx, api, spec, d.Name, db, err == nil, &st); err != nil {
			return State{}, err
		}
	}
	deps, err := api.Deployments(ctx, spec.Worker)
	switch {
	case errors.Is(err, cloudflare.ErrNotFound):
	case err != nil:
		return State{}, err
	case len(deps) > 0 && len(deps[0].Versions) > 0:
		st.LiveSplit = deps[0].Versions
		best := deps[0].Versions[0]
		for _, v := range deps[0].Versions {
			if v.Percentage > best.Percentage {
				best = v
			}
		}
		v, err := api.Version(ctx, spec.Worker, best.VersionID)
		if err != nil {
			return State{}, fmt.Errorf("the live version of %s: %w", spec.Worker, err)
		}
		st.Live = &v
		if st.Secrets, err = api.Secrets(ctx, spec.Worker); err != nil {
			return State{}, err
		}
		// A secret set with a version is a secret_text binding of it.
		for _, b := range v.Bindings {
			if b.Type == "secret_text" && !slices.Contains(st.Secrets, b.Name) {
				st.Secrets = append(st.Secrets, b.Name)
			}
		}
		sort.Strings(st.Secrets)
	}
	if err := observeZone(ctx, api, spec, &st); err != nil {
		return State{}, err
	}
	return st, nil
}

func observeZone(ctx context.Context, api API, spec Spec, st *State) error {
	seen := map[string]bool{}
	add := func(ds []cloudflare.Domain) {
		for _, d := range ds {
			if !seen[d.ID] {
				seen[d.ID] = true
				st.Domains = append(st.Domains, d)
			}
		}
	}
	// Custom domains belong to the account: the Worker's own are found
	// whatever the configuration still names.
	if st.Live != nil {
		own, err := api.Domains(ctx, spec.Worker, "")
		if err != nil {
			return err
		}
		add(own)
	}
	for _, r := range spec.Routes {
		if r.CustomDomain {
			ds, err := api.Domains(ctx, "", routeHost(r.Pattern))
			if err != nil {
				return err
			}
			add(ds)
		}
	}
	// Routes and records live in a zone: the configured one, else the zone
	// of the first hostname, else of the domain (so that routes and records
	// the configuration dropped are still found).
	hosts := spec.Hostnames()
	switch {
	case spec.ZoneID != "":
		st.Zone = cloudflare.Zone{ID: spec.ZoneID, Name: spec.Domain}
	case len(hosts) > 0:
		z, err := api.ZoneFor(ctx, hosts[0])
		if err != nil {
			return fmt.Errorf("routes and DNS records need their zone (set cloudflare.zoneId): %w", err)
		}
		st.Zone = z
	case spec.Domain != "" && st.Live != nil:
		z, err := api.ZoneFor(ctx, spec.Domain)
		if errors.Is(err, cloudflare.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Zone = z
	default:
		return nil
	}
	routes, err := api.Routes(ctx, st.Zone.ID)
	if err != nil {
		return err
	}
	st.Routes = routes
	recs, err := api.DNSRecords(ctx, st.Zone.ID, "")
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, r := range spec.DNS {
		named[r.Name] = true
	}
	for _, r := range recs {
		if named[r.Name] || r.Comment == ownerComment(spec.Worker) {
			st.DNS = append(st.DNS, r)
		}
	}
	return nil
}

// ownerComment is the comment of the DNS records edgeconf keeps for a
// Worker.
func ownerComment(worker string) string { return OwnerComment + " (" + worker + ")" }

func observeMigrations(ctx context.Context, api API, spec Spec, name string, db cloudflare.Database, exists bool, st *State) error {
	dir := spec.MigrationsDir[name]
	if dir == "" {
		return nil
	}
	var pending []migrate.Migration
	var err error
	if o, ok := api.(d1API); ok && exists {
		pending, err = migrate.Pending(ctx, o.D1(db), dir)
	} else {
		pending, err = migrate.List(dir)
	}
	if err != nil {
		return fmt.Errorf("d1 database %s: %w", name, err)
	}
	for _, m := range pending {
		st.PendingMigrations[name] = append(st.PendingMigrations[name], m.Name)
	}
	return nil
}
