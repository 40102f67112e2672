// Package migrate applies numbered SQL migrations to a D1 database the way
// wrangler does, so that a database migrated by one tool can be continued
// by the other: files NNNN_name.sql in a folder (by default migrations/
// beside the configuration), applied in order, each recorded by file name
// in wrangler's own table, d1_migrations (id, name, applied_at).
//
// Unlike wrangler, the folder is checked first: a file that does not
// match NNNN_name.sql, two files with one number, or a gap in the numbers
// is refused, naming the files, before anything runs. Each migration and
// its d1_migrations row run in one transaction: a failing migration
// stops the run, names its file and line, and leaves the earlier ones
// applied and itself not at all.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/d1"
)

// Table is wrangler's migrations table.
const Table = "d1_migrations"

// DefaultDir is the folder, beside the configuration, wrangler and
// edgeconf read migrations from unless the database sets migrationsDir.
const DefaultDir = "migrations"

// MaxFileBytes bounds one migration file (D1 takes at most 1000
// statements of 100 KB in a batch; 10 MB is far more than a schema change).
const MaxFileBytes = 10 << 20

// createTable is wrangler's statement, byte for byte in its columns.
const createTable = `CREATE TABLE IF NOT EXISTS ` + Table + `(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`

// fileRE matches a migration file name. It is compiled on first use, not
// at package init (issue 12).
var fileRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)_([^/\\]+)\.sql$`) })

// Migration is one file of the folder.
type Migration struct {
	Number int
	Name   string // the file name, as recorded in d1_migrations: "0001_init.sql"
	Path   string
}

// FolderError lists every problem of a migrations folder.
type FolderError struct {
	Dir      string
	Problems []string
}

func (e *FolderError) Error() string {
	return fmt.Sprintf("migrations folder %s: %s", e.Dir, strings.Join(e.Problems, "; "))
}

// List returns the folder's migrations in order. A folder that does not
// exist holds none. Files not ending in .sql are ignored, as wrangler
// does; a .sql file not named NNNN_name.sql, a number used twice, or a
// gap in the numbers is a *FolderError naming every offending file.
func List(dir string) ([]Migration, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrations folder: %w", err)
	}
	var out []Migration
	var problems []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := fileRE().FindStringSubmatch(e.Name())
		if m == nil {
			problems = append(problems, fmt.Sprintf("%s is not named NNNN_name.sql", e.Name()))
			continue
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 1_000_000 {
			problems = append(problems, fmt.Sprintf("%s: number %s is too large", e.Name(), m[1]))
			continue
		}
		out = append(out, Migration{Number: n, Name: e.Name(), Path: filepath.Join(dir, e.Name())})
	}
	// wrangler applies in file-name order; numbers decide here, names break ties.
	sort.Slice(out, func(i, j int) bool {
		if out[i].Number != out[j].Number {
			return out[i].Number < out[j].Number
		}
		return out[i].Name < out[j].Name
	})
	for i := 1; i < len(out); i++ {
		prev, cur := out[i-1], out[i]
		switch {
		case cur.Number == prev.Number:
			problems = append(problems, fmt.Sprintf("%s and %s have the same number %d", prev.Name, cur.Name, cur.Number))
		case cur.Number > prev.Number+1:
			problems = append(problems, fmt.Sprintf("gap between %s and %s (missing %s)", prev.Name, cur.Name, missing(prev.Number, cur.Number)))
		}
	}
	if len(problems) > 0 {
		return nil, &FolderError{Dir: dir, Problems: problems}
	}
	return out, nil
}

func missing(from, to int) string {
	if to-from == 2 {
		return fmt.Sprintf("%04d", from+1)
	}
	return fmt.Sprintf("%04d to %04d", from+1, to-1)
}

// Create writes the next migration file, numbered one above the highest,
// with wrangler's header line, creating the folder if needed. Spaces in
// message become underscores, as in wrangler.
func Create(dir, message string, now time.Time) (Migration, error) {
	name := strings.ReplaceAll(strings.TrimSpace(message), " ", "_")
	if name == "" || strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Migration{}, fmt.Errorf("migration name %q: use letters, digits, '_' or spaces", message)
	}
	all, err := List(dir)
	if err != nil {
		return Migration{}, err
	}
	n := 1
	if len(all) > 0 {
		n = all[len(all)-1].Number + 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Migration{}, fmt.Errorf("create migration: %w", err)
	}
	m := Migration{Number: n, Name: fmt.Sprintf("%04d_%s.sql", n, name)}
	m.Path = filepath.Join(dir, m.Name)
	header := fmt.Sprintf("-- Migration number: %04d \t %s\n", n, now.UTC().Format("2006-01-02T15:04:05.000Z"))
	f, err := os.OpenFile(m.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Migration{}, fmt.Errorf("create migration: %w", err)
	}
	if _, err := f.WriteString(header); err != nil {
		f.Close()
		return Migration{}, fmt.Errorf("create migration: %w", err)
	}
	return m, f.Close()
}

// Applied is one row of d1_migrations.
type Applied struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	AppliedAt string `json:"applied_at"`
}

// AppliedList returns the rows of d1_migrations in id order, none when the
// table does not exist. It writes nothing.
func AppliedList(ctx context.Context, db d1.DB) ([]Applied, error) {
	res, err := db.Query(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", Table)
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	if len(res.Rows) == 0 {
		return nil, nil
	}
	res, err = db.Query(ctx, "SELECT id, name, applied_at FROM "+Table+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list applied migrations: %w", err)
	}
	out := make([]Applied, 0, len(res.Rows))
	for _, r := range res.Rows {
		a := Applied{}
		a.ID, _ = r[0].(int64)
		a.Name = fmt.Sprint(r[1])
		if s, ok := r[2].(string); ok {
			a.AppliedAt = s
		}
		out = append(out, a)
	}
	return out, nil
}

// Status is a migration of the folder and, when applied, its row.
type Status struct {
	Migration
	Applied *Applied
}

// Statuses lists the folder's migrations with their d1_migrations rows.
func Statuses(ctx context.Context, db d1.DB, dir string) ([]Status, error) {
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	applied, err := AppliedList(ctx, db)
	if err != nil {
		return nil, err
	}
	byName := map[string]*Applied{}
	for i := range applied {
		byName[applied[i].Name] = &applied[i]
	}
	out := make([]Status, len(all))
	for i, m := range all {
		out[i] = Status{Migration: m, Applied: byName[m.Name]}
	}
	return out, nil
}

// Pending returns the folder's migrations not recorded in d1_migrations.
func Pending(ctx context.Context, db d1.DB, dir string) ([]Migration, error) {
	st, err := Statuses(ctx, db, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, s := range st {
		if s.Applied == nil {
			out = append(out, s.Migration)
		}
	}
	return out, nil
}

// Options tunes ApplyPending.
type Options struct {
	Logger *slog.Logger // optional; nil discards
	// OnApplied is called after each migration commits; optional.
	OnApplied func(Migration)
}

// FileError is a migration that failed: its file, the line of the failing
// statement (0 when the server did not say which), and why.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ApplyPending applies the folder's pending migrations in order, each in
// one transaction with its d1_migrations row, and returns those applied.
// On a failure it returns those applied before it and a *FileError; the
// failing migration left nothing behind. `edgeconf d1 migrations apply`
// calls it, and so will `edgeconf deploy --migrate`.
func ApplyPending(ctx context.Context, db d1.DB, dir string, opts Options) ([]Migration, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Check the folder before touching the database.
	if _, err := List(dir); err != nil {
		return nil, err
	}
	if _, err := db.Query(ctx, createTable); err != nil {
		return nil, fmt.Errorf("create %s: %w", Table, err)
	}
	pending, err := Pending(ctx, db, dir)
	if err != nil {
		return nil, err
	}
	var done []Migration
	for _, m := range pending {
		if err := apply(ctx, db, m); err != nil {
			return done, err
		}
		opts.Logger.Info("d1: migration applied", "name", m.Name)
		done = append(done, m)
		if opts.OnApplied != nil {
			opts.OnApplied(m)
		}
	}
	return done, nil
}

func apply(ctx context.Context, db d1.DB, m Migration) error {
	fi, err := os.Stat(m.Path)
	if err != nil {
		return &FileError{File: m.Path, Err: err}
	}
	if fi.Size() > MaxFileBytes {
		return &FileError{File: m.Path, Err: fmt.Errorf("%d bytes is more than the %d-byte limit (MaxFileBytes)", fi.Size(), MaxFileBytes)}
	}
	b, err := os.ReadFile(m.Path)
	if err != nil {
		return &FileError{File: m.Path, Err: err}
	}
	parts := d1.Split(string(b))
	stmts := make([]d1.Statement, 0, len(parts)+1)
	for _, p := range parts {
		stmts = append(stmts, d1.Statement{SQL: p.SQL})
	}
	stmts = append(stmts, d1.Statement{SQL: "INSERT INTO " + Table + " (name) VALUES (?)", Params: []any{m.Name}})
	if _, err := db.Batch(ctx, stmts); err != nil {
		fe := &FileError{File: m.Path, Err: err}
		var se *d1.SQLError
		var le *d1.LimitError
		i := -1
		if errors.As(err, &se) {
			i = se.Statement
		} else if errors.As(err, &le) {
			i = le.Statement
		}
		if i >= 0 && i < len(parts) {
			fe.Line = parts[i].Line
		}
		return fe
	}
	return nil
}

// DirFor returns the migrations folder of a database: migrationsDir (or
// DefaultDir when empty) relative to the folder of the configuration
// file, as wrangler resolves migrations_dir.
func DirFor(configPath, migrationsDir string) string {
	if migrationsDir == "" {
		migrationsDir = DefaultDir
	}
	if filepath.IsAbs(migrationsDir) {
		return migrationsDir
	}
	return filepath.Join(filepath.Dir(configPath), migrationsDir)
}
