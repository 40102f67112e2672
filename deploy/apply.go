package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/d1/migrate"
)

// Account is what Apply reads and changes; *cloudflare.Client has it.
type Account interface {
	API
	EnsureNamespace(ctx context.Context, title string) (cloudflare.Namespace, bool, error)
	EnsureBucket(ctx context.Context, name string) (cloudflare.Bucket, bool, error)
	EnsureDatabase(ctx context.Context, name string) (cloudflare.Database, bool, error)
	Scripts(ctx context.Context) ([]cloudflare.Script, error)
	UploadScript(ctx context.Context, script string, up cloudflare.Upload) (cloudflare.ScriptUploadResult, error)
	UploadVersion(ctx context.Context, script string, up cloudflare.Upload) (cloudflare.Version, error)
	Versions(ctx context.Context, script string, limit int) ([]cloudflare.Version, error)
	Deploy(ctx context.Context, script string, o cloudflare.DeployOptions) (cloudflare.Deployment, error)
	CreateRoute(ctx context.Context, zoneID, pattern, script string) (cloudflare.Route, error)
	UpdateRoute(ctx context.Context, zoneID string, r cloudflare.Route) (cloudflare.Route, error)
	DeleteRoute(ctx context.Context, zoneID, id string) error
	AttachDomain(ctx context.Context, d cloudflare.Domain) (cloudflare.Domain, error)
	DetachDomain(ctx context.Context, id string) error
	CreateDNSRecord(ctx context.Context, zoneID string, r cloudflare.DNSRecord) (cloudflare.DNSRecord, error)
	UpdateDNSRecord(ctx context.Context, zoneID string, r cloudflare.DNSRecord) (cloudflare.DNSRecord, error)
	DeleteDNSRecord(ctx context.Context, zoneID, id string) error
	D1(db cloudflare.Database) *cloudflare.D1
}

// ApplyOptions control a deploy.
type ApplyOptions struct {
	// Yes allows destructive changes.
	Yes bool
	// Migrate applies the pending D1 migrations before the upload; without
	// it they are left, with a warning.
	Migrate bool
	// AllowTakeover allows changing routes, custom domains and DNS
	// records edgeconf did not create.
	AllowTakeover bool
	// Secret returns the value of a declared secret the Worker lacks.
	Secret  func(name string) (string, bool)
	Message string // the version's and deployments' workers/message
	// Canary is the share (1–99 %) the new version gets during the canary
	// window; 0 promotes to 100 % right after the smoke test.
	Canary float64
	Gate   Gate
	// Prober checks the new version through the Worker's URL; nil skips
	// the smoke test and the canary (which then needs one: an error).
	Prober Prober
	// Errors, if set, counts the unhandled errors the Worker recorded per
	// version (monitoring.errorTracking): a canary also fails when its
	// version recorded more than the gate's error rate allows.
	Errors ErrorSource
	// Journal records each step, so that a rerun after a crash resumes
	// instead of uploading again; nil keeps no journal.
	Journal *Journal
	Now     func() time.Time                                 // nil means time.Now
	Sleep   func(ctx context.Context, d time.Duration) error // nil means a timer
	Logger  *slog.Logger
	// Progress, if set, is told each step as it starts.
	Progress func(step string)
}

// Outcome is how a deploy ended.
type Outcome string

// The outcomes of a deploy.
const (
	Unchanged  Outcome = "unchanged"   // nothing to do
	Promoted   Outcome = "promoted"    // the new version is live at 100 %
	RolledBack Outcome = "rolled-back" // the gate failed; the previous version is live at 100 %
)

// Result is what a deploy did.
type Result struct {
	Worker          string      `json:"worker"`
	Outcome         Outcome     `json:"outcome"`
	VersionID       string      `json:"versionId,omitempty"`
	PreviousVersion string      `json:"previousVersionId,omitempty"`
	CodeTag         string      `json:"codeTag"`
	Steps           []string    `json:"steps"`
	Smoke           *GateReport `json:"smoke,omitempty"`
	Canary          *GateReport `json:"canary,omitempty"`
	Warnings        []string    `json:"warnings,omitempty"`
}

