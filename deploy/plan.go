package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/termsafe"
)

// Action is what a change does.
type Action string

// The actions of a plan.
const (
	Create Action = "create" // a new resource, binding, secret, route or record
	Adopt  Action = "adopt"  // an existing resource of the account, used as it is
	Update Action = "update"
	Delete Action = "delete"
)

// mark is the action's sign in a plan: + create, = adopt, ~ update,
// - delete.
func (a Action) mark() string {
	switch a {
	case Create:
		return "+"
	case Adopt:
		return "="
	case Update:
		return "~"
	case Delete:
		return "-"
	}
	return ""
}

// Change is one line of a plan.
type Change struct {
	Action Action `json:"action"`
	// Kind is kv_namespace, r2_bucket, d1_database, d1_migration, worker, code, deployment,
	// compatibility, binding, var, secret, do_migration, route,
	// custom_domain or dns_record.
	Kind string `json:"kind"`
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Destructive changes remove something (a binding, a class, a route,
	// a record): a deploy needs --yes for them.
	Destructive bool `json:"destructive,omitempty"`
	// Takeover changes a route, custom domain or DNS record that edgeconf
	// did not create: a deploy refuses it without --allow-dns-takeover.
	Takeover bool   `json:"takeover,omitempty"`
	Note     string `json:"note,omitempty"`
}

// Plan is what a deploy of a Spec to an account would change.
type Plan struct {
	Worker      string   `json:"worker"`
	FirstDeploy bool     `json:"firstDeploy"`
	CodeTag     string   `json:"codeTag"`
	Changes     []Change `json:"changes"`
	// Problems stop a deploy before anything is uploaded (a secret with no
	// value anywhere).
	Problems []string `json:"problems"`
	// Migration is the Durable Object migration the deploy sends; nil when
	// the classes do not change.
	Migration *cloudflare.Migrations `json:"migration,omitempty"`
}

// PlanOptions are the inputs of Compute beyond the Spec and State.
type PlanOptions struct {
	// SecretAvailable reports whether a value for the secret is at hand
	// (environment or secrets file). nil means none is.
	SecretAvailable func(name string) bool
}

// HasChanges reports whether the plan changes anything (adopting an
// existing resource changes nothing).
func (p Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != Adopt {
			return true
		}
	}
	return false
}

// Destructive lists the destructive changes.
func (p Plan) Destructive() []Change { return p.filter(func(c Change) bool { return c.Destructive }) }

// Takeovers lists the changes to things edgeconf does not own.
func (p Plan) Takeovers() []Change { return p.filter(func(c Change) bool { return c.Takeover }) }

