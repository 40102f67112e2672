// Command wsbench runs the WebSocket benchmark of issue 7 with the programs
// built beside it (wsecho, wsrelay, wsload), each in its own process, all on
// 127.0.0.1:
//
//	(a) capacity: the relay holds -n client↔upstream pairs, 0 failed dials
//	(b) idle memory per relayed pair ≤ 2 × one idle gorilla default
//	    connection (wsecho), measured the same way in the same run
//	(c) -clients wsproxy clients echoing through squid (-squid URL): p50/p99
//	(d) relay throughput with 64 KiB messages ≥ 0.5 × a plain io.Copy relay
//
// It prints a Markdown summary and exits 1 when a target is missed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/factory-wager/edgeconf/bench/ws"
)

var (
	binDir   = flag.String("bin", "", "directory holding wsecho, wsrelay and wsload")
	pairs    = flag.Int("n", 9000, "idle pairs for (a) and (b)")
	clients  = flag.Int("clients", 1000, "concurrent clients for (c)")
	squid    = flag.String("squid", "", "squid proxy URL with credentials for (c); empty skips (c)")
	runs     = flag.Int("runs", 3, "throughput runs per relay for (d)")
	duration = flag.Duration("duration", 3*time.Second, "length of one throughput run")
	settle   = flag.Duration("settle", 2*time.Second, "wait after connecting before measuring memory")
)

// proc is a child process whose first stdout line is its readiness line.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
	first []string // fields of the first line
}

func start(ctx context.Context, name string, args ...string) *proc {
	cmd := exec.CommandContext(ctx, filepath.Join(*binDir, name), args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	must(err)
	stdout, err := cmd.StdoutPipe()
	must(err)
	must(cmd.Start())
	p := &proc{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	if !p.out.Scan() {
		log.Fatalf("%s %v: exited before it was ready", name, args)
	}
	p.first = strings.Fields(p.out.Text())
	return p
}

// stop ends the process (closing stdin first, which wsload waits for).
func (p *proc) stop() {
	p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// kv parses "key=value" fields.
func kv(fields []string) map[string]string {
	m := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k] = v
		}
	}
	return m
}

func stats(addr string) ws.Stats {
	resp, err := http.Get("http://" + addr + "/debug/stats")
	must(err)
	defer resp.Body.Close()
	var s ws.Stats
	must(json.NewDecoder(resp.Body).Decode(&s))
	return s
}

