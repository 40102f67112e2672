package wsproxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// ProxyConfig says whether and how WebSocket connections go through an
// HTTP or HTTPS proxy. The zero value connects directly.
type ProxyConfig struct {
	// URL is an explicit proxy, http:// or https://, optionally with
	// user:password@. Unlike the environment it applies to every target,
	// loopback addresses included, except those matched by NoProxy.
	// Optional; "" means use Env.
	URL string
	// NoProxy lists targets that bypass URL, in NO_PROXY syntax: a host name
	// (which also matches its subdomains; ".example.com" matches only
	// subdomains), an IP address, a CIDR range, any of these with ":port",
	// or "*" for every target. Optional.
	NoProxy []string
	// Env holds the values of HTTPS_PROXY, HTTP_PROXY and NO_PROXY, used
	// when URL is "". It follows Go's net/http rules, under which loopback
	// targets (localhost, 127.0.0.1, ::1) are never proxied. Optional.
	Env ProxyEnv
	// Username and Password are the proxy's Basic credentials. Each one,
	// when set, overrides the one in the proxy URL, so the URL can name the
	// user and the password can come from elsewhere (a secret store or an
	// environment variable read by the caller). Optional.
	Username string
	Password string
}

// ProxyEnv holds the proxy environment variables, which the caller reads.
type ProxyEnv struct {
	HTTPSProxy string // HTTPS_PROXY: the proxy for wss:// targets
	HTTPProxy  string // HTTP_PROXY: the proxy for ws:// targets
	NoProxy    string // NO_PROXY: comma-separated targets that bypass the proxy
}

// proxySelector picks the proxy for a target.
type proxySelector struct {
	explicit *url.URL // nil: use env
	noProxy  []string
	env      func(*url.URL) (*url.URL, error) // nil when Env is empty
	user     string
	password string
	userSet  bool
	passSet  bool
}

func newProxySelector(c ProxyConfig) (*proxySelector, error) {
	s := &proxySelector{
		user: c.Username, userSet: c.Username != "",
		password: c.Password, passSet: c.Password != "",
	}
	if c.URL != "" {
		u, err := parseProxyURL(c.URL)
		if err != nil {
			return nil, err
		}
		s.explicit = u
		for _, e := range c.NoProxy {
			if e = strings.TrimSpace(e); e != "" {
				s.noProxy = append(s.noProxy, strings.ToLower(e))
			}
		}
		return s, nil
	}
	if c.Env != (ProxyEnv{}) {
		for _, v := range []string{c.Env.HTTPSProxy, c.Env.HTTPProxy} {
			if v == "" {
				continue
			}
			if _, err := parseProxyURL(withDefaultScheme(v)); err != nil {
				return nil, fmt.Errorf("proxy from environment: %w", err)
			}
		}
		cfg := httpproxy.Config{HTTPSProxy: c.Env.HTTPSProxy, HTTPProxy: c.Env.HTTPProxy, NoProxy: c.Env.NoProxy}
		s.env = cfg.ProxyFunc()
	}
	return s, nil
}

// withDefaultScheme mirrors httpproxy: an address without a scheme is an
// http:// proxy.
func withDefaultScheme(v string) string {
	if strings.Contains(v, "://") {
		return v
	}
	return "http://" + v
}

// parseProxyURL checks a proxy URL. Its errors never contain the URL,
// which may hold a password.
func parseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("invalid proxy URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("proxy URL %s: scheme %q is not supported (use http:// or https://)", redactURL(u), u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("proxy URL %s: no host", redactURL(u))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("proxy URL %s: port %s is not in 1..65535", redactURL(u), p)
		}
	}
	return u, nil
}

// proxyFor returns the proxy for target (a ws:// or wss:// URL), with
// the configured credentials applied, or nil for a direct connection.
func (s *proxySelector) proxyFor(target *url.URL) (*url.URL, error) {
	var p *url.URL
	switch {
	case s.explicit != nil:
		if matchNoProxy(s.noProxy, target) {
			return nil, nil
		}
		c := *s.explicit
		p = &c
	case s.env != nil:
		u := *target
		u.Scheme = httpScheme(target.Scheme)
		var err error
		if p, err = s.env(&u); err != nil {
			// httpproxy's message quotes the URL; the check in
			// newProxySelector makes this unreachable in practice.
			return nil, errors.New("invalid proxy URL in the environment")
		}
		if p == nil {
			return nil, nil
		}
	default:
		return nil, nil
	}
	if s.userSet || s.passSet {
		user, pass := "", ""
		if p.User != nil {
			user = p.User.Username()
			pass, _ = p.User.Password()
		}
		if s.userSet {
			user = s.user
		}
		if s.passSet {
			pass = s.password
		}
		p.User = url.UserPassword(user, pass)
	}
	return p, nil
}

// httpScheme maps a WebSocket scheme to the HTTP scheme whose proxy
// variable applies to it.
func httpScheme(wsScheme string) string {
	if wsScheme == "wss" || wsScheme == "https" {
		return "https"
	}
	return "http"
}

// defaultPort returns the port a URL of scheme connects to when it names
// none.
func defaultPort(scheme string) string {
	if httpScheme(scheme) == "https" {
		return "443"
	}
	return "80"
}

// hostPort returns u's host:port, with the scheme's default port.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// matchNoProxy reports whether target matches one of the NO_PROXY-style
// entries (lowercased). The rules are those of golang.org/x/net's httpproxy,
// without its exemption of loopback targets.
func matchNoProxy(entries []string, target *url.URL) bool {
	host := strings.ToLower(target.Hostname())
	port := target.Port()
	if port == "" {
		port = defaultPort(target.Scheme)
	}
	ip := net.ParseIP(host)
	for _, e := range entries {
		if e == "*" {
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		ehost, eport := e, ""
		if h, p, err := net.SplitHostPort(e); err == nil {
			ehost, eport = h, p
		} else if strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") {
			ehost = e[1 : len(e)-1]
		}
		if eport != "" && eport != port {
			continue
		}
		if eip := net.ParseIP(ehost); eip != nil {
			if ip != nil && eip.Equal(ip) {
				return true
			}
			continue
		}
		ehost = strings.TrimPrefix(ehost, "*")
		if strings.HasPrefix(ehost, ".") {
			if strings.HasSuffix(host, ehost) {
				return true
			}
			continue
		}
		if host == ehost || strings.HasSuffix(host, "."+ehost) {
			return true
		}
	}
	return false
}

// redactURL returns u as text with its password replaced by "xxxxx" and
// its query and fragment, which may carry tokens or signatures, dropped.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery == "" && !c.ForceQuery {
		return c.Redacted()
	}
	c.RawQuery, c.ForceQuery = "", false
	return c.Redacted() + "?…"
}
