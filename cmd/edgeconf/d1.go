package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/cache"
	"github.com/factory-wager/edgeconf/d1/dump"
	"github.com/factory-wager/edgeconf/d1/migrate"
	"github.com/factory-wager/edgeconf/d1/sqlite"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/refs"
)

// maxSQLFile bounds `d1 query --file`.
const maxSQLFile = migrate.MaxFileBytes

func newD1Cmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "d1",
		Short: "Query, migrate, export and import D1 databases: local SQLite files, or D1 with --remote",
		Long: `d1 works on a database of cloudflare.d1Databases, named by its binding (DB) or
its name (quantum-db).

--local (the default) keeps each database in one SQLite file,
$EDGECONF_STATE_DIR/d1/NAME.sqlite (default .edgeconf/d1/NAME.sqlite beside the configuration), in WAL
mode; one process writes at a time. --remote uses Cloudflare's D1 REST API with
CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (CLOUDFLARE_API_BASE_URL points
at an emulator); the database is the binding's id, else looked up by name.

Limits are D1's, checked before anything is sent: 100 bound parameters and
100 KB per statement. Migrations are wrangler's: NNNN_name.sql files in
migrations/ beside the configuration (or the database's migrationsDir),
recorded in the d1_migrations table. See docs/d1.md.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	g.target.add(cmd.PersistentFlags())
	cmd.AddCommand(newD1QueryCmd(d, g), newD1MigrationsCmd(d, g), newD1ExportCmd(d, g), newD1ImportCmd(d, g))
	return cmd
}

// d1Target is an open database and what the commands say about it.
type d1Target struct {
	db     d1.DB
	decl   config.D1Database
	doc    *config.Document
	target string
}

// resolveD1 finds the database named by arg (a binding or a name) in the
// configuration.
func resolveD1(d *deps, g *globalOptions, arg string) (*config.Document, config.D1Database, error) {
	doc, err := g.load(d)
	if err != nil {
		return nil, config.D1Database{}, err
	}
	var bound []string
	for _, db := range doc.Config.Cloudflare.D1Databases {
		if db.Binding == arg || db.Name == arg {
			if db.Name == "" {
				return nil, db, usageErrorf("d1 binding %s has no name in %s", db.Binding, g.configPath(d))
			}
			return doc, db, nil
		}
		bound = append(bound, db.Binding+" ("+db.Name+")")
	}
	if len(bound) == 0 {
		bound = []string{"none"}
	}
	return nil, config.D1Database{}, usageErrorf("no D1 database %q in %s: declare it under cloudflare.d1Databases (declared: %s)", arg, g.configPath(d), strings.Join(bound, ", "))
}

// openD1 opens the database named by arg on the chosen target. A local
// database that does not exist yet is created unless mustExist.
func openD1(ctx context.Context, d *deps, g *globalOptions, arg string, mustExist bool) (*d1Target, error) {
	if err := g.target.check(); err != nil {
		return nil, err
	}
	doc, decl, err := resolveD1(d, g, arg)
	if err != nil {
		return nil, err
	}
	db, err := openD1Decl(ctx, d, decl, g.target.Remote, mustExist)
	if err != nil {
		return nil, err
	}
	t := &d1Target{db: db, decl: decl, doc: doc, target: db.(d1.Namer).Target()}
	printTarget(d, g, t.target)
	return t, nil
}

func openD1Decl(ctx context.Context, d *deps, decl config.D1Database, remote, mustExist bool) (d1.DB, error) {
	if !remote {
		db, err := sqlite.Open(ctx, sqlite.Options{Dir: filepath.Join(stateDir(d), "d1"), Name: decl.Name, MustExist: mustExist, Now: d.Now})
		if err != nil {
			return nil, failed(err)
		}
		return db, nil
	}
	creds := cloudflare.CredentialsFromEnv(d.LookupEnv)
	if err := creds.MissingError(); err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	c, err := cloudflare.New(creds.Options())
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if decl.ID != "" {
		return c.D1(cloudflare.Database{UUID: decl.ID, Name: decl.Name}), nil
	}
	db, err := c.OpenD1(ctx, decl.Name)
	if err != nil {
		return nil, failed(err)
	}
	return db, nil
}

// d1Failed maps a d1 error to its exit code: a broken limit is a usage
// error, anything else a failed job.
func d1Failed(err error) error {
	var le *d1.LimitError
	if errors.As(err, &le) {
		return &exitError{code: exitUsage, err: err}
	}
	return failed(err)
}

// parseParam reads a --param value: JSON numbers, true, false and null
// keep their type; anything else (or a JSON string) is a string.
func parseParam(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	switch s {
	case "null":
		return nil
	case "true":
		return true
	case "false":
		return false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN_") {
		return f
	}
	var str string
	if strings.HasPrefix(s, `"`) && json.Unmarshal([]byte(s), &str) == nil {
		return str
	}
	return s
}

