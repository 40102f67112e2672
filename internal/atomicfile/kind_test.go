package atomicfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKind(t *testing.T) {
	for mode, want := range map[fs.FileMode]string{
		fs.ModeSymlink:                    "a symbolic link",
		fs.ModeDir:                        "a folder",
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a block device",
		fs.ModeNamedPipe:                  "a FIFO",
		fs.ModeSocket:                     "a socket",
		fs.ModeIrregular:                  "a special file",
	} {
		if got := kind(mode); got != want {
			t.Errorf("kind(%v) = %q, want %q", mode, got, want)
		}
	}
}

// TestWrite_SocketAndMissingFolder: a socket at the target is refused and
// left alone; a folder that does not exist is an error naming the path.
func TestWrite_SocketAndMissingFolder(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("no unix sockets here: %v", err)
	}
	defer l.Close()
	if err := WriteFile(sock, []byte("x"), 0o600); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a socket") {
		t.Errorf("WriteFile(socket) = %v", err)
	}
	missing := filepath.Join(dir, "no", "such", "file")
	if err := WriteFile(missing, []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("WriteFile into a missing folder = %v", err)
	}
}

// TestWrite_FillClosesTheFile: a fill that closes the temporary file makes
// the write fail, the target untouched and no temporary file left.
func TestWrite_FillClosesTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(path, 0o600, func(f *os.File) error {
		_, _ = f.Write([]byte("new"))
		return f.Close()
	})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Write with a closed file = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("the target changed: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}
