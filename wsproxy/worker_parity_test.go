package wsproxy

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/factory-wager/edgeconf/bundle"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/devrun"
	"github.com/factory-wager/edgeconf/internal/testtool"
	"github.com/factory-wager/edgeconf/kvstore"
)

// TestWorkerTerminal_ThroughSquid: two clients of the example Worker's
// /ws/terminal/demo, running on workerd, one of them through squid with
// proxy authentication, exchange messages through the TerminalSession
// Durable Object.
func TestWorkerTerminal_ThroughSquid(t *testing.T) {
	workerd := testtool.Require(t, "workerd", "make tools")
	p := startSquid(t)
	doc, err := config.Load(filepath.Join("..", config.DefaultFile), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bo, err := bundle.FromDocument(doc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Build(bo)
	if err != nil {
		t.Fatal(err)
	}
	mem := kvstore.NewMemory(nil)
	srv, err := devrun.Start(context.Background(), devrun.Options{
		Workerd: workerd, Script: res.Script, Listen: "127.0.0.1:" + freePort(t), StateDir: t.TempDir(), Name: "quantum-dashboard",
		KV: []devrun.KVNamespace{{Binding: "CONFIG", Open: func(bool) (kvstore.Store, func() error, error) {
			return mem, func() error { return nil }, nil
		}}},
		DurableObjects: []devrun.DurableObject{{Binding: "SESSIONS", ClassName: "TerminalSession"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	target := "ws" + srv.URL[len("http"):] + "/ws/terminal/demo"

	viaSquid, err := NewDialer(DialOptions{Proxy: ProxyConfig{URL: withUserinfo(p.url, url.UserPassword(realProxyUser, realProxyPass))}})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := NewDialer(DialOptions{NetDialContext: (&net.Dialer{}).DialContext})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := viaSquid.Dial(ctx, target)
	if err != nil {
		t.Fatalf("dial through squid: %v", err)
	}
	defer a.Close()
	b, err := direct.Dial(ctx, target)
	if err != nil {
		t.Fatalf("dial direct: %v", err)
	}
	defer b.Close()
	// Both sockets are in the Durable Object once their dials return (it
	// accepts a socket before answering 101).
	exchange := func(from, to *websocket.Conn, msg string) {
		t.Helper()
		if err := from.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = to.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, got, err := to.ReadMessage()
		if err != nil || string(got) != msg {
			t.Fatalf("got %q (%v), want %q", got, err, msg)
		}
	}
	exchange(a, b, "ls -la")
	exchange(b, a, "total 0")
}
