package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/flags"
)

// maxSimulatedUsers bounds flags simulate --users (about a minute of work).
const maxSimulatedUsers = 100_000_000

func newFlagsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "List, evaluate and simulate feature flags",
		Long: `Flags shows the feature flags of the configuration and decides who gets them,
exactly as the Worker at the edge does (bucketing ` + flags.Bucketing + `):

  bucket = (murmur3_x86_32(flagKey + userID) * 10000) >> 32     0..9999
  on iff bucket < round(rolloutPercentage * 100)

A disabled flag is off for everyone; allowedUsers are on at any percentage;
an empty user ID is on only at 100%.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		newFlagsListCmd(d, g, nil),
		newFlagsEvalCmd(d, g, nil),
		newFlagsSimulateCmd(d, g, nil),
	)
	g.target.add(cmd.PersistentFlags())
	return cmd
}

type flagsListOptions struct {
	Output string // table or json
}

func newFlagsListCmd(d *deps, g *globalOptions, runF func(*flagsListOptions) error) *cobra.Command {
	opts := &flagsListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the feature flags with their rollout and where they were set",
		Example: `  edgeconf flags list
  edgeconf flags list -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFlagsOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runFlagsList(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", flags.FormatTable, "output format: table or json")
	return cmd
}

func runFlagsList(ctx context.Context, d *deps, g *globalOptions, opts *flagsListOptions) error {
	doc, err := loadForFlags(ctx, d, g)
	if err != nil {
		return err
	}
	rows := flags.List(doc.Config.Features, func(name string) string {
		// A KV override of any field of the flag is what a reader needs to know.
		for _, l := range doc.Leaves("features." + name) {
			if l.Source.Layer == config.LayerKV {
				return describeSource(l.Source)
			}
		}
		return describeSource(doc.Source("features." + name))
	})
	return flags.WriteList(d.Stdout, rows, opts.Output)
}

type flagsEvalOptions struct {
	Flag   string
	User   string
	Output string // table or json
}

func newFlagsEvalCmd(d *deps, g *globalOptions, runF func(*flagsEvalOptions) error) *cobra.Command {
	opts := &flagsEvalOptions{}
	cmd := &cobra.Command{
		Use:   "eval FLAG --user ID",
		Short: "Decide whether a user gets a flag, and why",
		Long: `Eval prints the decision for one user: enabled or not, the reason
(disabled, allowed-user, no-user, in-rollout, out-of-rollout) and the
user's bucket (0..9999; -1 when the decision did not need it).
--user "" evaluates an anonymous user.`,
		Example: `  edgeconf flags eval premium --user alice@factory-wager.com
  edgeconf flags eval ptySupport --user 42 -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flag = args[0]
			if !cmd.Flags().Changed("user") {
				return usageErrorf("flags eval needs --user ID (--user \"\" for an anonymous user)")
			}
			if err := checkFlagsOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runFlagsEval(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.User, "user", "", "user ID to evaluate the flag for (required)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", flags.FormatTable, "output format: table or json")
	return cmd
}

func runFlagsEval(ctx context.Context, d *deps, g *globalOptions, opts *flagsEvalOptions) error {
	doc, err := loadForFlags(ctx, d, g)
	if err != nil {
		return err
	}
	e, err := flags.Eval(doc.Config.Features, opts.Flag, opts.User)
	if err != nil {
		return flagsUsageError(err)
	}
	return flags.WriteEvaluation(d.Stdout, e, opts.Output)
}

type flagsSimulateOptions struct {
	Flag   string
	Users  int
	Output string // table or json
}

func newFlagsSimulateCmd(d *deps, g *globalOptions, runF func(*flagsSimulateOptions) error) *cobra.Command {
	opts := &flagsSimulateOptions{}
	cmd := &cobra.Command{
		Use:   "simulate FLAG --users N",
		Short: "Evaluate a flag for N synthetic users and show how they spread",
		Long: `Simulate evaluates the flag for the user IDs user-0 .. user-(N-1) and prints
how many got it, by reason, and a histogram of their buckets by percent
(row i counts the users that raising the rollout from i% to i+1% adds).`,
		Example: `  edgeconf flags simulate premium --users 100000
  edgeconf flags simulate ptySupport --users 10000 -o json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Flag = args[0]
			if opts.Users < 1 || opts.Users > maxSimulatedUsers {
				return usageErrorf("--users %d is outside 1..%d", opts.Users, maxSimulatedUsers)
			}
			if err := checkFlagsOutput(opts.Output); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runFlagsSimulate(cmd.Context(), d, g, opts)
		},
	}
	cmd.Flags().IntVar(&opts.Users, "users", 10000, "number of synthetic users")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", flags.FormatTable, "output format: table or json")
	return cmd
}

func runFlagsSimulate(ctx context.Context, d *deps, g *globalOptions, opts *flagsSimulateOptions) error {
	doc, err := loadForFlags(ctx, d, g)
	if err != nil {
		return err
	}
	f, err := flags.Lookup(doc.Config.Features, opts.Flag)
	if err != nil {
		return flagsUsageError(err)
	}
	res := flags.Simulate(opts.Flag, f, opts.Users, flags.SyntheticUserID)
	return flags.WriteSimulation(d.Stdout, res, opts.Output)
}

// loadForFlags loads the configuration and warns on stderr when it has
// problems: flags are still evaluated from what could be read.
//
// Flags are evaluated on the effective configuration: a KV override of a
// rollout applies here exactly as it does at the edge.
func loadForFlags(ctx context.Context, d *deps, g *globalOptions) (*config.Document, error) {
	s, err := openSession(ctx, d, g, false, "", true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	printTarget(d, g, s.store.target)
	doc := s.doc
	if len(doc.Fatal()) == 0 {
		snap, err := s.snapshot(d)
		if err != nil {
			return nil, &exitError{code: exitFailed, err: err}
		}
		doc = snap.Doc
	}
	if doc.Problems.Invalid() {
		fmt.Fprintln(d.Stderr, "edgeconf: the configuration has problems; flags below may be defaults (run edgeconf validate):")
		for _, p := range doc.Problems {
			fmt.Fprintf(d.Stderr, "  %s\n", p.Error())
		}
	}
	return doc, nil
}

func checkFlagsOutput(format string) error {
	switch format {
	case flags.FormatTable, flags.FormatJSON:
		return nil
	}
	return usageErrorf("unknown output format %q (want table or json)", format)
}

// flagsUsageError makes an unknown flag name a usage error (exit 2).
func flagsUsageError(err error) error {
	if errors.Is(err, flags.ErrUnknownFlag) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}