// waitConns polls a server's live connection count until it equals want.
func waitConns(addr string, want int64) ws.Stats {
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := stats(addr)
		if s.Conns == want {
			return s
		}
		if time.Now().After(deadline) {
			log.Fatalf("%s: %d connections, want %d", addr, s.Conns, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// idleRun holds n idle connections to target and returns wsload's report
// and the server's stats with them connected. baseline is measured first.
func idleRun(ctx context.Context, target, statsAddr string, n int, whileHeld func()) (ok, failed int64, dialSecs float64, before, after ws.Stats) {
	before = waitConns(statsAddr, 0)
	load := start(ctx, "wsload", "-mode", "idle", "-url", target, "-n", strconv.Itoa(n), "-c", "32")
	r := kv(load.first)
	ok, _ = strconv.ParseInt(r["ok"], 10, 64)
	failed, _ = strconv.ParseInt(r["failed"], 10, 64)
	dialSecs, _ = strconv.ParseFloat(r["seconds"], 64)
	waitConns(statsAddr, ok)
	time.Sleep(*settle) // let the connections settle, as the reference method does
	after = stats(statsAddr)
	if whileHeld != nil {
		whileHeld()
	}
	load.stop()
	return
}

func main() {
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("wsbench: ")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	missed := false

	echo := start(ctx, "wsecho")
	defer echo.stop()
	echoAddr := echo.first[1]
	n := *pairs

	// (b) reference: n idle connections straight to the gorilla server.
	log.Printf("(b) %d idle connections to the gorilla default server", n)
	gOK, gFailed, gSecs, gBefore, gAfter := idleRun(ctx, "ws://"+echoAddr+"/", echoAddr, n, nil)
	perGorilla := float64(gAfter.RSS-gBefore.RSS) / float64(gOK)

	// (a) + (b): n idle pairs through the relay.
	log.Printf("(a) %d idle clients through the relay", n)
	relay := start(ctx, "wsrelay", "-mode", "ws", "-upstream", "ws://"+echoAddr+"/")
	var upstreamLive int64
	rOK, rFailed, rSecs, rBefore, rAfter := idleRun(ctx, "ws://"+relay.first[1]+"/", relay.first[2], n,
		func() { upstreamLive = stats(echoAddr).Conns })
	perPair := float64(rAfter.RSS-rBefore.RSS) / float64(rOK)
	relay.stop()

	// (d) throughput through each relay, alternating.
	log.Printf("(d) throughput, %d runs of %s per relay", *runs, *duration)
	wsRelay := start(ctx, "wsrelay", "-mode", "ws", "-upstream", "ws://"+echoAddr+"/sink")
	defer wsRelay.stop()
	tcpRelay := start(ctx, "wsrelay", "-mode", "tcp", "-upstream", "ws://"+echoAddr+"/sink")
	defer tcpRelay.stop()
	var wsRates, tcpRates []float64
	for range *runs {
		tcpRates = append(tcpRates, throughput(ctx, "ws://"+tcpRelay.first[1]+"/sink"))
		wsRates = append(wsRates, throughput(ctx, "ws://"+wsRelay.first[1]+"/sink"))
	}
	wsMed, tcpMed := median(wsRates), median(tcpRates)

	// (c) clients echoing through squid.
	var echoLine map[string]string
	if *squid != "" {
		log.Printf("(c) %d clients echoing through squid", *clients)
		load := start(ctx, "wsload", "-mode", "echo", "-url", "ws://"+echoAddr+"/", "-proxy", *squid,
			"-n", strconv.Itoa(*clients), "-c", "64", "-messages", "20", "-size", "128")
		echoLine = kv(load.first)
		load.stop()
	}

	fmt.Printf("\n### (a) capacity and (b) idle memory, N = %d\n\n", n)
	fmt.Printf("| | connections held | failed dials | dial time | ΔRSS | RSS per connection / pair | heap, stack in use | goroutines |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| gorilla default server (reference) | %d | %d | %.1f s | %.1f MB | %s | %.1f / %.1f MB | %d |\n",
		gOK, gFailed, gSecs, mb(gAfter.RSS-gBefore.RSS), kb(perGorilla), mb(gAfter.HeapInuse), mb(gAfter.StackInuse), gAfter.Goroutines)
	fmt.Printf("| wsproxy relay, client↔upstream pairs | %d pairs (%d sockets) | %d | %.1f s | %.1f MB | %s per pair | %.1f / %.1f MB | %d |\n",
		rAfter.Conns, 2*rAfter.Conns, rFailed, rSecs, mb(rAfter.RSS-rBefore.RSS), kb(perPair), mb(rAfter.HeapInuse), mb(rAfter.StackInuse), rAfter.Goroutines)
	ratio := perPair / perGorilla
	fmt.Printf("\n(a) %d pairs held (upstream server: %d connections), %d failed dials: %s\n", rAfter.Conns, upstreamLive, rFailed,
		verdict(rAfter.Conns == int64(n) && upstreamLive == int64(n) && rFailed == 0, &missed))
	fmt.Printf("(b) per pair / per gorilla connection = %.2f (target ≤ 2.0): %s\n", ratio, verdict(ratio <= 2, &missed))

	fmt.Printf("\n### (d) throughput, 64 KiB binary messages, one stream, client → relay → sink\n\n")
	fmt.Printf("| relay | runs (MB/s) | median |\n|---|---|---|\n")
	fmt.Printf("| io.Copy TCP relay (peer) | %s | %.0f MB/s |\n", list(tcpRates), tcpMed)
	fmt.Printf("| wsproxy relay | %s | %.0f MB/s |\n", list(wsRates), wsMed)
	fmt.Printf("\n(d) wsproxy / io.Copy = %.2f (target ≥ 0.5): %s\n", wsMed/tcpMed, verdict(wsMed/tcpMed >= 0.5, &missed))

	if echoLine != nil {
		fmt.Printf("\n### (c) %d concurrent clients echoing through squid (Basic auth)\n\n", *clients)
		fmt.Printf("| connected | failed dials | bad replies | round trips | p50 | p99 | max | connect time | echo time |\n|---|---|---|---|---|---|---|---|---|\n")
		fmt.Printf("| %s | %s | %s | %s | %s µs | %s µs | %s µs | %s s | %s s |\n", echoLine["ok"], echoLine["failed"], echoLine["bad"],
			echoLine["roundtrips"], echoLine["p50_us"], echoLine["p99_us"], echoLine["max_us"], echoLine["connect_seconds"], echoLine["echo_seconds"])
		fmt.Printf("\n(c) %s clients, %s failed dials: %s\n", echoLine["ok"], echoLine["failed"],
			verdict(echoLine["ok"] == strconv.Itoa(*clients) && echoLine["failed"] == "0" && echoLine["bad"] == "0", &missed))
	} else {
		fmt.Printf("\n(c) skipped: no squid (apt-get install squid apache2-utils)\n")
	}
	if missed {
		fmt.Println("\nFAIL: a target was missed")
		os.Exit(1)
	}
	fmt.Println("\nall targets met")
}

func throughput(ctx context.Context, target string) float64 {
	p := start(ctx, "wsload", "-mode", "throughput", "-url", target, "-size", strconv.Itoa(64<<10), "-duration", duration.String())
	r := kv(p.first)
	p.stop()
	b, _ := strconv.ParseFloat(r["bytes"], 64)
	s, _ := strconv.ParseFloat(r["seconds"], 64)
	if s == 0 {
		must(errors.New("throughput run reported nothing"))
	}
	return b / s / 1e6
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}

func mb(b int64) float64 { return float64(b) / 1e6 }

func kb(b float64) string { return fmt.Sprintf("%.1f KB", b/1e3) }

func verdict(ok bool, missed *bool) string {
	if ok {
		return "met"
	}
	*missed = true
	return "MISSED"
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