// ErrRefused is wrapped by the errors of a deploy that was refused before
// it changed anything (a problem, a destructive change without Yes, a
// takeover without AllowTakeover).
var ErrRefused = errors.New("deploy refused")

// ErrUnhealthy is wrapped by the error of a deploy whose new version failed
// its smoke test or canary gate (and was rolled back).
var ErrUnhealthy = errors.New("the new version is unhealthy")

type applier struct {
	acct Account
	p    *Prepared
	o    ApplyOptions
	res  *Result
}

func (a *applier) step(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	a.res.Steps = append(a.res.Steps, s)
	if a.o.Progress != nil {
		a.o.Progress(s)
	}
	a.o.Logger.Info("deploy: " + s)
}

// Check refuses a plan that cannot be applied with these options. It
// changes nothing.
func Check(p Plan, o ApplyOptions) error {
	if len(p.Problems) > 0 {
		return fmt.Errorf("%w: %s", ErrRefused, strings.Join(p.Problems, "; "))
	}
	if d := p.Destructive(); len(d) > 0 && !o.Yes {
		return fmt.Errorf("%w: %d destructive change(s) (%s); rerun with --yes to apply them", ErrRefused, len(d), names(d))
	}
	if t := p.Takeovers(); len(t) > 0 && !o.AllowTakeover {
		return fmt.Errorf("%w: %d change(s) to routes, domains or records edgeconf did not create (%s); rerun with --allow-dns-takeover to take them over", ErrRefused, len(t), names(t))
	}
	if o.Canary != 0 && (o.Canary < 1 || o.Canary > 99) {
		return fmt.Errorf("%w: a canary gets 1 to 99 %% of the traffic, not %v", ErrRefused, o.Canary)
	}
	if o.Canary != 0 && o.Prober == nil {
		return fmt.Errorf("%w: a canary needs a URL to probe the Worker at", ErrRefused)
	}
	return nil
}

func names(cs []Change) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind+" "+c.Name)
	}
	return strings.Join(out, ", ")
}

