// Command wsecho is the upstream server of the WebSocket benchmark: a
// gorilla/websocket server with default Upgrader settings and the read
// loop in the handler, which is also the "one idle gorilla connection"
// memory reference.
//
//	/       echoes every message
//	/sink   discards binary messages; answers the text "done" with "done N"
//	        (N payload bytes received on that connection)
//	/debug/stats  memory and live connection count (ws.Stats), after a GC
//
// It prints "listening ADDR" on stdout once it accepts connections.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/factory-wager/edgeconf/bench/ws"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	var live atomic.Int64
	up := websocket.Upgrader{} // the defaults: the reference configuration
	mux := http.NewServeMux()
	mux.Handle("/debug/stats", ws.StatsHandler(live.Load))
	mux.HandleFunc("/sink", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		live.Add(1)
		defer live.Add(-1)
		defer c.Close()
		var total int64
		buf := make([]byte, 64<<10)
		for {
			t, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if t == websocket.TextMessage {
				msg, _ := io.ReadAll(rd)
				if string(msg) == "done" {
					if c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "done %d", total)) != nil {
						return
					}
				}
				continue
			}
			n, err := io.CopyBuffer(io.Discard, rd, buf)
			total += n
			if err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		live.Add(1)
		defer live.Add(-1)
		defer c.Close()
		for {
			t, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(t, msg) != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}
