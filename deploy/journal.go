package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/factory-wager/edgeconf/internal/atomicfile"
)

// maxJournal bounds the journal file read back.
const maxJournal = 1 << 20

// Entry is the last recorded step of a Worker's deploy.
type Entry struct {
	Worker          string    `json:"worker"`
	CodeTag         string    `json:"codeTag"`
	VersionID       string    `json:"versionId"`
	PreviousVersion string    `json:"previousVersionId,omitempty"`
	Phase           string    `json:"phase"` // uploaded, smoke, canary, promoted, rolled-back
	At              time.Time `json:"at"`
}

// Journal keeps the step each Worker's deploy reached, in one file of the
// state folder, written atomically: a deploy killed at any point and run
// again finds the version it uploaded instead of uploading another.
type Journal struct{ Path string }

func (j *Journal) read() (map[string]Entry, error) {
	out := map[string]Entry{}
	f, err := os.Open(j.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("deploy journal: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, fmt.Errorf("deploy journal: %w", err)
	}
	n := len(b)
	if n > maxJournal {
		return nil, fmt.Errorf("deploy journal %s is over %d bytes: remove it", j.Path, maxJournal)
	}
	if n == 0 {
		return out, nil
	}
	if err := json.Unmarshal(b[:n], &out); err != nil {
		return nil, fmt.Errorf("deploy journal %s is damaged (%v): remove it; the next deploy starts afresh", j.Path, err)
	}
	return out, nil
}

// Entry returns the last step recorded for worker.
func (j *Journal) Entry(worker string) (Entry, bool) {
	all, err := j.read()
	if err != nil {
		return Entry{}, false
	}
	e, ok := all[worker]
	return e, ok
}

// Record replaces the worker's entry.
func (j *Journal) Record(e Entry) error {
	all, err := j.read()
	if err != nil {
		return err
	}
	all[e.Worker] = e
	return j.write(all)
}

// Done removes the worker's entry: its deploy finished.
func (j *Journal) Done(worker string) error {
	all, err := j.read()
	if err != nil {
		return err
	}
	if _, ok := all[worker]; !ok {
		return nil
	}
	delete(all, worker)
	return j.write(all)
}

func (j *Journal) write(all map[string]Entry) error {
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.Path), 0o700); err != nil {
		return fmt.Errorf("deploy journal: %w", err)
	}
	return atomicfile.WriteFile(j.Path, b, 0o600)
}