func newD1QueryCmd(d *deps, g *globalOptions) *cobra.Command {
	var params []string
	var file, output, cacheKV string
	var cacheTTL time.Duration
	cmd := &cobra.Command{
		Use:   "query DB [SQL]",
		Short: "Run SQL: one statement with --param values, or a script (SQL or --file) in one transaction",
		Long: `query runs SQL on the database and prints the rows of each statement.

With --param, SQL is one statement whose ? placeholders take the values in
order; numbers, true, false and null keep their type, anything else is a
string ("\"42\"" forces the string 42). Without --param, SQL (or --file) may
hold several statements separated by semicolons: they run in one transaction,
and a failing one rolls all back and is named by its line.

-o table (the default) prints the last statement's rows; -o json prints every
statement as {"results":[{column: value}], "success": true, "meta": {...}},
the shape of wrangler d1 execute --json; -o csv prints the last statement's
rows with a header line.

--cache TTL answers read-only statements from a cache in Workers KV (the
namespace of --cache-kv, default the first of cloudflare.kvNamespaces), keyed
by the SQL and its parameters, for TTL (at least 60s); statements that write
through it drop the cached results of the tables they name (docs/d1.md). It
says on stderr whether the answer was a hit or a miss.`,
		Example: `  edgeconf d1 query DB "SELECT * FROM users WHERE id = ?" --param 1
  edgeconf d1 query DB "SELECT count(*) FROM users" --cache 5m
  edgeconf d1 query DB --file seed.sql
  edgeconf d1 query quantum-db "SELECT count(*) AS n FROM users" -o json --remote`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" && output != "csv" {
				return usageErrorf("-o %s: use table, json or csv", output)
			}
			var sql string
			switch {
			case len(args) == 2 && file != "":
				return usageErrorf("give SQL or --file, not both")
			case len(args) == 2:
				sql = args[1]
			case file != "":
				b, err := readSQLFile(file)
				if err != nil {
					return err
				}
				sql = string(b)
			default:
				return usageErrorf("give the SQL to run, or --file FILE")
			}
			if len(params) > 0 && len(d1.Split(sql)) != 1 {
				return usageErrorf("--param binds one statement; this SQL has %d", len(d1.Split(sql)))
			}
			if cacheTTL != 0 && cacheTTL < kvstore.MinTTL {
				return usageErrorf("--cache %s is below Workers KV's minimum TTL of %s", cacheTTL, kvstore.MinTTL)
			}
			ctx := cmd.Context()
			t, err := openD1(ctx, d, g, args[0], false)
			if err != nil {
				return err
			}
			defer func() { t.db.Close() }() // the cache, when there is one
			var c *cache.Cache
			if cacheTTL > 0 {
				if c, err = openD1Cache(ctx, d, g, t, cacheKV, cacheTTL); err != nil {
					return err
				}
				t.db = c
				defer func() {
					if err := c.Flush(ctx, cache.StatsKey(t.decl.Name)); err != nil && !g.target.Quiet {
						fmt.Fprintf(d.Stderr, "edgeconf: warning: %v\n", err)
					}
					reportCache(d, g, c.Stats())
				}()
			}
			var results []d1.Result
			if len(params) > 0 {
				vals := make([]any, len(params))
				for i, p := range params {
					vals[i] = parseParam(p)
				}
				var res d1.Result
				res, err = t.db.Query(ctx, sql, vals...)
				results = []d1.Result{res}
			} else {
				results, err = d1.Exec(ctx, t.db, sql)
			}
			if err != nil {
				return d1Failed(err)
			}
			return writeResults(d.Stdout, output, results)
		},
	}
	cmd.Flags().StringArrayVar(&params, "param", nil, "a value for the next ? placeholder (repeat for each)")
	cmd.Flags().StringVar(&file, "file", "", "read the SQL from FILE (at most 10 MiB)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or csv")
	cmd.Flags().DurationVar(&cacheTTL, "cache", 0, "answer reads from a KV cache kept this long (at least 60s; default off)")
	cmd.Flags().StringVar(&cacheKV, "cache-kv", "", "the KV binding that holds the cache (default: the first of cloudflare.kvNamespaces)")
	return cmd
}

