package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/internal/termsafe"
	"github.com/factory-wager/edgeconf/monitor"
)

type monitorOptions struct {
	Once      bool
	WorkerURL string
	Output    *outputFlag
}

func newMonitorCmd(d *deps, g *globalOptions) *cobra.Command {
	opts := &monitorOptions{}
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Probe the dependencies the configuration names, and alert on state changes",
		Long: `Monitor probes each dependency dependencies.integrations enables — KV
(a sentinel key written and read), R2 (a head of a sentinel object), D1
(SELECT 1), the Worker's /healthz with --worker-url, and with --remote the API
token — every dependencies.thresholds.refresh seconds. A dependency is a
warning after thresholds.warning seconds without a good probe and critical
after thresholds.critical; a probe slower than the latency its alert sets
(kv.latency_ms, …) is not good. Each change of state is printed and stored
as an alert in the storage the alert names (KV with a TTL, or an R2 object
per day); edgeconf alerts list shows them.

--once probes once, prints every dependency's state and exits 1 when one is
critical (a dependency that fails its only probe is critical).`,
		Example: `  edgeconf monitor --once
  edgeconf monitor --remote --worker-url https://dashboard.factory-wager.com`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Output.check(); err != nil {
				return err
			}
			if err := g.target.check(); err != nil {
				return err
			}
			return runMonitor(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Once, "once", false, "probe once, print the states, exit 1 when one is critical")
	cmd.Flags().StringVar(&opts.WorkerURL, "worker-url", "", "the Worker's URL for the /healthz probe")
	opts.Output = addOutputFlag(cmd.Flags(), "table", "json")
	g.target.add(cmd.Flags())
	return cmd
}

func writeStatuses(d *deps, sts []monitor.Status, format string) error {
	if format == "json" {
		return writeJSONValue(d.Stdout, sts)
	}
	tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
	figures := slices.ContainsFunc(sts, func(st monitor.Status) bool { return len(st.Gauges) > 0 })
	if figures {
		fmt.Fprintln(tw, "DEPENDENCY\tSTATE\tLATENCY\tFIGURES\tLAST ERROR")
	} else {
		fmt.Fprintln(tw, "DEPENDENCY\tSTATE\tLATENCY\tLAST ERROR")
	}
	for _, st := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%.1f ms\t", st.Name, st.State, st.LatencyMs)
		if figures {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(st.Gauges)) {
				parts = append(parts, fmt.Sprintf("%s=%g", k, st.Gauges[k]))
			}
			fmt.Fprintf(tw, "%s\t", orDash(strings.Join(parts, " ")))
		}
		fmt.Fprintf(tw, "%s\n", termsafe.String(st.LastError))
	}
	return tw.Flush()
}

func runMonitor(ctx context.Context, d *deps, g *globalOptions, opts *monitorOptions) error {
	doc, err := g.load(d)
	if err != nil {
		return err
	}
	if !doc.Config.Dependencies.Enabled {
		return &exitError{code: exitFailed, err: fmt.Errorf("dependencies.enabled is false in %s: nothing to monitor", g.configPath(d))}
	}
	m, closeAll, err := newMonitor(ctx, d, g, doc, opts.WorkerURL, opts.Once, func(as []monitor.Alert) {
		if !opts.Once {
			for _, a := range as {
				fmt.Fprintf(d.Stdout, "%s %s: %s\n", a.At.UTC().Format("2006-01-02T15:04:05Z"), a.To, termsafe.String(a.Message))
			}
		}
	})
	if err != nil {
		return err
	}
	defer closeAll()
	if opts.Once {
		m.Round(ctx)
		if err := writeStatuses(d, m.Statuses(), opts.Output.Value); err != nil {
			return failed(err)
		}
		if c := m.Critical(); len(c) > 0 {
			return &exitError{code: exitFailed, err: fmt.Errorf("critical: %v", c)}
		}
		return nil
	}
	fmt.Fprintf(d.Stderr, "edgeconf: probing every %s; Ctrl-C stops; changes print as they happen\n", m.Interval())
	_ = m.RunThen(ctx, func() {
		_ = writeStatuses(d, m.Statuses(), opts.Output.Value) // where things stand to begin with
	})
	return nil
}

func newAlertsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{Use: "alerts", Short: "The dependency monitor's alerts", Args: usageArgs(cobra.NoArgs)}
	var limit int
	var output *outputFlag
	list := &cobra.Command{
		Use:   "list",
		Short: "List the stored alerts, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.check(); err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return usageErrorf("--limit is 1 to 1000, not %d", limit)
			}
			if err := g.target.check(); err != nil {
				return err
			}
			doc, err := g.load(d)
			if err != nil {
				return err
			}
			_, stores, closeAll, err := monitorBackends(cmd.Context(), d, g, doc, "")
			if err != nil {
				return err
			}
			defer closeAll()
			m, err := monitor.New(monitor.Options{Thresholds: doc.Config.Dependencies.Thresholds, Stores: stores})
			if err != nil {
				return failed(err)
			}
			as, err := m.Alerts(cmd.Context(), limit)
			if err != nil {
				return failed(err)
			}
			if output.Value == "json" {
				if as == nil {
					as = []monitor.Alert{}
				}
				return writeJSONValue(d.Stdout, as)
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHEN\tDEPENDENCY\tCHANGE\tSTORED IN\tMESSAGE")
			for _, a := range as {
				fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\n", a.At.UTC().Format("2006-01-02T15:04:05Z"), termsafe.String(a.Dependency), a.From, a.To, a.Storage, termsafe.String(a.Message))
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many alerts (at most 1000)")
	output = addOutputFlag(list.Flags(), "table", "json")
	g.target.add(list.Flags())
	cmd.AddCommand(list)
	return cmd
}
