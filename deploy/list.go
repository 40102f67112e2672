package deploy

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/termsafe"
)

// WriteVersions prints versions as a table, newest first as given.
func WriteVersions(w io.Writer, vs []cloudflare.Version) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNUMBER\tCREATED\tTAG\tMESSAGE")
	for _, v := range vs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", termsafe.String(v.ID), v.Number, stamp(v.CreatedOn), termsafe.String(v.Tag), termsafe.String(v.Message))
	}
	return tw.Flush()
}

// WriteDeployments prints deployments as a table, the live one first.
func WriteDeployments(w io.Writer, ds []cloudflare.Deployment) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYMENT\tCREATED\tVERSIONS\tMESSAGE")
	for i, d := range ds {
		live := ""
		if i == 0 {
			live = " (live)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", termsafe.String(d.ID), live, stamp(d.CreatedOn), splits(d.Versions), termsafe.String(d.Message))
	}
	return tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func splits(ss []cloudflare.Split) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%s@%v%%", termsafe.String(s.VersionID), s.Percentage))
	}
	return strings.Join(parts, " ")
}

// LiveVersion is one version of the live deployment.
type LiveVersion struct {
	cloudflare.Split
	Tag     string    `json:"tag"`
	Message string    `json:"message"`
	Created time.Time `json:"created"`
}

// Status is the live deployment of a Worker.
type Status struct {
	Worker     string        `json:"worker"`
	Deployment string        `json:"deploymentId"`
	Created    time.Time     `json:"created"`
	Message    string        `json:"message"`
	Versions   []LiveVersion `json:"versions"`
}

// StatusAPI is what LiveStatus reads.
type StatusAPI interface {
	Deployments(ctx context.Context, script string) ([]cloudflare.Deployment, error)
	Version(ctx context.Context, script, id string) (cloudflare.Version, error)
}

// LiveStatus reads a Worker's live deployment and its versions.
func LiveStatus(ctx context.Context, api StatusAPI, worker string) (*Status, error) {
	ds, err := api.Deployments(ctx, worker)
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%s has no deployment", worker)
	}
	d := ds[0]
	st := &Status{Worker: worker, Deployment: d.ID, Created: d.CreatedOn, Message: d.Message}
	for _, s := range d.Versions {
		v, err := api.Version(ctx, worker, s.VersionID)
		if err != nil {
			return nil, err
		}
		st.Versions = append(st.Versions, LiveVersion{Split: s, Tag: v.Tag, Message: v.Message, Created: v.CreatedOn})
	}
	return st, nil
}

// WriteText prints the status for people.
func (s *Status) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Worker %s: deployment %s (%s)", termsafe.String(s.Worker), termsafe.String(s.Deployment), stamp(s.Created))
	if s.Message != "" {
		fmt.Fprintf(&b, ": %s", termsafe.String(s.Message))
	}
	b.WriteString("\n")
	for _, v := range s.Versions {
		fmt.Fprintf(&b, "  %5v%%  %s  tag %s  %s\n", v.Percentage, termsafe.String(v.VersionID), orDash(termsafe.String(v.Tag)), termsafe.String(v.Message))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteText prints what a deploy did, for people.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	switch r.Outcome {
	case Unchanged:
		fmt.Fprintf(&b, "%s is up to date (version %s).\n", r.Worker, orDash(r.VersionID))
	case Promoted:
		fmt.Fprintf(&b, "Deployed %s: version %s is live at 100 %%.\n", r.Worker, r.VersionID)
	case RolledBack:
		fmt.Fprintf(&b, "Rolled back %s: version %s failed its gate; version %s is live at 100 %%.\n", r.Worker, r.VersionID, r.PreviousVersion)
	case "unhealthy":
		fmt.Fprintf(&b, "Deployed %s: version %s is live at 100 %% but failed its smoke test (nothing to roll back to).\n", r.Worker, r.VersionID)
	case "":
		fmt.Fprintf(&b, "Deploy of %s did not finish (the error says why).\n", r.Worker)
	default:
		fmt.Fprintf(&b, "Deploy of %s did not finish (%s).\n", r.Worker, r.Outcome)
	}
	for _, phase := range []struct {
		name string
		g    *GateReport
	}{{"smoke test", r.Smoke}, {"canary", r.Canary}} {
		name, g := phase.name, phase.g
		if g != nil {
			fmt.Fprintf(&b, "  %s: %d %s, %d failed, p50 %.0f ms, p95 %.0f ms", name, g.Probes, plural(g.Probes, "probe", "probes"), g.Failures, g.P50ms, g.P95ms)
			if g.RecordedErrors > 0 || g.Requests > 0 {
				fmt.Fprintf(&b, ", %d unhandled error(s) recorded in %d requests", g.RecordedErrors, g.Requests)
			}
			if g.Reason != "" {
				fmt.Fprintf(&b, ": %s", termsafe.String(g.Reason))
			}
			b.WriteString("\n")
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
