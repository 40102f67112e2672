// Package atomicfile replaces files so that a crash at any moment leaves
// either the old file or the new one, never a torn mix: the new content is
// written to a temporary file in the same folder, synced, renamed over the
// target, and the folder is synced.
//
// Only a missing path or a regular file is replaced. A symbolic link, a
// device node, a FIFO, a socket or a folder at the path is refused with
// ErrNotRegular, so a write never turns /dev/null or a link into a file.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is returned when the target exists and is not a regular
// file (a symbolic link, a device, a FIFO, a socket or a folder).
var ErrNotRegular = errors.New("not a regular file")

// WriteFile replaces path with data, with permission bits perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Write replaces path with what fill writes into the temporary file it is
// given (fill may also use WriteAt; it must not close the file). When fill
// fails, path is left as it was and the temporary file is removed.
func Write(path string, perm os.FileMode, fill func(f *os.File) error) error {
	if err := CheckTarget(path); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // a no-op after the rename
	if err := fill(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Checked again just before the rename: the target may have changed
	// while fill ran (a download can take minutes).
	if err := CheckTarget(path); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder of %s: %w", path, err)
	}
	return nil
}

// CheckTarget returns nil when path does not exist or is a regular file,
// and an error wrapping ErrNotRegular (naming the kind found) otherwise.
// A symbolic link is refused whatever it points to.
func CheckTarget(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if fi.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("write %s: it is %s, %w: refusing to replace it", path, kind(fi.Mode()), ErrNotRegular)
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeDir != 0:
		return "a folder"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "a special file"
	}
}
