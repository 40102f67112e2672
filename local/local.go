// Package local is edgeconf's embedded default backend: a state folder
// (./.edgeconf, or EDGECONF_STATE_DIR) whose bbolt file holds Workers-KV-
// like namespaces, so that everything works offline with the same
// semantics as Cloudflare.
//
// Only one process opens the folder at a time. Open waits at most
// Options.LockTimeout for the lock and then names the process that holds it.
package local

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultDir is the state folder used when none is configured.
const DefaultDir = ".edgeconf"

// DBFile is the bbolt file inside the state folder.
const DBFile = "state.db"

// ownerFile records which process holds the state folder.
const ownerFile = "state.owner"

// ErrLocked is returned (wrapped) by Open when another process holds the
// state folder for longer than Options.LockTimeout.
var ErrLocked = errors.New("state folder is in use")

// ErrCorrupt is returned (wrapped, with the file's path) by Open when the
// state file is damaged, for example truncated: bbolt would otherwise
// panic on the first read of a missing page.
var ErrCorrupt = errors.New("state file is corrupt")

// Options configures Open. Only Dir is required.
type Options struct {
	Dir         string           // the state folder; created if missing
	LockTimeout time.Duration    // optional; 0 means 1 s
	Now         func() time.Time // optional; nil means time.Now
	Logger      *slog.Logger     // optional; nil discards
	ReadOnly    bool             // optional; open for reading (still exclusive of writers)
}

// State is an open state folder.
type State struct {
	db     *bolt.DB
	dir    string
	now    func() time.Time
	logger *slog.Logger
}

// owner is what the state.owner file says about the process holding the folder.
type owner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// Open opens (creating if needed) the state folder.
func Open(opts Options) (*State, error) {
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	path := filepath.Join(opts.Dir, DBFile)
	db, err := openBolt(path, opts)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s%s (waited %s)", ErrLocked, opts.Dir, describeOwner(opts.Dir), opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &State{db: db, dir: opts.Dir, now: opts.Now, logger: opts.Logger}
	if !opts.ReadOnly {
		me := owner{PID: os.Getpid(), Command: strings.Join(os.Args, " "), Since: opts.Now().UTC()}
		if b, err := json.Marshal(me); err == nil {
			_ = os.WriteFile(filepath.Join(opts.Dir, ownerFile), b, 0o600)
		}
	}
	return s, nil
}

// openBolt opens the file and checks that it is whole: its pages reach no
// further than the file's end. A panic inside bbolt becomes ErrCorrupt.
func openBolt(path string, opts Options) (db *bolt.DB, err error) {
	// Checked before bbolt maps the file: a fault inside bolt.Open would
	// leave its file (and the lock on it) open in this process.
	if err := checkWhole(path); err != nil {
		return nil, err
	}
	// A truncated file makes bbolt touch mmapped pages past the end of the
	// file (SIGBUS/SIGSEGV); turn that fault into a panic recovered below.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			}
			db, err = nil, fmt.Errorf("%w: %s: %v (restore it from a backup or remove it)", ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	var size int64
	_ = db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	if size > fi.Size() {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s: %d bytes, its pages need %d (truncated; restore it from a backup or remove it)", ErrCorrupt, path, fi.Size(), size)
	}
	return db, nil
}

// metaMagic marks a bbolt meta page; checkWhole reads the two meta pages
// (a 16-byte page header, then magic, version, page size, flags, the root
// bucket (16 bytes), the freelist page, the high-water page id, the
// transaction id and an FNV-64a checksum of the fields before it).
const metaMagic = 0xED0CDAED

// checkWhole refuses a file whose newest valid meta page says its pages
// reach past the end of the file (a truncated copy). A file it cannot
// place (new, empty, or not bbolt) is left to bbolt.
func checkWhole(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // missing: bbolt creates it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	const metaAt, metaLen = 16, 64
	meta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		var b [metaAt + metaLen]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, 0, 0, false
		}
		m := b[metaAt:]
		le := binary.NativeEndian
		h := fnv.New64a()
		_, _ = h.Write(m[:56])
		if le.Uint32(m[0:]) != metaMagic || h.Sum64() != le.Uint64(m[56:]) {
			return 0, 0, 0, false
		}
		return uint64(le.Uint32(m[8:])), le.Uint64(m[40:]), le.Uint64(m[48:]), true
	}
	ps, pgid, txid, ok := meta(0)
	if !ok {
		return nil // bbolt says what is wrong with it
	}
	if ps1, pgid1, txid1, ok1 := meta(int64(ps)); ok1 && txid1 > txid {
		ps, pgid = ps1, pgid1
	}
	if need := int64(pgid * ps); need > fi.Size() {
		return fmt.Errorf("%w: %s: %d bytes, its pages need %d (truncated; restore it from a backup or remove it)", ErrCorrupt, path, fi.Size(), need)
	}
	return nil
}

func describeOwner(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return ""
	}
	var o owner
	if json.Unmarshal(b, &o) != nil || o.PID == 0 {
		return ""
	}
	cmd := o.Command
	if len(cmd) > 80 {
		cmd = cmd[:80] + "..."
	}
	return fmt.Sprintf(" by pid %d (%s) since %s", o.PID, cmd, o.Since.Format(time.RFC3339))
}

// Dir returns the state folder.
func (s *State) Dir() string { return s.dir }

// DB exposes the bbolt handle for packages that keep other state in the
// same file (their own top-level buckets).
func (s *State) DB() *bolt.DB { return s.db }

// Check runs bbolt's consistency check and returns every problem found.
func (s *State) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// Close releases the folder.
func (s *State) Close() error {
	_ = os.Remove(filepath.Join(s.dir, ownerFile))
	return s.db.Close()
}