// openD1Cache wraps the database in a KV read-through cache; the KV store
// is closed with the cache's database.
func openD1Cache(ctx context.Context, d *deps, g *globalOptions, t *d1Target, binding string, ttl time.Duration) (*cache.Cache, error) {
	kvs := t.doc.Config.Cloudflare.KVNamespaces
	if len(kvs) == 0 {
		return nil, usageErrorf("--cache needs a KV namespace: declare one under cloudflare.kvNamespaces")
	}
	if binding == "" {
		binding = kvs[0].Binding
	}
	if !slices.ContainsFunc(kvs, func(k config.KVNamespace) bool { return k.Binding == binding }) {
		return nil, usageErrorf("--cache-kv %s: no such binding under cloudflare.kvNamespaces", binding)
	}
	s, err := openKV(ctx, targetOptions(d, g, t.doc, true), binding)
	if err != nil {
		return nil, err
	}
	if s.err != nil {
		s.close()
		return nil, failed(s.err)
	}
	c, err := cache.New(cache.Options{DB: closeWith{t.db, s.close}, Store: s.kv, TTL: ttl, Prefix: "edgeconf/v1/d1cache/" + t.decl.Name + "/"})
	if err != nil {
		s.close()
		return nil, &exitError{code: exitUsage, err: err}
	}
	return c, nil
}

// closeWith is a database that also releases another resource on Close.
type closeWith struct {
	d1.DB
	also func() error
}

func (c closeWith) Close() error { return errors.Join(c.DB.Close(), c.also()) }

// reportCache says on stderr how the cache answered.
func reportCache(d *deps, g *globalOptions, st cache.Stats) {
	if g.target.Quiet {
		return
	}
	fmt.Fprintf(d.Stderr, "edgeconf: d1 cache: %d hit(s), %d miss(es), %d invalidation(s), %d error(s)\n", st.Hits, st.Misses, st.Invalidations, st.Errors)
}

func readSQLFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageErrorf("--file: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSQLFile+1))
	if err != nil {
		return nil, usageErrorf("--file: %v", err)
	}
	if len(b) > maxSQLFile {
		return nil, usageErrorf("--file %s is larger than %d bytes", path, maxSQLFile)
	}
	return b, nil
}

// jsonValue shows a BLOB as D1 does, an array of byte values.
func jsonValue(v any) any {
	if b, ok := v.([]byte); ok {
		ints := make([]int, len(b))
		for i, c := range b {
			ints[i] = int(c)
		}
		return ints
	}
	return v
}

