// Command wsload is the client side of the WebSocket benchmark; it runs in
// its own process so that the servers' memory is measured alone.
//
//	-mode idle        open -n connections (gorilla, no goroutine each), -c at a
//	                  time, print "ready ok=N failed=F seconds=S", then hold
//	                  them until stdin closes
//	-mode echo        -n wsproxy.Clients (through -proxy) connect, then each does
//	                  -messages round trips of -size bytes, all at once; prints
//	                  "echo ok=N failed=F p50_us=.. p99_us=.. max_us=.. seconds=.."
//	-mode throughput  one connection sends -size binary messages for -duration
//	                  to a /sink upstream; prints "throughput bytes=B seconds=S"
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/factory-wager/edgeconf/wsproxy"
)

func main() {
	mode := flag.String("mode", "idle", "idle, echo or throughput")
	target := flag.String("url", "", "ws:// URL to connect to")
	n := flag.Int("n", 1000, "connections")
	conc := flag.Int("c", 32, "concurrent dials")
	proxy := flag.String("proxy", "", "proxy URL (echo mode)")
	messages := flag.Int("messages", 20, "round trips per client (echo mode)")
	size := flag.Int("size", 128, "message size in bytes")
	duration := flag.Duration("duration", 3*time.Second, "how long to send (throughput mode)")
	flag.Parse()
	switch *mode {
	case "idle":
		idle(*target, *n, *conc)
	case "echo":
		echo(*target, *proxy, *n, *conc, *messages, *size)
	case "throughput":
		throughput(*target, *size, *duration)
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

// dialAll runs dial for 0..n-1 with at most conc at a time.
func dialAll(n, conc int, dial func(i int) error) (failed int64, firstErr error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := dial(i); err != nil {
				mu.Lock()
				failed++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed, firstErr
}

func idle(target string, n, conc int) {
	conns := make([]*websocket.Conn, n)
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	start := time.Now()
	failed, err := dialAll(n, conc, func(i int) error {
		c, _, err := d.Dial(target, nil)
		conns[i] = c
		return err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsload: first dial error: %v\n", err)
	}
	fmt.Printf("ready ok=%d failed=%d seconds=%.2f\n", int64(n)-failed, failed, time.Since(start).Seconds())
	io.Copy(io.Discard, os.Stdin) // hold until the orchestrator closes stdin
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

func echo(target, proxy string, n, conc, messages, size int) {
	clients := make([]*wsproxy.Client, n)
	inbox := make([]chan []byte, n)
	start := time.Now()
	failed, err := dialAll(n, conc, func(i int) error {
		c, err := wsproxy.NewClient(wsproxy.ClientOptions{
			URL:  target,
			Dial: wsproxy.DialOptions{Proxy: wsproxy.ProxyConfig{URL: proxy}, HandshakeTimeout: 30 * time.Second},
		})
		if err != nil {
			return err
		}
		inbox[i] = make(chan []byte, 1)
		c.On(wsproxy.EventMessage, func(e wsproxy.Event) { inbox[i] <- e.Data })
		if err := c.Connect(context.Background()); err != nil {
			return err
		}
		clients[i] = c
		return nil
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "wsload: first dial error: %v\n", err)
	}
	connected := time.Since(start)
	payload := bytes.Repeat([]byte("e"), size)
	rtts := make([][]time.Duration, n)
	var bad atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for i, c := range clients {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range messages {
				t0 := time.Now()
				if err := c.Send(context.Background(), wsproxy.BinaryMessage, payload); err != nil {
					bad.Add(1)
					return
				}
				select {
				case got := <-inbox[i]:
					if len(got) != size {
						bad.Add(1)
					}
				case <-time.After(30 * time.Second):
					bad.Add(1)
					return
				}
				rtts[i] = append(rtts[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var all []time.Duration
	for _, r := range rtts {
		all = append(all, r...)
	}
	slices.Sort(all)
	pct := func(p float64) int64 {
		if len(all) == 0 {
			return -1
		}
		return all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()
	}
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	for _, c := range clients {
		if c != nil {
			<-c.Done()
		}
	}
	fmt.Printf("echo ok=%d failed=%d bad=%d roundtrips=%d p50_us=%d p99_us=%d max_us=%d connect_seconds=%.2f echo_seconds=%.2f\n",
		int64(n)-failed, failed, bad.Load(), len(all), pct(0.50), pct(0.99), pct(1), connected.Seconds(), elapsed.Seconds())
}

func throughput(target string, size int, duration time.Duration) {
	d := websocket.Dialer{WriteBufferSize: size + 64, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial(target, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte("t"), size)
	start := time.Now()
	var sent int64
	for time.Since(start) < duration {
		if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			log.Fatal(err)
		}
		sent += int64(size)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("done")); err != nil {
		log.Fatal(err)
	}
	_, reply, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	elapsed := time.Since(start)
	got, _ := strconv.ParseInt(strings.TrimPrefix(string(reply), "done "), 10, 64)
	if got != sent {
		log.Fatalf("sink received %d bytes, sent %d", got, sent)
	}
	fmt.Printf("throughput bytes=%d seconds=%.3f\n", got, elapsed.Seconds())
}
