package local_test

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

	"github.com/factory-wager/edgeconf/local"
)

// version is the content of the n-th write: large enough that a torn
// write would be visible, and self-describing.
func version(n int) []byte {
	return []byte(fmt.Sprintf("{\"version\":%d,\"pad\":%q}\n", n, strings.Repeat(fmt.Sprint(n%10), 64<<10)))
}

// TestWriteFileAtomic_NoTornFiles kills a writer that replaces the file in
// a loop, 100 times at random moments; every time the file must be one
// complete version (reliability case LKG-4).
func TestWriteFileAtomic_NoTornFiles(t *testing.T) {
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
		if err := local.WriteFileAtomic(path, version(n), 0o600); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", n)
	}
}

func TestWriteFileAtomic_Errors(t *testing.T) {
	if err := local.WriteFileAtomic(filepath.Join(t.TempDir(), "missing", "f"), []byte("x"), 0o600); err == nil {
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
	if err := local.WriteFileAtomic(target, []byte("x"), 0o600); err == nil {
		t.Error("replacing a non-empty folder succeeded")
	}
}

func TestWriteFileAtomic_ReplacesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.json")
	for _, content := range []string{"first version, longer than the second", "second"} {
		if err := local.WriteFileAtomic(path, []byte(content), 0o640); err != nil {
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