func (p Plan) filter(keep func(Change) bool) []Change {
	var out []Change
	for _, c := range p.Changes {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// Compute diffs what spec wants with what the account has. It is pure.
func Compute(spec Spec, st State, o PlanOptions) Plan {
	p := Plan{Worker: spec.Worker, FirstDeploy: st.Live == nil, CodeTag: spec.CodeTag(), Changes: []Change{}, Problems: []string{}}
	add := func(c Change) { p.Changes = append(p.Changes, c) }
	namespaces, databases := planResources(spec, st, add)

	if st.Live == nil {
		add(Change{Action: Create, Kind: "worker", Name: spec.Worker, Note: "first deploy: a script upload, live at 100 % at once"})
		add(Change{Action: Create, Kind: "code", Name: spec.Worker, To: p.CodeTag})
	} else if st.Live.Tag != p.CodeTag {
		from := st.Live.Tag
		if from == "" {
			from = "version " + st.Live.ID + " (not uploaded by edgeconf)"
		}
		add(Change{Action: Update, Kind: "code", Name: spec.Worker, From: from, To: p.CodeTag})
	}
	if st.Live != nil && len(st.LiveSplit) > 1 && st.Live.Tag == p.CodeTag {
		// An interrupted canary left traffic split: the code wanted is the
		// majority's, so it goes back to 100 %.
		add(Change{Action: Update, Kind: "deployment", Name: spec.Worker, From: splitDesc(st.LiveSplit), To: st.Live.ID + " at 100 %"})
	}
	if st.Live != nil {
		if st.Live.CompatibilityDate != spec.CompatibilityDate {
			add(Change{Action: Update, Kind: "compatibility", Name: "compatibility_date", From: st.Live.CompatibilityDate, To: spec.CompatibilityDate})
		}
		if !sameSet(st.Live.CompatibilityFlags, spec.CompatibilityFlags) {
			add(Change{Action: Update, Kind: "compatibility", Name: "compatibility_flags",
				From: strings.Join(st.Live.CompatibilityFlags, ","), To: strings.Join(spec.CompatibilityFlags, ",")})
		}
	}
	planBindings(spec, st, namespaces, databases, add)
	p.Migration = planClasses(spec, st, add)
	for _, name := range spec.Secrets {
		switch {
		case slices.Contains(st.Secrets, name):
		case o.SecretAvailable != nil && o.SecretAvailable(name):
			add(Change{Action: Create, Kind: "secret", Name: name, Note: "value from the environment (never printed)"})
		default:
			p.Problems = append(p.Problems, fmt.Sprintf("secret %s is declared (cloudflare.secrets) but the Worker has no value for it and none is at hand: set %s in the environment or the .env beside the configuration", name, name))
		}
	}
	for _, d := range spec.D1 {
		for _, m := range st.PendingMigrations[d.Name] {
			add(Change{Action: Create, Kind: "d1_migration", Name: d.Name + "/" + m, Note: "applied by deploy --migrate, before the upload"})
		}
	}
	planRoutes(spec, st, add)
	planDNS(spec, st, add)
	return p
}

func planResources(spec Spec, st State, add func(Change)) (namespaces, databases map[string]string) {
	namespaces, databases = map[string]string{}, map[string]string{}
	for _, k := range spec.KV {
		title := kvTitle(k)
		if id, ok := st.Namespaces[title]; ok {
			namespaces[title] = id
			add(Change{Action: Adopt, Kind: "kv_namespace", Name: title, Note: "exists: " + id})
		} else if k.ID == "" {
			add(Change{Action: Create, Kind: "kv_namespace", Name: title})
		}
	}
	for _, b := range spec.R2 {
		if st.Buckets[b.Bucket] {
			add(Change{Action: Adopt, Kind: "r2_bucket", Name: b.Bucket, Note: "exists"})
		} else {
			add(Change{Action: Create, Kind: "r2_bucket", Name: b.Bucket})
		}
	}
	for _, d := range spec.D1 {
		if id, ok := st.Databases[d.Name]; ok {
			databases[d.Name] = id
			add(Change{Action: Adopt, Kind: "d1_database", Name: d.Name, Note: "exists: " + id})
		} else if d.ID == "" {
			add(Change{Action: Create, Kind: "d1_database", Name: d.Name})
		}
	}
	return namespaces, databases
}

// describe says what a binding points at, for a plan line.
func describe(b cloudflare.Binding) string {
	switch b.Type {
	case "kv_namespace":
		return "kv namespace " + orNew(b.NamespaceID)
	case "r2_bucket":
		return "r2 bucket " + b.BucketName
	case "d1":
		return "d1 database " + orNew(b.ID)
	case "durable_object_namespace":
		if b.ScriptName != "" {
			return "durable object " + b.ClassName + " of " + b.ScriptName
		}
		return "durable object " + b.ClassName
	case "plain_text":
		return fmt.Sprintf("%q", b.Text)
	case "json":
		return string(b.JSON)
	}
	return b.Type
}

func orNew(id string) string {
	if id == "" {
		return "(created by this deploy)"
	}
	return id
}

func planBindings(spec Spec, st State, namespaces, databases map[string]string, add func(Change)) {
	if st.Live == nil {
		return // the first upload carries every binding; the resources above say what is new
	}
	live := map[string]cloudflare.Binding{}
	for _, b := range st.Live.Bindings {
		if b.Type != "secret_text" && b.Type != "secret_key" && b.Type != "inherit" {
			live[b.Name] = b
		}
	}
	for _, want := range spec.Bindings(namespaces, databases) {
		kind := "binding"
		if want.Type == "plain_text" {
			kind = "var"
		}
		have, ok := live[want.Name]
		delete(live, want.Name)
		switch {
		case !ok:
			add(Change{Action: Create, Kind: kind, Name: want.Name, To: describe(want)})
		case describe(have) != describe(want) && !(have.Type == want.Type && unknownID(want)):
			add(Change{Action: Update, Kind: kind, Name: want.Name, From: describe(have), To: describe(want)})
		}
	}
	names := make([]string, 0, len(live))
	for n := range live {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kind := "binding"
		if live[n].Type == "plain_text" {
			kind = "var"
		}
		add(Change{Action: Delete, Kind: kind, Name: n, From: describe(live[n]), Destructive: true,
			Note: "the code loses env." + n})
	}
}

// unknownID reports whether a binding points at a resource whose id the
// configuration leaves to provisioning and the account does not have yet.
func unknownID(b cloudflare.Binding) bool {
	return (b.Type == "kv_namespace" && b.NamespaceID == "") || (b.Type == "d1" && b.ID == "")
}

func planClasses(spec Spec, st State, add func(Change)) *cloudflare.Migrations {
	var have []string
	if st.Live != nil {
		for _, b := range st.Live.Bindings {
			if b.Type == "durable_object_namespace" && (b.ScriptName == "" || b.ScriptName == spec.Worker) {
				have = append(have, b.ClassName)
			}
		}
	}
	sort.Strings(have)
	have = dedupe(have)
	want := spec.Classes()
	m := &cloudflare.Migrations{}
	for _, c := range want {
		if !slices.Contains(have, c) {
			m.NewSQLiteClasses = append(m.NewSQLiteClasses, c)
			add(Change{Action: Create, Kind: "do_migration", Name: c, Note: "new SQLite-backed Durable Object class"})
		}
	}
	for _, c := range have {
		if !slices.Contains(want, c) {
			m.DeletedClasses = append(m.DeletedClasses, c)
			add(Change{Action: Delete, Kind: "do_migration", Name: c, Destructive: true, Note: "deletes the class and every object's storage"})
		}
	}
	if len(m.NewSQLiteClasses) == 0 && len(m.DeletedClasses) == 0 {
		return nil
	}
	return m
}

func planRoutes(spec Spec, st State, add func(Change)) {
	wantRoute, wantDomain := map[string]bool{}, map[string]bool{}
	for _, r := range spec.Routes {
		if r.CustomDomain {
			host := routeHost(r.Pattern)
			wantDomain[host] = true
			var have *cloudflare.Domain
			for i, d := range st.Domains {
				if d.Hostname == host {
					have = &st.Domains[i]
				}
			}
			switch {
			case have == nil:
				add(Change{Action: Create, Kind: "custom_domain", Name: host})
			case have.Service != spec.Worker:
				add(Change{Action: Update, Kind: "custom_domain", Name: host, From: "worker " + have.Service, To: "worker " + spec.Worker, Takeover: true})
			}
			continue
		}
		wantRoute[r.Pattern] = true
		var have *cloudflare.Route
		for i, x := range st.Routes {
			if x.Pattern == r.Pattern {
				have = &st.Routes[i]
			}
		}
		switch {
		case have == nil:
			add(Change{Action: Create, Kind: "route", Name: r.Pattern})
		case have.Script != spec.Worker:
			add(Change{Action: Update, Kind: "route", Name: r.Pattern, From: "worker " + orNone(have.Script), To: "worker " + spec.Worker, Takeover: true})
		}
	}
	for _, x := range st.Routes {
		if x.Script == spec.Worker && !wantRoute[x.Pattern] {
			add(Change{Action: Delete, Kind: "route", Name: x.Pattern, Destructive: true})
		}
	}
	for _, d := range st.Domains {
		if d.Service == spec.Worker && !wantDomain[d.Hostname] {
			add(Change{Action: Delete, Kind: "custom_domain", Name: d.Hostname, Destructive: true})
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func recordName(r cloudflare.DNSRecord) string { return r.Type + " " + r.Name }

func recordDesc(r cloudflare.DNSRecord) string {
	s := r.Content
	if r.Proxied {
		s += " (proxied)"
	}
	if r.TTL > 1 {
		s += fmt.Sprintf(" ttl %d", r.TTL)
	}
	return s
}

func planDNS(spec Spec, st State, add func(Change)) {
	owner := ownerComment(spec.Worker)
	wanted := map[string]bool{}
	for _, w := range spec.DNS {
		want := cloudflare.DNSRecord{Type: strings.ToUpper(w.Type), Name: w.Name, Content: w.Content, Proxied: w.Proxied, TTL: w.TTL}
		if want.TTL == 0 {
			want.TTL = 1
		}
		wanted[recordName(want)] = true
		var have *cloudflare.DNSRecord
		for i, r := range st.DNS {
			if strings.EqualFold(r.Type, want.Type) && r.Name == want.Name {
				have = &st.DNS[i]
			}
		}
		switch {
		case have == nil:
			add(Change{Action: Create, Kind: "dns_record", Name: recordName(want), To: recordDesc(want)})
		case recordDesc(*have) == recordDesc(want):
			if have.Comment != owner {
				add(Change{Action: Adopt, Kind: "dns_record", Name: recordName(want), Note: "exists as wanted; not edgeconf's, left as it is"})
			}
		default:
			add(Change{Action: Update, Kind: "dns_record", Name: recordName(want), From: recordDesc(*have), To: recordDesc(want), Takeover: have.Comment != owner})
		}
	}
	for _, r := range st.DNS {
		if r.Comment == owner && !wanted[recordName(r)] {
			add(Change{Action: Delete, Kind: "dns_record", Name: recordName(r), From: recordDesc(r), Destructive: true})
		}
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	sort.Strings(x)
	sort.Strings(y)
	return slices.Equal(dedupe(x), dedupe(y))
}

// WriteText prints the plan for people. Names and values from the account
// are stripped of control characters.
func (p Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	if p.FirstDeploy {
		fmt.Fprintf(&b, "Plan for Worker %s (first deploy):\n", p.Worker)
	} else {
		fmt.Fprintf(&b, "Plan for Worker %s:\n", p.Worker)
	}
	counts := map[Action]int{}
	destructive := 0
	for _, c := range p.Changes {
		counts[c.Action]++
		line := fmt.Sprintf("  %s %-14s %s", c.Action.mark(), c.Kind, c.Name)
		switch {
		case c.From != "" && c.To != "":
			line += ": " + c.From + " → " + c.To
		case c.To != "":
			line += ": " + c.To
		case c.From != "":
			line += " (was " + c.From + ")"
		}
		var tags []string
		if c.Note != "" {
			tags = append(tags, c.Note)
		}
		if c.Destructive {
			destructive++
			tags = append(tags, "destructive: needs --yes")
		}
		if c.Takeover {
			tags = append(tags, "not edgeconf's: needs --allow-dns-takeover")
		}
		if len(tags) > 0 {
			line += "  [" + strings.Join(tags, "; ") + "]"
		}
		b.WriteString(termsafe.String(line) + "\n")
	}
	if !p.HasChanges() {
		b.WriteString("  no changes: the account has what the configuration wants\n")
	}
	for _, pr := range p.Problems {
		b.WriteString("  ✗ " + pr + "\n")
	}
	fmt.Fprintf(&b, "%d to create, %d to change, %d to delete (%d destructive), %d adopted.\n",
		counts[Create], counts[Update], counts[Delete], destructive, counts[Adopt])
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the plan as one JSON object.
func (p Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

func splitDesc(ss []cloudflare.Split) string {
	var parts []string
	for _, x := range ss {
		parts = append(parts, fmt.Sprintf("%s at %v %%", x.VersionID, x.Percentage))
	}
	return strings.Join(parts, ", ")
}
