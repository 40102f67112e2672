// Command wsrelay is the relay under test in the WebSocket benchmark.
//
//	-mode ws   a wsproxy.Relay joining each client to -upstream (a ws:// URL)
//	-mode tcp  the peer: a plain TCP relay (io.Copy both ways, which uses
//	           splice on Linux) to the host:port of -upstream
//
// /debug/stats on -control reports memory after a GC and the number of
// relayed pairs. It prints "listening ADDR CONTROL" once ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/factory-wager/edgeconf/bench/ws"
	"github.com/factory-wager/edgeconf/wsproxy"
)

func main() {
	mode := flag.String("mode", "ws", "ws (wsproxy.Relay) or tcp (io.Copy peer)")
	listen := flag.String("listen", "127.0.0.1:0", "address for clients")
	control := flag.String("control", "127.0.0.1:0", "address for /debug/stats")
	upstream := flag.String("upstream", "", "upstream ws:// URL")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	cln, err := net.Listen("tcp", *control)
	if err != nil {
		log.Fatal(err)
	}
	var conns func() int64
	var serve func() error
	switch *mode {
	case "ws":
		r, err := wsproxy.NewRelay(wsproxy.RelayOptions{
			Upstream: *upstream, IdleTimeout: -1,
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
		if err != nil {
			log.Fatal(err)
		}
		conns = func() int64 { return int64(r.Active()) }
		serve = func() error { return r.Serve(ctx, ln) }
	case "tcp":
		u, err := url.Parse(*upstream)
		if err != nil {
			log.Fatal(err)
		}
		var live atomic.Int64
		conns = live.Load
		serve = func() error { return tcpRelay(ctx, ln, u.Host, &live) }
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	go http.Serve(cln, ws.StatsHandler(conns))
	fmt.Printf("listening %s %s\n", ln.Addr(), cln.Addr())
	if err := serve(); err != nil {
		log.Fatal(err)
	}
}

// tcpRelay copies bytes between each client and its own upstream
// connection until ctx ends.
func tcpRelay(ctx context.Context, ln net.Listener, upstream string, live *atomic.Int64) error {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				return
			}
			defer up.Close()
			live.Add(1)
			defer live.Add(-1)
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, c); done <- struct{}{} }()
			go func() { io.Copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}
