package cfemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/internal/atomicfile"
)

// stateFile is the JSON snapshot inside Options.StateDir.
const stateFile = "cfemu-state.json"

// stateVersion is bumped when the snapshot format changes incompatibly.
const stateVersion = 1

// state is everything the emulator stores, as one JSON document.
type state struct {
	Version  int                 `json:"version"`
	Accounts map[string]*account `json:"accounts"`
	Zones    map[string]*zone    `json:"zones"`
}

type account struct {
	Namespaces map[string]*namespace `json:"namespaces"`
	Scripts    map[string]*script    `json:"scripts"`
	Domains    map[string]*domain    `json:"domains"`
	Buckets    map[string]*bucket    `json:"buckets"`
	Databases  map[string]*database  `json:"databases"`
	Subdomain  string                `json:"subdomain,omitempty"` // workers.dev subdomain set with PUT
}

func newState() *state {
	return &state{Version: stateVersion, Accounts: map[string]*account{}, Zones: map[string]*zone{}}
}

// account returns the account with id, creating it: any well-formed
// account id is valid on the emulator.
func (s *state) account(id string) *account {
	a := s.Accounts[id]
	if a == nil {
		a = &account{}
		s.Accounts[id] = a
	}
	if a.Namespaces == nil {
		a.Namespaces = map[string]*namespace{}
	}
	if a.Scripts == nil {
		a.Scripts = map[string]*script{}
	}
	if a.Domains == nil {
		a.Domains = map[string]*domain{}
	}
	if a.Buckets == nil {
		a.Buckets = map[string]*bucket{}
	}
	if a.Databases == nil {
		a.Databases = map[string]*database{}
	}
	return a
}

func loadState(dir string) (*state, error) {
	st := newState()
	if dir == "" {
		return st, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("read state %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("state %s has version %d; this emulator reads version %d (move the folder away to start afresh)", filepath.Join(dir, stateFile), st.Version, stateVersion)
	}
	if st.Accounts == nil {
		st.Accounts = map[string]*account{}
	}
	if st.Zones == nil {
		st.Zones = map[string]*zone{}
	}
	for id := range st.Accounts {
		st.account(id)
	}
	for _, z := range st.Zones {
		z.init()
	}
	return st, nil
}

// snapshot encodes the state under the lock.
func (e *Emulator) snapshot() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return json.Marshal(e.st)
}

// saver writes the snapshot atomically (temporary file, fsync, rename,
// fsync of the folder), at most delay after a change and once more on close.
type saver struct {
	dir    string
	delay  time.Duration
	encode func() ([]byte, error)
	logger *slog.Logger

	mu      sync.Mutex
	timer   *time.Timer
	pending bool
	saving  sync.Mutex // one write at a time
	lastErr error
}

func newSaver(dir string, delay time.Duration, encode func() ([]byte, error), logger *slog.Logger) *saver {
	return &saver{dir: dir, delay: delay, encode: encode, logger: logger}
}

// mark schedules a save.
func (s *saver) mark() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending {
		return
	}
	s.pending = true
	s.timer = time.AfterFunc(s.delay, func() {
		if err := s.save(); err != nil {
			s.logger.Error("cfemu: save state", "err", err)
		}
	})
}

func (s *saver) save() error {
	s.saving.Lock()
	defer s.saving.Unlock()
	s.mu.Lock()
	s.pending = false
	s.mu.Unlock()
	b, err := s.encode()
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	err = writeAtomic(filepath.Join(s.dir, stateFile), b)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
	return err
}

// close stops the timer and saves what is pending.
func (s *saver) close() error {
	s.mu.Lock()
	pending := s.pending
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	if pending {
		return s.save()
	}
	s.saving.Lock() // wait for a save in progress
	defer s.saving.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// writeAtomic replaces path with b so that a crash leaves either the old
// or the new file, never a torn one.
func writeAtomic(path string, b []byte) error {
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
