// Package wsproxy connects WebSocket clients to servers through corporate
// HTTP and HTTPS proxies, and relays WebSocket connections.
//
// It has three parts:
//
//   - [Dialer] opens ws:// and wss:// connections directly or through an
//     http:// or https:// proxy with CONNECT, with Basic proxy credentials,
//     a custom CA file, extra handshake headers, a bearer token and a
//     handshake timeout. The proxy is either explicit ([ProxyConfig.URL],
//     which also applies to loopback targets) or taken from the values of
//     HTTPS_PROXY, HTTP_PROXY and NO_PROXY that the caller passes in
//     [ProxyConfig.Env] (the package itself reads no environment).
//   - [Client] is the dashboard terminal's connection: Connect, Send, Close
//     and On/Off handlers for the open, message, close, error and reconnect
//     events, with ping/pong keepalive, a message size limit and automatic
//     reconnection with capped, jittered exponential backoff.
//   - [Relay] accepts WebSocket clients (bearer token, Origin allowlist,
//     size limit, idle timeout) and joins each one to its own upstream
//     connection through the proxy, with backpressure in both directions
//     and Prometheus metrics.
//
// Errors name the target and the proxy, never the proxy password (it is
// shown as "xxxxx"). A proxy that refuses the credentials yields an error
// wrapping [ErrProxyAuth] ("proxy authentication failed"), for 407 and for
// the 401 that tinyproxy 1.11 answers to a wrong password.
//
// # Why gorilla/websocket
//
// The WebSocket protocol work is done by github.com/gorilla/websocket
// (v1.5.3), which is maintained again under the gorilla organisation and is
// the most widely used Go implementation. coder/websocket (v1.8.x) was the
// other candidate; gorilla was chosen because, measured on this machine
// (docs/websocket.md), an idle
// gorilla connection costs 17.3 KB against coder's 23.6 KB with the read loop
// in the handler, and gorilla lets the relay share write buffers between
// idle connections (Upgrader.WriteBufferPool), reuse net/http's read buffer,
// stream a message from one connection to the other without holding it
// whole (NextReader/NextWriter), and it answers an oversized message with
// close code 1009 itself (SetReadLimit). Its echo throughput and latency were
// the best of the libraries measured. Its own proxy support is not used:
// this package does the CONNECT exchange so that it can tell proxy
// authentication failures apart, redact credentials and support https://
// proxies with a custom CA.
package wsproxy