// Apply carries out a prepared deploy: provisioning, the upload, the smoke
// test and canary gate (promote or roll back), then routes, custom domains
// and DNS records. A refused or unhealthy deploy returns an error wrapping
// ErrRefused or ErrUnhealthy, with the Result of what was done.
func Apply(ctx context.Context, acct Account, p *Prepared, o ApplyOptions) (*Result, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	a := &applier{acct: acct, p: p, o: o, res: &Result{Worker: p.Spec.Worker, CodeTag: p.Plan.CodeTag, Steps: []string{}}}
	if err := Check(p.Plan, o); err != nil {
		return a.res, err
	}
	if !p.Plan.HasChanges() {
		a.res.Outcome = Unchanged
		if p.State.Live != nil {
			a.res.VersionID = p.State.Live.ID
		}
		return a.res, nil
	}
	namespaces, databases, err := a.provision(ctx)
	if err != nil {
		return a.res, err
	}
	if err := a.migrate(ctx, databases); err != nil {
		return a.res, err
	}
	if err := a.release(ctx, namespaces, databases); err != nil {
		return a.res, err
	}
	if err := a.triggers(ctx); err != nil {
		return a.res, err
	}
	if err := a.checkFirst(ctx); err != nil {
		return a.res, err
	}
	if o.Journal != nil {
		if err := o.Journal.Done(p.Spec.Worker); err != nil {
			return a.res, err
		}
	}
	return a.res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// provision creates (or adopts) the namespaces, buckets and databases.
func (a *applier) provision(ctx context.Context) (namespaces, databases map[string]string, err error) {
	namespaces, databases = map[string]string{}, map[string]string{}
	for t, id := range a.p.State.Namespaces {
		namespaces[t] = id
	}
	for n, id := range a.p.State.Databases {
		databases[n] = id
	}
	for _, c := range a.p.Plan.Changes {
		if c.Action != Create {
			continue
		}
		switch c.Kind {
		case "kv_namespace":
			a.step("create kv namespace %s", c.Name)
			ns, _, err := a.acct.EnsureNamespace(ctx, c.Name)
			if err != nil {
				return nil, nil, err
			}
			namespaces[c.Name] = ns.ID
		case "r2_bucket":
			a.step("create r2 bucket %s", c.Name)
			if _, _, err := a.acct.EnsureBucket(ctx, c.Name); err != nil {
				return nil, nil, err
			}
		case "d1_database":
			a.step("create d1 database %s", c.Name)
			db, _, err := a.acct.EnsureDatabase(ctx, c.Name)
			if err != nil {
				return nil, nil, err
			}
			databases[c.Name] = db.UUID
		}
	}
	return namespaces, databases, nil
}

// upload is the Worker upload of the Spec.
func (a *applier) upload(namespaces, databases map[string]string) (cloudflare.Upload, error) {
	s := a.p.Spec
	up := cloudflare.Upload{
		MainModule: "index.js",
		Modules:    []cloudflare.Module{{Name: "index.js", ContentType: "application/javascript+module", Content: s.Script}},
		Bindings:   s.Bindings(namespaces, databases), CompatibilityDate: s.CompatibilityDate,
		CompatibilityFlags: s.CompatibilityFlags, KeepBindings: []string{"secret_text", "secret_key"},
		Message: a.o.Message, Tag: a.p.Plan.CodeTag,
	}
	for _, c := range a.p.Plan.Changes {
		if c.Kind != "secret" || c.Action != Create {
			continue
		}
		v, ok := "", false
		if a.o.Secret != nil {
			v, ok = a.o.Secret(c.Name)
		}
		if !ok {
			return up, fmt.Errorf("%w: secret %s has no value at hand", ErrRefused, c.Name)
		}
		if up.Secrets == nil {
			up.Secrets = map[string]string{}
		}
		up.Secrets[c.Name] = v
	}
	return up, nil
}

// migrationTag names a migration after the classes it leaves.
func migrationTag(classes []string) string {
	sum := sha256.Sum256([]byte(strings.Join(classes, ",")))
	return "ec-" + hex.EncodeToString(sum[:])[:12]
}

// release uploads the new version and makes it live: straight away on a
// first deploy or a Durable Object migration (a script upload), else
// through the smoke test and canary gate.
func (a *applier) release(ctx context.Context, namespaces, databases map[string]string) error {
	s, st := a.p.Spec, a.p.State
	codeChanged := a.p.Plan.FirstDeploy || hasKind(a.p.Plan, "code", "compatibility", "binding", "var", "secret", "do_migration")
	if !codeChanged {
		if st.Live != nil {
			a.res.VersionID = st.Live.ID
		}
		if hasKind(a.p.Plan, "deployment") {
			a.step("put version %s back at 100 %% (an interrupted deploy left traffic split)", st.Live.ID)
			if _, err := a.acct.Deploy(ctx, s.Worker, cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: st.Live.ID, Percentage: 100}}, Message: a.o.Message}); err != nil {
				return err
			}
		}
		a.res.Outcome = Promoted
		return nil
	}
	up, err := a.upload(namespaces, databases)
	if err != nil {
		return err
	}
	if st.Live != nil {
		a.res.PreviousVersion = st.Live.ID
	}
	if a.p.Plan.FirstDeploy || a.p.Plan.Migration != nil {
		return a.scriptUpload(ctx, up)
	}
	// Resume: a version of this code uploaded by an interrupted run is
	// used again instead of uploading a second one.
	var v cloudflare.Version
	if j := a.o.Journal; j != nil {
		if e, ok := j.Entry(s.Worker); ok && e.CodeTag == up.Tag && e.VersionID != "" {
			if got, err := a.acct.Version(ctx, s.Worker, e.VersionID); err == nil && got.Tag == up.Tag {
				v = got
				a.step("resume: version %s of this code was uploaded by an interrupted deploy", v.ID)
				if e.PreviousVersion != "" {
					a.res.PreviousVersion = e.PreviousVersion
				}
			}
		}
	}
	if v.ID == "" {
		a.step("upload version (code %s)", up.Tag)
		if v, err = a.acct.UploadVersion(ctx, s.Worker, up); err != nil {
			return err
		}
	}
	a.res.VersionID = v.ID
	if err := a.journal(Entry{CodeTag: up.Tag, VersionID: v.ID, PreviousVersion: a.res.PreviousVersion, Phase: "uploaded"}); err != nil {
		return err
	}
	return a.gate(ctx, v.ID, a.res.PreviousVersion)
}

