package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestInitTrace builds edgeconf, runs `edgeconf --help` with
// GODEBUG=inittrace=1 and logs the summed package-init time, the five
// slowest packages and edgeconf's own packages that take more than
// 0.05 ms, so a start-up regression shows in CI logs (issue 12). It
// prints and never asserts a time: the machines are shared. `make test`
// runs it on its own with -v so that the figures are visible.
//
// It does assert one thing the linker decides, not the clock: that no
// reflect Method call is linked. text/template's executor (reached, for
// example, through cobra's Set*Template) calls reflect.Value.MethodByName,
// which makes the linker keep every exported method of every type, 12 MB
// of this binary. `go build -ldflags=-dumpdep ./cmd/edgeconf` shows who
// reaches it.
func TestInitTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "edgeconf")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if info, err := os.Stat(bin); err == nil {
		t.Logf("binary: %.1f MB (plain go build; make build strips it)", float64(info.Size())/1e6)
	}
	checkNoReflectMethod(t, bin)

	const runs = 7
	perPkg := map[string][]float64{}
	var sums []float64
	for range runs {
		cmd := exec.Command(bin, "--help")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("edgeconf --help: %v\n%s", err, stderr.Bytes())
		}
		inits, err := parseInitTrace(stderr.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, in := range inits {
			perPkg[in.pkg] = append(perPkg[in.pkg], in.ms)
			sum += in.ms
		}
		sums = append(sums, sum)
	}

	type pkgTime struct {
		pkg string
		ms  float64
	}
	var pkgs []pkgTime
	for p, ms := range perPkg {
		pkgs = append(pkgs, pkgTime{p, median(ms)})
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].ms != pkgs[j].ms {
			return pkgs[i].ms > pkgs[j].ms
		}
		return pkgs[i].pkg < pkgs[j].pkg
	})
	t.Logf("package init, edgeconf --help: %.2f ms summed over %d packages (median of %d runs; min %.2f, max %.2f)",
		median(sums), len(pkgs), runs, minOf(sums), maxOf(sums))
	for _, p := range pkgs[:min(5, len(pkgs))] {
		t.Logf("  %6.3f ms  %s", p.ms, p.pkg)
	}
	const own = "github.com/factory-wager/edgeconf"
	var slowOwn []string
	for _, p := range pkgs {
		if (p.pkg == own || strings.HasPrefix(p.pkg, own+"/")) && p.ms > 0.05 {
			slowOwn = append(slowOwn, fmt.Sprintf("%s %.3f ms", p.pkg, p.ms))
		}
	}
	if len(slowOwn) > 0 {
		t.Logf("edgeconf packages whose init takes over 0.05 ms (compile lazily, e.g. sync.OnceValue): %s", strings.Join(slowOwn, ", "))
	} else {
		t.Logf("no edgeconf package takes over 0.05 ms at init")
	}
}

// checkNoReflectMethod fails if the binary links reflect's Method or
// MethodByName, which turns off the linker's dead-method elimination.
func checkNoReflectMethod(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Logf("not an ELF binary, reflect-method check skipped: %v", err)
		return
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatalf("symbols of %s: %v", bin, err)
	}
	for _, s := range syms {
		switch s.Name {
		case "reflect.Value.Method", "reflect.Value.MethodByName", "reflect.(*rtype).Method", "reflect.(*rtype).MethodByName":
			t.Errorf("the binary links %s: the linker then keeps every exported method (issue 12); "+
				"find the caller with go build -ldflags=-dumpdep (text/template's executor is the usual one)", s.Name)
		}
	}
}

// packageInit is one line of GODEBUG=inittrace=1 output.
type packageInit struct {
	pkg string
	ms  float64
}

// parseInitTrace reads the lines the runtime writes for inittrace, e.g.
//
//	init internal/bytealg @0.008 ms, 0 ms clock, 0 bytes, 0 allocs
func parseInitTrace(b []byte) ([]packageInit, error) {
	var out []packageInit
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 || f[0] != "init" || !strings.HasPrefix(f[2], "@") || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return nil, fmt.Errorf("inittrace line %q: %w", sc.Text(), err)
		}
		out = append(out, packageInit{pkg: f[1], ms: ms})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no inittrace lines in:\n%s", b)
	}
	return out, sc.Err()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
