package ws

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Stats is what a benchmark server reports at /debug/stats, measured
// after a forced GC and a return of free memory to the OS, so that two
// processes are compared by the same method.
type Stats struct {
	RSS        int64 `json:"rss"` // VmRSS from /proc/self/status, bytes
	HeapInuse  int64 `json:"heapInuse"`
	StackInuse int64 `json:"stackInuse"`
	Goroutines int   `json:"goroutines"`
	Conns      int64 `json:"conns"` // live WebSocket connections (or relayed pairs)
}

// VmRSS returns the resident set size of process pid ("self" for this
// process), in bytes, from /proc/PID/status.
func VmRSS(pid string) (int64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
}

// StatsHandler serves Stats; conns reports the live connection count.
func StatsHandler(conns func() int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss, err := VmRSS("self")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(Stats{
			RSS: rss, HeapInuse: int64(ms.HeapInuse), StackInuse: int64(ms.StackInuse),
			Goroutines: runtime.NumGoroutine(), Conns: conns(),
		})
	})
}