func (a *applier) journal(e Entry) error {
	if a.o.Journal == nil {
		return nil
	}
	e.Worker, e.At = a.p.Spec.Worker, a.o.Now().UTC()
	return a.o.Journal.Record(e)
}

func hasKind(p Plan, kinds ...string) bool {
	for _, c := range p.Changes {
		for _, k := range kinds {
			if c.Kind == k && c.Action != Adopt {
				return true
			}
		}
	}
	return false
}

// scriptUpload makes the code live at 100 % at once (the first upload of a
// Worker, or a Durable Object migration, which version uploads cannot
// carry), then uploads the same code as a tagged version and deploys it, so
// that later plans recognise the code.
func (a *applier) scriptUpload(ctx context.Context, up cloudflare.Upload) error {
	s := a.p.Spec
	if m := a.p.Plan.Migration; m != nil {
		mig := *m
		mig.NewTag = migrationTag(s.Classes())
		if !a.p.Plan.FirstDeploy {
			scripts, err := a.acct.Scripts(ctx)
			if err != nil {
				return err
			}
			for _, sc := range scripts {
				if sc.Name == s.Worker {
					mig.OldTag = sc.MigrationTag
				}
			}
			a.res.Warnings = append(a.res.Warnings, "a Durable Object migration goes live at 100 % at once (version uploads cannot carry migrations): no canary")
		}
		up.Migrations = &mig
	}
	if a.p.Plan.FirstDeploy && a.o.Canary > 0 {
		a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("no canary: this is the Worker's first version, live at once, so there is nothing to split %v %% of the traffic with", a.o.Canary))
	}
	a.step("upload script (live at 100 %%)")
	tagged := up
	up.Message, up.Tag = "", ""
	if _, err := a.acct.UploadScript(ctx, s.Worker, up); err != nil {
		return err
	}
	a.step("upload the same code as version %s", tagged.Tag)
	tagged.Migrations, tagged.Secrets = nil, nil
	v, err := a.acct.UploadVersion(ctx, s.Worker, tagged)
	if err != nil {
		return err
	}
	a.res.VersionID = v.ID
	if _, err := a.acct.Deploy(ctx, s.Worker, cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v.ID, Percentage: 100}}, Message: a.o.Message}); err != nil {
		return err
	}
	a.res.Outcome = Promoted
	// A first deploy is probed once its routes exist (see Apply): until
	// then nothing routes to it, and there is nothing to roll back to.
	if a.o.Prober != nil && !a.p.Plan.FirstDeploy {
		rep := a.probe(ctx, v.ID, 1, a.o.Gate.withDefaults().SmokeProbes, 0)
		a.res.Smoke = &rep
		if !rep.Healthy {
			return a.rollback(ctx, "smoke test: "+rep.Reason)
		}
	}
	return nil
}

// checkFirst probes a first deploy once its routes and domains exist.
func (a *applier) checkFirst(ctx context.Context) error {
	if a.o.Prober == nil || !a.p.Plan.FirstDeploy || a.res.VersionID == "" {
		return nil
	}
	a.step("smoke test of the first version %s", a.res.VersionID)
	rep := a.probe(ctx, a.res.VersionID, 1, a.o.Gate.withDefaults().SmokeProbes, 0)
	a.res.Smoke = &rep
	if !rep.Healthy {
		a.res.Outcome = Outcome("unhealthy")
		return fmt.Errorf("%w: %s (it is live: a first deploy has no previous version to roll back to)", ErrUnhealthy, rep.Reason)
	}
	return nil
}

