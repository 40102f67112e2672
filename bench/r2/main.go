// Command r2bench measures uploading and downloading one large file to an
// S3 server on loopback (versitygw) with edgeconf (`edgeconf r2 put|get
// --remote`), rclone and the AWS CLI, interleaved in the same run, each as
// a whole process under /usr/bin/time -v: wall time and peak RSS. It
// prints a Markdown table of the medians, writes them as JSON, and exits 1
// when edgeconf is slower than the faster peer in either direction.
// bench/r2.sh builds and runs it (issue 6).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Test credentials of the server the benchmark starts.
const (
	accessKey = "r2bench"
	secretKey = "r2bench-secret-0123456789"
	bucket    = "bench"
)

// tool is one client under test.
type tool struct {
	Name     string
	Version  string
	upload   func(src, key string) []string
	download func(key, dst string) []string
	env      []string
}

// sample is one timed run of one tool in one direction.
type sample struct {
	Seconds float64 `json:"seconds"`
	RSSKiB  int64   `json:"rssKiB"`
}

// result is a tool's runs in one direction.
type result struct {
	Tool          string   `json:"tool"`
	Version       string   `json:"version"`
	Direction     string   `json:"direction"`
	Samples       []sample `json:"samples"`
	MedianSeconds float64  `json:"medianSeconds"`
	MedianMBps    float64  `json:"medianMBps"`
	PeakRSSKiB    int64    `json:"peakRSSKiB"`
}

