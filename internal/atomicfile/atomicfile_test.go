package atomicfile_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/factory-wager/edgeconf/internal/atomicfile"
)

// version is the content of the n-th write: large enough that a torn
// write would be visible, and self-describing.
func version(n int) []byte {
	return []byte(fmt.Sprintf("{\"version\":%d,\"pad\":%q}\n", n, strings.Repeat(fmt.Sprint(n%10), 64<<10)))
}

// TestWriteFile_NoTornFiles kills a writer that replaces the file in
// a loop, 100 times at random moments; every time the file must be one
// complete version (reliability case LKG-4).
func TestWriteFile_NoTornFiles(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 10
	}
	path := filepath.Join(t.TempDir(), "lkg.json")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAtomicWriter$")
		cmd.Env = append(os.Environ(), "EDGECONF_HELPER_ATOMIC="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		for n := rng.IntN(5); n >= 0 && sc.Scan(); n-- {
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if _, err := fmt.Sscanf(string(b), "{\"version\":%d,", &n); err != nil || !bytes.Equal(b, version(n)) {
			t.Fatalf("kill %d: torn file (%d bytes): %.60q", i, len(b), b)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".lkg.json.tmp-*"))
	t.Logf("%d kills, no torn file; %d temporary files left by killed writers", kills, len(leftovers))
}

func TestHelperAtomicWriter(t *testing.T) {
	path := os.Getenv("EDGECONF_HELPER_ATOMIC")
	if path == "" {
		t.Skip("helper process")
	}
	for n := 0; ; n++ {
		if err := atomicfile.WriteFile(path, version(n), 0o600); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", n)
	}
}

func TestWriteFile_Errors(t *testing.T) {
	if err := atomicfile.WriteFile(filepath.Join(t.TempDir(), "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "d")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(target, []byte("x"), 0o600); err == nil {
		t.Error("replacing a non-empty folder succeeded")
	}
}

func TestWriteFile_ReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	for _, content := range []string{"first version, longer than the second", "second"} {
		if err := atomicfile.WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, %v; want 0640", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".f.json.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWriteFile_RefusesNonRegular: a symbolic link, a device node, a FIFO
// and a folder at the target are left as they were (hostile input 5).
func TestWriteFile_RefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "folder")
	if err := os.Mkdir(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, kind string }{
		{link, "symbolic link"},
		{fifo, "FIFO"},
		{folder, "folder"},
		{"/dev/null", "character device"},
	} {
		before, err := os.Lstat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		err = atomicfile.WriteFile(tc.path, []byte("x"), 0o600)
		if !errors.Is(err, atomicfile.ErrNotRegular) || !strings.Contains(err.Error(), tc.kind) {
			t.Errorf("%s: err = %v; want ErrNotRegular naming %q", tc.path, err, tc.kind)
		}
		after, err := os.Lstat(tc.path)
		if err != nil || after.Mode() != before.Mode() {
			t.Errorf("%s: mode %v → %v (%v)", tc.path, before.Mode(), after.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the link's target changed: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWrite_FillFails leaves the old file and no temporary file.
func TestWrite_FillFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := atomicfile.Write(path, 0o600, func(f *os.File) error {
		_, _ = f.Write([]byte("partial"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want boom", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("file = %q; want old", b)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".f.tmp-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestWrite_TargetReplacedDuringFill: a link put at the target while the
// content is written is still refused.
func TestWrite_TargetReplacedDuringFill(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	err := atomicfile.Write(path, 0o600, func(f *os.File) error {
		return os.Symlink("/dev/null", path)
	})
	if !errors.Is(err, atomicfile.ErrNotRegular) {
		t.Fatalf("err = %v; want ErrNotRegular", err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("target = %v, %v; want the link left alone", fi, err)
	}
}

func TestCheckTarget_StatError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A path through a regular file cannot be stat'ed (ENOTDIR).
	if err := atomicfile.CheckTarget(filepath.Join(dir, "file", "x")); err == nil || errors.Is(err, atomicfile.ErrNotRegular) {
		t.Errorf("err = %v; want the stat error", err)
	}
}