// gate runs the smoke test (new at 0 %) and the canary, then promotes the
// new version or rolls back to the previous one.
func (a *applier) gate(ctx context.Context, newID, prevID string) error {
	s, g := a.p.Spec, a.o.Gate.withDefaults()
	deploy := func(splits []cloudflare.Split, msg string) error {
		_, err := a.acct.Deploy(ctx, s.Worker, cloudflare.DeployOptions{Versions: splits, Message: msg})
		return err
	}
	if a.o.Prober != nil && prevID != "" {
		a.step("smoke test: version %s at 0 %%, probed with the version override header", newID)
		if err := deploy([]cloudflare.Split{{VersionID: prevID, Percentage: 100}, {VersionID: newID, Percentage: 0}}, "edgeconf smoke test"); err != nil {
			return err
		}
		if err := a.journal(Entry{CodeTag: a.p.Plan.CodeTag, VersionID: newID, PreviousVersion: prevID, Phase: "smoke"}); err != nil {
			return err
		}
		rep := a.probe(ctx, newID, 1, g.SmokeProbes, 0)
		a.res.Smoke = &rep
		if !rep.Healthy {
			return a.rollback(ctx, "smoke test: "+rep.Reason)
		}
	}
	if a.o.Canary > 0 && prevID != "" {
		a.step("canary: version %s at %v %% for %s", newID, a.o.Canary, g.Window)
		if err := deploy([]cloudflare.Split{{VersionID: newID, Percentage: a.o.Canary}, {VersionID: prevID, Percentage: 100 - a.o.Canary}}, "edgeconf canary"); err != nil {
			return err
		}
		if err := a.journal(Entry{CodeTag: a.p.Plan.CodeTag, VersionID: newID, PreviousVersion: prevID, Phase: "canary"}); err != nil {
			return err
		}
		rep := a.probe(ctx, newID, g.MinProbes, 0, g.Window)
		a.recordedErrors(ctx, newID, &rep)
		a.res.Canary = &rep
		if !rep.Healthy {
			return a.rollback(ctx, "canary: "+rep.Reason)
		}
	}
	a.step("promote version %s to 100 %%", newID)
	if err := deploy([]cloudflare.Split{{VersionID: newID, Percentage: 100}}, a.o.Message); err != nil {
		return err
	}
	a.res.Outcome = Promoted
	return a.journal(Entry{CodeTag: a.p.Plan.CodeTag, VersionID: newID, PreviousVersion: prevID, Phase: "promoted"})
}