// cellText renders a value for a table or CSV, without control characters.
func cellText(v any) string {
	var s string
	switch x := v.(type) {
	case nil:
		s = "NULL"
	case []byte:
		s = fmt.Sprintf("X'%X'", x)
	case string:
		s = x
	default:
		s = fmt.Sprint(x)
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func writeResults(w io.Writer, format string, results []d1.Result) error {
	switch format {
	case "json":
		type meta struct {
			d1.Meta
			DurationMS float64 `json:"duration"`
		}
		out := make([]map[string]any, len(results))
		for i, r := range results {
			objs := make([]map[string]any, len(r.Rows))
			for j, row := range r.Rows {
				o := map[string]any{}
				for k, c := range r.Columns {
					o[c] = jsonValue(row[k])
				}
				objs[j] = o
			}
			out[i] = map[string]any{"results": objs, "success": true,
				"meta": meta{Meta: r.Meta, DurationMS: float64(r.Meta.Duration.Microseconds()) / 1000}}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		last := results[len(results)-1]
		cw := csv.NewWriter(w)
		if err := cw.Write(last.Columns); err != nil {
			return err
		}
		for _, row := range last.Rows {
			rec := make([]string, len(row))
			for i, v := range row {
				rec[i] = cellText(v)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	last := results[len(results)-1]
	if len(last.Columns) == 0 {
		var changes int64
		for _, r := range results {
			changes += r.Meta.Changes
		}
		_, err := fmt.Fprintf(w, "%d statement(s) run, %d row(s) changed\n", len(results), changes)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	cols := make([]string, len(last.Columns))
	for i, c := range last.Columns {
		cols[i] = cellText(c)
	}
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, row := range last.Rows {
		cells := make([]string, len(row))
		for i, v := range row {
			cells[i] = cellText(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func newD1MigrationsCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrations",
		Short: "Create, list and apply wrangler-compatible migrations (NNNN_name.sql, table d1_migrations)",
		Long: `migrations manages the numbered SQL files of a database, exactly as wrangler
d1 migrations does: files NNNN_name.sql in migrations/ beside the
configuration (or the database's migrationsDir), applied in order, each
recorded by file name in the d1_migrations table (id, name, applied_at). A
database migrated by wrangler can be continued by edgeconf and the other way
round.

A folder with a gap in the numbers, a number used twice or a .sql file not
named NNNN_name.sql is refused before anything runs. Each migration runs in
one transaction with its d1_migrations row; a failing one stops the run,
names its file and line, and leaves the earlier ones applied.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newD1MigrationsCreateCmd(d, g), newD1MigrationsListCmd(d, g), newD1MigrationsApplyCmd(d, g))
	return cmd
}

func migrationsDir(d *deps, g *globalOptions, decl config.D1Database) string {
	return migrate.DirFor(g.configPath(d), decl.MigrationsDir)
}

func newD1MigrationsCreateCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "create DB MESSAGE",
		Short: "Write the next empty migration file (one number above the highest)",
		Args:  usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, decl, err := resolveD1(d, g, args[0])
			if err != nil {
				return err
			}
			m, err := migrate.Create(migrationsDir(d, g, decl), args[1], d.Now())
			if err != nil {
				var fe *migrate.FolderError
				if errors.As(err, &fe) {
					return failed(err)
				}
				return usageErrorf("%v", err)
			}
			fmt.Fprintln(d.Stdout, m.Path)
			return nil
		},
	}
}

func newD1MigrationsListCmd(d *deps, g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list DB",
		Short: "List the folder's migrations and whether each is applied",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "json" {
				return usageErrorf("-o %s: use table or json", output)
			}
			t, err := openD1(cmd.Context(), d, g, args[0], false)
			if err != nil {
				return err
			}
			defer t.db.Close()
			st, err := migrate.Statuses(cmd.Context(), t.db, migrationsDir(d, g, t.decl))
			if err != nil {
				return failed(err)
			}
			if output == "json" {
				type row struct {
					Name      string `json:"name"`
					Applied   bool   `json:"applied"`
					AppliedAt string `json:"applied_at,omitempty"`
				}
				rows := make([]row, len(st))
				for i, s := range st {
					rows[i] = row{Name: s.Name, Applied: s.Applied != nil}
					if s.Applied != nil {
						rows[i].AppliedAt = s.Applied.AppliedAt
					}
				}
				enc := json.NewEncoder(d.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(st) == 0 {
				fmt.Fprintf(d.Stdout, "no migrations in %s\n", migrationsDir(d, g, t.decl))
				return nil
			}
			tw := tabwriter.NewWriter(d.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tAPPLIED AT")
			for _, s := range st {
				if s.Applied != nil {
					fmt.Fprintf(tw, "%s\tapplied\t%s\n", s.Name, cellText(s.Applied.AppliedAt))
				} else {
					fmt.Fprintf(tw, "%s\tpending\t\n", s.Name)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newD1MigrationsApplyCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "apply DB",
		Short: "Apply the pending migrations in order, each in one transaction",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			t, err := openD1(ctx, d, g, args[0], false)
			if err != nil {
				return err
			}
			defer t.db.Close()
			done, err := migrate.ApplyPending(ctx, t.db, migrationsDir(d, g, t.decl), migrate.Options{
				OnApplied: func(m migrate.Migration) { fmt.Fprintf(d.Stdout, "applied %s\n", m.Name) },
			})
			if err != nil {
				return failed(fmt.Errorf("%w (%d migration(s) applied before it)", err, len(done)))
			}
			if len(done) == 0 {
				fmt.Fprintln(d.Stdout, "no migrations to apply")
			}
			return nil
		},
	}
}

// r2Target parses r2://BUCKET/KEY for export and import.
func r2Target(d *deps, g *globalOptions, uri string) (*r2Bucket, string, error) {
	rest, ok := strings.CutPrefix(uri, "r2://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return nil, "", usageErrorf("%q: expected r2://BUCKET/KEY, where BUCKET is a binding or a bucket name", uri)
	}
	bref, err := resolveBucket(d, g, bucket)
	if err != nil {
		return nil, "", err
	}
	b, err := openBucket(d, bref, g.target.Remote, "")
	if err != nil {
		return nil, "", err
	}
	printTarget(d, g, b.target)
	return b, key, nil
}

func newD1ExportCmd(d *deps, g *globalOptions) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "export DB --to r2://BUCKET/KEY",
		Short: "Stream a SQL dump of the database into an R2 object",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageErrorf("--to r2://BUCKET/KEY is required")
			}
			ctx := cmd.Context()
			t, err := openD1(ctx, d, g, args[0], true)
			if err != nil {
				return err
			}
			defer t.db.Close()
			b, key, err := r2Target(d, g, to)
			if err != nil {
				return err
			}
			defer b.Close()
			info, err := dump.ExportTo(ctx, t.db, b.store, key)
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(d.Stdout, "exported %s to r2://%s/%s (%d bytes)\n", t.decl.Name, b.name, key, info.Size)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "where the dump goes: r2://BUCKET/KEY")
	return cmd
}

func newD1ImportCmd(d *deps, g *globalOptions) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "import DB --from r2://BUCKET/KEY",
		Short: "Restore a dump made by d1 export into an empty database",
		Long: `import runs a dump made by edgeconf d1 export against a database that has no
tables yet. A file that is not such a dump, or is truncated, is refused; if a
statement fails, everything the import created is dropped again.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return usageErrorf("--from r2://BUCKET/KEY is required")
			}
			ctx := cmd.Context()
			b, key, err := r2Target(d, g, from)
			if err != nil {
				return err
			}
			defer b.Close()
			t, err := openD1(ctx, d, g, args[0], false)
			if err != nil {
				return err
			}
			defer t.db.Close()
			st, err := dump.ImportFrom(ctx, t.db, b.store, key)
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(d.Stdout, "imported r2://%s/%s into %s (%d statements)\n", b.name, key, t.decl.Name, st.Statements)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the dump to restore: r2://BUCKET/KEY")
	return cmd
}

// d1RefFetcher resolves d1:// references of doc's bindings: through the
// local files, or with remote through D1. A local database with no file
// yet, or missing credentials, make the reference "not available" rather
// than an error of the whole command.
func d1RefFetcher(d *deps, doc *config.Document, remote bool) refs.Fetcher {
	return &d1.Fetcher{Open: func(ctx context.Context, binding string) (d1.DB, error) {
		var bound []string
		for _, decl := range doc.Config.Cloudflare.D1Databases {
			if decl.Binding != binding {
				bound = append(bound, decl.Binding)
				continue
			}
			if !remote {
				if _, err := os.Stat(sqlite.Path(filepath.Join(stateDir(d), "d1"), decl.Name)); err != nil {
					return nil, fmt.Errorf("%w: the local database %s has no file yet (apply its migrations)", refs.ErrNotAvailable, decl.Name)
				}
			} else if err := cloudflare.CredentialsFromEnv(d.LookupEnv).MissingError(); err != nil {
				return nil, fmt.Errorf("%w: %v", refs.ErrNotAvailable, err)
			}
			db, err := openD1Decl(ctx, d, decl, remote, true)
			var ee *exitError
			if errors.As(err, &ee) {
				return nil, ee.err
			}
			return db, err
		}
		if len(bound) == 0 {
			bound = []string{"none"}
		}
		return nil, fmt.Errorf("no D1 database is bound as %s (bound: %s)", binding, strings.Join(bound, ", "))
	}}
}
