package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/target"
)

// Exit codes, the same for every command.
const (
	exitOK     = 0 // success
	exitFailed = 1 // the job failed: invalid config, failed deploy, unhealthy
	exitUsage  = 2 // usage error: bad flag or argument, missing file
	// exitChanges is deploy --plan --detailed-exitcode's "the plan has
	// changes", as terraform plan -detailed-exitcode.
	exitChanges = 2
)

// deps is everything a command takes from the process, so tests can run
// commands in-process with their own streams, environment and clock.
type deps struct {
	// Context is the process's: main cancels it on SIGINT (Ctrl-C) or
	// SIGTERM, and every command's remote calls run under it (as
	// cmd.Context()). nil means context.Background().
	Context    context.Context
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	LookupEnv  func(string) (string, bool)
	Now        func() time.Time
	IsTerminal func(w any) bool

	// stateDir is set before a command runs: the state folder the target
	// package resolved from the configuration's path and the environment.
	stateDir string
	// cfClock paces Cloudflare retries; nil means the real clock (tests
	// inject one that does not wait).
	cfClock cloudflare.Clock
	// deployClock paces deploy's probes and canary window; nil means the
	// real clock (tests inject one).
	deployClock cloudflare.Clock
}

// exitError carries an exit code and, optionally, a message for stderr.
type exitError struct {
	code int
	err  error // nil: the command already said what went wrong
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// run executes the command line and returns the process exit code.
func run(d *deps, args []string) int {
	ctx := d.Context
	if ctx == nil {
		ctx = context.Background()
	}
	root := newRootCmd(d, args)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailed
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		err = ee.err
	case isCobraUsageError(err):
		code = exitUsage
	}
	if stop := context.Cause(ctx); stop != nil && err != nil {
		// Interrupted: say so first; the error says what was cut short.
		err = fmt.Errorf("stopped (%v): %w", stop, err)
	}
	if err != nil {
		fmt.Fprintf(d.Stderr, "edgeconf: %v\n", err)
		if code == exitUsage {
			path := "edgeconf"
			if cmd != nil {
				path = cmd.CommandPath() // the command that refused, not the root
			}
			fmt.Fprintf(d.Stderr, "Run '%s --help' for usage.\n", path)
		}
	}
	return code
}

// isCobraUsageError recognises the errors cobra returns for unknown
// commands, which it does not type.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "unknown shorthand flag") || strings.Contains(msg, "flag needs an argument") ||
		strings.HasPrefix(msg, "invalid argument")
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	ConfigPath string
	Env        string
	target     targetFlags // set by the commands that can reach Cloudflare
}

// command is one of edgeconf's top-level commands.
type command struct {
	name   string
	config bool // reads the configuration: gets -c/--config and --env
	build  func(*deps, *globalOptions) *cobra.Command
}

// commands lists every top-level command in the order help shows them.
var commands = []command{
	{"validate", true, func(d *deps, g *globalOptions) *cobra.Command { return newValidateCmd(d, g, nil) }},
	{"get", true, func(d *deps, g *globalOptions) *cobra.Command { return newGetCmd(d, g, nil) }},
	{"flags", true, newFlagsCmd},
	{"override", true, newOverrideCmd},
	{"kv", true, newKVCmd},
	{"r2", true, newR2Cmd},
	{"d1", true, newD1Cmd},
	{"ws", true, newWsCmd},
	{"build", true, newBuildCmd},
	{"dev", true, newDevCmd},
	{"deploy", true, newDeployCmd},
	{"rollback", true, newRollbackCmd},
	{"versions", true, newVersionsCmd},
	{"deployments", true, newDeploymentsCmd},
	{"serve", true, newServeCmd},
	{"monitor", true, newMonitorCmd},
	{"alerts", true, newAlertsCmd},
	{"wrangler", true, newWranglerCmd},
	{"schema", false, func(d *deps, _ *globalOptions) *cobra.Command { return newSchemaCmd(d, nil) }},
	{"emulate", false, newEmulateCmd},
	{"version", false, func(d *deps, _ *globalOptions) *cobra.Command { return newVersionCmd(d) }},
}

// commandNames returns the names of the top-level commands.
func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