func main() {
	edgeconf := flag.String("edgeconf", "bin/edgeconf", "edgeconf binary")
	versitygw := flag.String("versitygw", "bin/versitygw", "versitygw binary")
	awsBin := flag.String("aws", "/usr/bin/aws", "AWS CLI (the Debian awscli package)")
	rcloneBin := flag.String("rclone", "rclone", "rclone (the Debian package)")
	sizeMiB := flag.Int64("size-mib", 1024, "size of the file, MiB")
	runs := flag.Int("runs", 3, "runs per tool and direction")
	outDir := flag.String("out", "bench/out", "folder for r2.json and r2.md")
	workDir := flag.String("work", "", "scratch folder (default a new one under $TMPDIR, removed at the end)")
	timeout := flag.Duration("timeout", 8*time.Minute, "bound on the whole benchmark")
	flag.Parse()
	if err := run(*edgeconf, *versitygw, *awsBin, *rcloneBin, *sizeMiB<<20, *runs, *outDir, *workDir, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "r2bench:", err)
		var miss targetMissed
		if errors.As(err, &miss) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

type targetMissed string

func (t targetMissed) Error() string { return string(t) }

func run(edgeconfBin, vgwBin, awsBin, rcloneBin string, size int64, runs int, outDir, workDir string, timeout time.Duration) error {
	// An interrupt (bench/r2.sh's timeout sends one) stops the tools and
	// the server instead of leaving them running.
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, bin := range []*string{&edgeconfBin, &vgwBin, &awsBin, &rcloneBin} {
		p, err := exec.LookPath(*bin)
		if err != nil {
			return fmt.Errorf("%s: %w", *bin, err)
		}
		*bin, _ = filepath.Abs(p)
	}
	if workDir == "" {
		d, err := os.MkdirTemp("", "r2bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	// The source, one downloaded copy and the server's copy (plus its
	// part files while an upload completes) must fit.
	var st syscall.Statfs_t
	if err := syscall.Statfs(workDir, &st); err == nil && int64(st.Bavail)*st.Bsize < 4*size {
		return fmt.Errorf("%s has %d MiB free; the benchmark needs %d MiB", workDir, int64(st.Bavail)*st.Bsize>>20, 4*size>>20)
	}
	src := filepath.Join(workDir, "src.bin")
	sum, err := writeRandomFile(src, size)
	if err != nil {
		return err
	}
	endpoint, stop, err := startServer(ctx, vgwBin, filepath.Join(workDir, "root"))
	if err != nil {
		return err
	}
	defer stop()

	base := cleanEnv()
	awsEnv := append(slices.Clone(base), "AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_DEFAULT_REGION=auto",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	tools := []tool{
		{
			Name: "edgeconf",
			upload: func(src, key string) []string {
				return []string{edgeconfBin, "r2", "put", bucket + "/" + key, "--file", src, "--remote"}
			},
			download: func(key, dst string) []string {
				return []string{edgeconfBin, "r2", "get", bucket + "/" + key, "--file", dst, "--remote"}
			},
			env: append(slices.Clone(base), "R2_ENDPOINT="+endpoint, "R2_ACCESS_KEY_ID="+accessKey, "R2_SECRET_ACCESS_KEY="+secretKey,
				"EDGECONF_STATE_DIR="+filepath.Join(workDir, "state")),
		},
		{
			Name:     "rclone",
			upload:   func(src, key string) []string { return []string{rcloneBin, "copyto", src, "vgw:" + bucket + "/" + key} },
			download: func(key, dst string) []string { return []string{rcloneBin, "copyto", "vgw:" + bucket + "/" + key, dst} },
			env: append(slices.Clone(base), "RCLONE_CONFIG=/dev/null", "RCLONE_CONFIG_VGW_TYPE=s3", "RCLONE_CONFIG_VGW_PROVIDER=Other",
				"RCLONE_CONFIG_VGW_ACCESS_KEY_ID="+accessKey, "RCLONE_CONFIG_VGW_SECRET_ACCESS_KEY="+secretKey,
				"RCLONE_CONFIG_VGW_ENDPOINT="+endpoint, "RCLONE_CONFIG_VGW_REGION=auto"),
		},
		{
			Name: "aws",
			upload: func(src, key string) []string {
				return []string{awsBin, "--endpoint-url", endpoint, "s3", "cp", src, "s3://" + bucket + "/" + key, "--only-show-errors", "--no-progress"}
			},
			download: func(key, dst string) []string {
				return []string{awsBin, "--endpoint-url", endpoint, "s3", "cp", "s3://" + bucket + "/" + key, dst, "--only-show-errors", "--no-progress"}
			},
			env: awsEnv,
		},
	}
	tools[0].Version = "this tree"
	tools[1].Version = strings.TrimSuffix(firstWord(firstLine(ctx, tools[1].env, rcloneBin, "version"), 1), "-DEV")
	tools[2].Version = firstWord(firstLine(ctx, awsEnv, awsBin, "--version"), 0)
	if out, err := cmdEnv(exec.CommandContext(ctx, awsBin, "--endpoint-url", endpoint, "s3api", "create-bucket", "--bucket", bucket), awsEnv).CombinedOutput(); err != nil {
		return fmt.Errorf("create bucket: %v: %s", err, out)
	}

	samples := map[string][]sample{} // "tool/direction"
	dst := filepath.Join(workDir, "dst.bin")
	for r := 0; r < runs; r++ {
		for i := range tools {
			t := tools[(i+r)%len(tools)] // rotate who goes first
			key := fmt.Sprintf("%s-%d", t.Name, r)
			up, err := timed(ctx, t.env, t.upload(src, key))
			if err != nil {
				return fmt.Errorf("%s upload: %w", t.Name, err)
			}
			down, err := timed(ctx, t.env, t.download(key, dst))
			if err != nil {
				return fmt.Errorf("%s download: %w", t.Name, err)
			}
			if got, err := md5File(dst); err != nil || got != sum {
				return fmt.Errorf("%s download: the file differs from the source (%v)", t.Name, err)
			}
			os.Remove(dst)
			// Keep the disk use bounded: the server's copy goes too.
			if out, err := cmdEnv(exec.CommandContext(ctx, awsBin, "--endpoint-url", endpoint, "s3", "rm", "s3://"+bucket+"/"+key, "--only-show-errors"), awsEnv).CombinedOutput(); err != nil {
				return fmt.Errorf("delete %s: %v: %s", key, err, out)
			}
			samples[t.Name+"/upload"] = append(samples[t.Name+"/upload"], up)
			samples[t.Name+"/download"] = append(samples[t.Name+"/download"], down)
			fmt.Fprintf(os.Stderr, "run %d %-8s upload %6.2f s %7d KiB   download %6.2f s %7d KiB\n", r+1, t.Name, up.Seconds, up.RSSKiB, down.Seconds, down.RSSKiB)
		}
	}

	var results []result
	for _, dir := range []string{"upload", "download"} {
		for _, t := range tools {
			s := samples[t.Name+"/"+dir]
			res := result{Tool: t.Name, Version: t.Version, Direction: dir, Samples: s}
			secs := make([]float64, len(s))
			for i, x := range s {
				secs[i] = x.Seconds
				res.PeakRSSKiB = max(res.PeakRSSKiB, x.RSSKiB)
			}
			res.MedianSeconds = median(secs)
			res.MedianMBps = float64(size) / 1e6 / res.MedianSeconds
			results = append(results, res)
		}
	}
	report := struct {
		Machine string   `json:"machine"`
		Date    string   `json:"date"`
		Bytes   int64    `json:"bytes"`
		Runs    int      `json:"runs"`
		Results []result `json:"results"`
	}{machine(ctx), time.Now().UTC().Format("2006-01-02"), size, runs, results}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(report, "", "  ")
	if err := os.WriteFile(filepath.Join(outDir, "r2.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	md, missed := table(results, runs)
	md = fmt.Sprintf("Machine: %s, %s.\n\n%s", report.Machine, report.Date, md)
	if err := os.WriteFile(filepath.Join(outDir, "r2.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print(md)
	if missed != "" {
		return targetMissed(missed)
	}
	return nil
}

// table renders the medians with the ratio of the faster peer to
// edgeconf (≥ 1.0 means edgeconf is at least as fast) and says which
// target was missed, if any.
func table(results []result, runs int) (string, string) {
	var b strings.Builder
	fmt.Fprintf(&b, "| direction | tool | median of %d | MB/s | peak RSS |\n|---|---|---|---|---|\n", runs)
	var missed []string
	for _, dir := range []string{"upload", "download"} {
		var edge, peer result
		for _, r := range results {
			if r.Direction != dir {
				continue
			}
			name := r.Tool
			if r.Version != "" {
				name += " (" + r.Version + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %.2f s | %.0f | %.0f MiB |\n", dir, name, r.MedianSeconds, r.MedianMBps, float64(r.PeakRSSKiB)/1024)
			switch {
			case r.Tool == "edgeconf":
				edge = r
			case peer.Tool == "" || r.MedianSeconds < peer.MedianSeconds:
				peer = r
			}
		}
		ratio := peer.MedianSeconds / edge.MedianSeconds
		fmt.Fprintf(&b, "| %s | **faster peer (%s) ÷ edgeconf** | **%.2f×** (target ≥ 1.0×) | | |\n", dir, peer.Tool, ratio)
		if ratio < 1.0 {
			missed = append(missed, fmt.Sprintf("%s: edgeconf %.2f s, %s %.2f s", dir, edge.MedianSeconds, peer.Tool, peer.MedianSeconds))
		}
	}
	if len(missed) > 0 {
		return b.String(), "target missed: " + strings.Join(missed, "; ")
	}
	return b.String(), ""
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// timed runs argv under /usr/bin/time -v and returns its wall time
// (measured here) and peak RSS (from time's report).
func timed(ctx context.Context, env, argv []string) (sample, error) {
	cmd := cmdEnv(exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v"}, argv...)...), env)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, tail(stderr.String(), 20))
	}
	s := sample{Seconds: elapsed.Seconds()}
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Maximum resident set size (kbytes): "); ok {
			s.RSSKiB, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if s.RSSKiB == 0 {
		return s, fmt.Errorf("no peak RSS in the output of /usr/bin/time -v")
	}
	return s, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func cmdEnv(cmd *exec.Cmd, env []string) *exec.Cmd {
	cmd.Env = env
	return cmd
}

// cleanEnv is the environment without the variables that would change a
// tool's behaviour (credentials, endpoints, CA bundles of the host).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "RCLONE_") || strings.HasPrefix(name, "R2_") ||
			strings.HasPrefix(name, "CLOUDFLARE_") || strings.HasPrefix(name, "EDGECONF_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func firstLine(ctx context.Context, env []string, argv ...string) string {
	out, err := cmdEnv(exec.CommandContext(ctx, argv[0], argv[1:]...), env).CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// firstWord returns word i of s ("rclone v1.60.1" → word 1 "v1.60.1").
func firstWord(s string, i int) string {
	f := strings.Fields(s)
	if i >= len(f) {
		return s
	}
	return f[i]
}

// writeRandomFile writes size pseudo-random bytes (incompressible, so no
// tool gains from compression) and returns their MD5.
func writeRandomFile(path string, size int64) ([md5.Size]byte, error) {
	f, err := os.Create(path)
	if err != nil {
		return [md5.Size]byte{}, err
	}
	defer f.Close()
	h := md5.New()
	r := rand.NewChaCha8([32]byte{'r', '2'})
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = r.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return [md5.Size]byte{}, err
		}
		h.Write(buf[:n])
		left -= n
	}
	var sum [md5.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, f.Close()
}

func md5File(path string) ([md5.Size]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return [md5.Size]byte{}, err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return [md5.Size]byte{}, err
	}
	var sum [md5.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// startServer starts versitygw on a free loopback port with a posix root
// and waits until it answers.
func startServer(ctx context.Context, bin, root string) (string, func(), error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--port", addr, "--region", "auto", "--keep-alive", "--quiet", "posix", root)
	cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	endpoint := "http://" + addr
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(15 * time.Second); ; {
		if res, err := http.Get(endpoint + "/"); err == nil {
			res.Body.Close()
			return endpoint, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("versitygw did not answer at %s: %s", endpoint, out.String())
		}
		select {
		case <-exited:
			return "", nil, fmt.Errorf("versitygw exited: %s", out.String())
		case <-tick.C:
		case <-ctx.Done():
			stop()
			return "", nil, ctx.Err()
		}
	}
}

// machine describes the host: Go version, CPU model and cores.
func machine(ctx context.Context) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	goVersion := firstLine(ctx, os.Environ(), "go", "version")
	if goVersion == "" {
		goVersion = runtime.Version()
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s; %s, %d cores; load average at the end %s", goVersion, cpu, runtime.NumCPU(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
}
