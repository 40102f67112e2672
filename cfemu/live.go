package cfemu

import (
	"encoding/json"
	"sort"
)

// LiveWorker is a Worker with a live deployment, as the edge runs it.
type LiveWorker struct {
	AccountID string
	Name      string
	Domains   []string // custom domains (hostnames)
	Routes    []string // route patterns of the account's zones
	Versions  []LiveVersion
}

// LiveVersion is a version of a live deployment with its share of traffic.
type LiveVersion struct {
	ID                 string
	Tag                string
	Percentage         float64
	MainModule         string
	Modules            []LiveModule
	Bindings           []json.RawMessage
	CompatibilityDate  string
	CompatibilityFlags []string
	// Secrets are the Worker's secret values its secret_text bindings name.
	Secrets map[string]string
}

// LiveModule is one module of a version.
type LiveModule struct {
	Name, ContentType string
	Content           []byte
}

// Generation counts the changes of the emulator's state: a runner of the
// live Workers re-reads them when it moves.
func (e *Emulator) Generation() uint64 { return e.gen.Load() }

// LiveWorkers lists every Worker with a live deployment, by account and
// name, with the code of the versions it splits traffic between.
func (e *Emulator) LiveWorkers() []LiveWorker {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []LiveWorker
	for acctID, a := range e.st.Accounts {
		for _, s := range a.Scripts {
			if len(s.Deployments) == 0 {
				continue
			}
			lw := LiveWorker{AccountID: acctID, Name: s.Name}
			for _, d := range a.Domains {
				if d.Service == s.Name {
					lw.Domains = append(lw.Domains, d.Hostname)
				}
			}
			for _, z := range e.st.Zones {
				if z.Account.ID != acctID {
					continue
				}
				for _, r := range z.Routes {
					if r.Script == s.Name {
						lw.Routes = append(lw.Routes, r.Pattern)
					}
				}
			}
			sort.Strings(lw.Domains)
			sort.Strings(lw.Routes)
			for _, dv := range s.Deployments[len(s.Deployments)-1].Versions {
				v := s.version(dv.VersionID)
				if v == nil {
					continue
				}
				lv := LiveVersion{ID: v.ID, Tag: v.Annotations["workers/tag"], Percentage: dv.Percentage, MainModule: v.MainModule,
					Bindings: v.Bindings, CompatibilityDate: v.CompatibilityDate, CompatibilityFlags: v.CompatibilityFlags, Secrets: map[string]string{}}
				for _, m := range v.Modules {
					lv.Modules = append(lv.Modules, LiveModule(m))
				}
				for _, raw := range v.Bindings {
					var b struct{ Type, Name string }
					if json.Unmarshal(raw, &b) == nil && b.Type == "secret_text" {
						if sec := s.Secrets[b.Name]; sec != nil {
							lv.Secrets[b.Name] = sec.Text
						}
					}
				}
				lw.Versions = append(lw.Versions, lv)
			}
			out = append(out, lw)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AccountID != out[j].AccountID {
			return out[i].AccountID < out[j].AccountID
		}
		return out[i].Name < out[j].Name
	})
	return out
}