// newRootCmd builds the command tree for args, the command line without the
// program name (nil builds every command).
func newRootCmd(d *deps, args []string) *cobra.Command {
	g := &globalOptions{}
	var showVersion bool
	root := &cobra.Command{
		Use:   "edgeconf",
		Short: "Configure, check and deploy the Quantum Terminal Dashboard on Cloudflare Workers",
		Long: `edgeconf manages cloudflare-config.yaml: it validates it into a report CI can
gate on, shows effective values and where they came from, and prints a JSON
Schema for editors.

The configuration is read from -c/--config, else $EDGECONF_CONFIG, else
./cloudflare-config.yaml. Every variable edgeconf reads (${VAR} in the file,
Cloudflare and R2 credentials, EDGECONF_STATE_DIR) comes from the environment,
then from a .env file beside the configuration. Local state lives in
$EDGECONF_STATE_DIR, else .edgeconf/ beside the configuration; commands that
read a store take --local (the default) or --remote.

Exit codes: 0 success, 1 the job failed (e.g. invalid config), 2 usage error
(bad flag or argument, missing file, unknown path or environment). Deleting
something absent is not an error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				_, err := fmt.Fprintln(d.Stdout, versionString())
				return err
			}
			return cmd.Help()
		},
	}
	root.SetIn(d.Stdin)
	root.SetOut(d.Stdout)
	root.SetErr(d.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	// Before any command runs, every variable edgeconf reads comes from
	// the environment and then from the .env beside the configuration, and
	// the state folder is resolved beside it.
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cmd.Flags().Lookup("config") == nil {
			return nil // version, schema, emulate, completion: no configuration
		}
		path := g.configPath(d)
		lookup, err := target.Env(d.LookupEnv, path)
		if err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		d.LookupEnv = lookup
		d.stateDir = target.StateDir(lookup, path)
		return nil
	}
	// --version is a flag of our own rather than cobra's root.Version:
	// printing it in edgeconf's format would need cobra's
	// SetVersionTemplate, which links text/template's executor, whose
	// reflect.Value.MethodByName turns off the linker's dead-method
	// elimination for the whole binary (+12 MB; issue 12).
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "version for edgeconf")

	// Every command is registered here (commands). Commands that read the
	// configuration get -c/--config and --env (g.addConfigFlags); those
	// that read a store also add g.target's flags themselves. A command
	// line that starts with a command's name builds only that command's
	// tree: building all of them, with their flags, is about a millisecond
	// of every run's start-up (issue 12). Anything else (help, completion,
	// a root flag, a typo that wants "Did you mean") builds them all.
	for _, c := range commands {
		if len(args) > 0 && args[0] != c.name && slices.Contains(commandNames(), args[0]) {
			continue
		}
		cmd := c.build(d, g)
		if c.config {
			g.addConfigFlags(cmd.PersistentFlags())
		}
		root.AddCommand(cmd)
	}
	suggestSubcommands(root)
	return root
}

// addConfigFlags adds -c/--config and --env to a command that reads the
// configuration.
func (g *globalOptions) addConfigFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&g.ConfigPath, "config", "c", "", "configuration file (default $EDGECONF_CONFIG, else ./cloudflare-config.yaml)")
	fs.StringVar(&g.Env, "env", "", "merge cloudflare.environments.ENV over the base configuration")
}

// suggestSubcommands makes an unknown subcommand of every command group a
// usage error with cobra's "Did you mean" suggestions.
func suggestSubcommands(cmd *cobra.Command) {
	if cmd.HasSubCommands() {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if c.SuggestionsMinimumDistance <= 0 {
				c.SuggestionsMinimumDistance = 2
			}
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
			}
			return &exitError{code: exitUsage, err: errors.New(msg)}
		}
	}
	for _, c := range cmd.Commands() {
		suggestSubcommands(c)
	}
}

// configPath resolves which file to read: the flag, then EDGECONF_CONFIG,
// then ./cloudflare-config.yaml.
func (g *globalOptions) configPath(d *deps) string {
	return target.ConfigPath(g.ConfigPath, d.LookupEnv)
}

// load reads the configuration. A missing file or an unknown environment
// is a usage error; load problems come back in the document, with err nil,
// for the caller to report.
func (g *globalOptions) load(d *deps) (*config.Document, error) {
	path := g.configPath(d)
	doc, err := config.Load(path, config.LoadOptions{Env: g.Env, LookupEnv: d.LookupEnv})
	var problems config.Problems
	switch {
	case err == nil, errors.As(err, &problems):
		return doc, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("%s: no such file (pass -c FILE or set EDGECONF_CONFIG)", path)
	case errors.Is(err, config.ErrUnknownEnvironment):
		return nil, &exitError{code: exitUsage, err: err}
	}
	return nil, &exitError{code: exitUsage, err: err}
}

// usageArgs turns cobra's argument-count errors into usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
		return nil
	}
}

// wantColor reports whether w is a terminal and NO_COLOR is unset.
func wantColor(d *deps, w io.Writer) bool {
	if _, set := d.LookupEnv("NO_COLOR"); set {
		return false
	}
	return d.IsTerminal != nil && d.IsTerminal(w)
}
