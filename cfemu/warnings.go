package cfemu

import (
	"net"
	"net/netip"
	"strings"
)

// StartupWarnings returns what a command serving the emulator should print
// before it starts: a warning when addr (host:port, as given to
// net.Listen) is reachable beyond this machine's loopback interface, and one
// when token is "" because the emulator then accepts any Bearer token. The
// token itself never appears in a warning.
func StartupWarnings(addr, token string) []string {
	var out []string
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if !isLoopback(host) {
		shown := host
		if shown == "" {
			shown = "every interface"
		}
		out = append(out, "WARNING: the emulator listens on "+shown+" ("+addr+"), beyond loopback: anyone who can reach this machine can read and change its state; listen on 127.0.0.1 unless you mean it")
	}
	if token == "" {
		out = append(out, "WARNING: no token is configured, so the emulator accepts ANY Bearer token; set one (--token) to require it")
	}
	return out
}

// isLoopback reports whether host names only loopback addresses:
// localhost, 127.0.0.0/8 or ::1. An empty host, 0.0.0.0 and :: listen on
// every interface.
func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
