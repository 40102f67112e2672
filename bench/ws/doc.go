// Package ws holds the helpers shared by the WebSocket benchmark programs
// under cmd/ (issue 7): process memory from /proc and a small stats
// endpoint. bench/ws.sh builds and runs them.
package ws