// rollback puts the previous version back at 100 %.
func (a *applier) rollback(ctx context.Context, reason string) error {
	prev := a.res.PreviousVersion
	a.step("roll back to version %s at 100 %%: %s", prev, reason)
	if _, err := a.acct.Deploy(ctx, a.p.Spec.Worker, cloudflare.DeployOptions{
		Versions: []cloudflare.Split{{VersionID: prev, Percentage: 100}}, Message: "edgeconf rollback: " + truncate(reason, 60)}); err != nil {
		return fmt.Errorf("%w: %s; and the rollback to %s failed: %w", ErrUnhealthy, reason, prev, err)
	}
	a.res.Outcome = RolledBack
	if err := a.journal(Entry{CodeTag: a.p.Plan.CodeTag, VersionID: a.res.VersionID, PreviousVersion: prev, Phase: "rolled-back"}); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s; version %s is live again at 100 %%", ErrUnhealthy, reason, prev)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// triggers applies routes, custom domains and DNS records: after the new
// version is live, since Cloudflare does not version them.
func (a *applier) triggers(ctx context.Context) error {
	if a.res.Outcome == RolledBack {
		return nil
	}
	s, st := a.p.Spec, a.p.State
	zone := st.Zone.ID
	for _, c := range a.p.Plan.Changes {
		var err error
		switch {
		case c.Kind == "route" && c.Action == Create:
			a.step("create route %s", c.Name)
			_, err = a.acct.CreateRoute(ctx, zone, c.Name, s.Worker)
		case c.Kind == "route" && c.Action == Update:
			a.step("point route %s at %s", c.Name, s.Worker)
			for _, r := range st.Routes {
				if r.Pattern == c.Name {
					r.Script = s.Worker
					_, err = a.acct.UpdateRoute(ctx, zone, r)
				}
			}
		case c.Kind == "route" && c.Action == Delete:
			a.step("delete route %s", c.Name)
			for _, r := range st.Routes {
				if r.Pattern == c.Name && r.Script == s.Worker {
					err = ignoreNotFound(a.acct.DeleteRoute(ctx, zone, r.ID))
				}
			}
		case c.Kind == "custom_domain" && (c.Action == Create || c.Action == Update):
			a.step("attach custom domain %s", c.Name)
			_, err = a.acct.AttachDomain(ctx, cloudflare.Domain{Hostname: c.Name, Service: s.Worker, ZoneID: zone})
		case c.Kind == "custom_domain" && c.Action == Delete:
			a.step("detach custom domain %s", c.Name)
			for _, d := range st.Domains {
				if d.Hostname == c.Name && d.Service == s.Worker {
					err = ignoreNotFound(a.acct.DetachDomain(ctx, d.ID))
				}
			}
		case c.Kind == "dns_record":
			err = a.record(ctx, c)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) record(ctx context.Context, c Change) error {
	s, st := a.p.Spec, a.p.State
	zone := st.Zone.ID
	owner := ownerComment(s.Worker)
	typ, name, _ := strings.Cut(c.Name, " ")
	var want *cloudflare.DNSRecord
	for _, w := range s.DNS {
		if strings.EqualFold(w.Type, typ) && w.Name == name {
			want = &cloudflare.DNSRecord{Type: strings.ToUpper(w.Type), Name: w.Name, Content: w.Content, Proxied: w.Proxied, TTL: w.TTL, Comment: owner}
		}
	}
	var have *cloudflare.DNSRecord
	for i, r := range st.DNS {
		if strings.EqualFold(r.Type, typ) && r.Name == name {
			have = &st.DNS[i]
		}
	}
	switch c.Action {
	case Create:
		a.step("create dns record %s", c.Name)
		_, err := a.acct.CreateDNSRecord(ctx, zone, *want)
		return err
	case Update:
		a.step("update dns record %s", c.Name)
		want.ID = have.ID
		_, err := a.acct.UpdateDNSRecord(ctx, zone, *want)
		return err
	case Delete:
		a.step("delete dns record %s", c.Name)
		if have != nil && have.Comment == owner {
			return ignoreNotFound(a.acct.DeleteDNSRecord(ctx, zone, have.ID))
		}
	}
	return nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, cloudflare.ErrNotFound) {
		return nil
	}
	return err
}

// migrate applies the pending D1 migrations (with Migrate), or warns.
func (a *applier) migrate(ctx context.Context, databases map[string]string) error {
	for _, d := range a.p.Spec.D1 {
		pending := a.p.State.PendingMigrations[d.Name]
		if len(pending) == 0 {
			continue
		}
		if !a.o.Migrate {
			a.res.Warnings = append(a.res.Warnings, fmt.Sprintf("%d migration(s) of d1 database %s are not applied: rerun with --migrate, or run edgeconf d1 migrations apply %s --remote", len(pending), d.Name, d.Binding))
			continue
		}
		id := databases[d.Name]
		if d.ID != "" {
			id = d.ID
		}
		a.step("apply %d migration(s) to d1 database %s", len(pending), d.Name)
		done, err := migrate.ApplyPending(ctx, a.acct.D1(cloudflare.Database{UUID: id, Name: d.Name}), a.p.Spec.MigrationsDir[d.Name], migrate.Options{Logger: a.o.Logger})
		for _, m := range done {
			a.step("applied migration %s/%s", d.Name, m.Name)
		}
		if err != nil {
			return fmt.Errorf("d1 database %s: %w (nothing was uploaded; the migrations before it stay applied)", d.Name, err)
		}
	}
	return nil
}
