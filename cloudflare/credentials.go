package cloudflare

import (
	"fmt"
	"log/slog"
	"strings"
)

// Environment variables edgeconf reads for Cloudflare (the names wrangler uses).
const (
	EnvAPIToken    = "CLOUDFLARE_API_TOKEN"
	EnvAccountID   = "CLOUDFLARE_ACCOUNT_ID"
	EnvZoneID      = "CLOUDFLARE_ZONE_ID"
	EnvNamespaceID = "KV_NAMESPACE_ID"
	EnvBaseURL     = "CLOUDFLARE_API_BASE_URL"
)

// Credentials are what a remote command needs to reach Cloudflare. Only
// cmd/edgeconf reads them from the environment (CredentialsFromEnv with
// its LookupEnv). Printing Credentials with fmt or slog shows whether the
// token is set, never the token.
type Credentials struct {
	Token       string // CLOUDFLARE_API_TOKEN
	AccountID   string // CLOUDFLARE_ACCOUNT_ID
	ZoneID      string // CLOUDFLARE_ZONE_ID (DNS, routes)
	NamespaceID string // KV_NAMESPACE_ID (the CONFIG namespace when the configuration names none)
	BaseURL     string // CLOUDFLARE_API_BASE_URL; "" means DefaultBaseURL
}

// CredentialsFromEnv reads the variables with lookup (os.LookupEnv or a
// test double). Values are trimmed of surrounding white space.
func CredentialsFromEnv(lookup func(string) (string, bool)) Credentials {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	return Credentials{
		Token:       get(EnvAPIToken),
		AccountID:   get(EnvAccountID),
		ZoneID:      get(EnvZoneID),
		NamespaceID: get(EnvNamespaceID),
		BaseURL:     get(EnvBaseURL),
	}
}

// Missing names the variables that are not set among those every remote
// call needs (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID) and the extra
// ones the caller needs, such as EnvNamespaceID or EnvZoneID. It returns
// nil when nothing is missing.
func (c Credentials) Missing(extra ...string) []string {
	var out []string
	set := map[string]bool{
		EnvAPIToken:    c.Token != "",
		EnvAccountID:   c.AccountID != "",
		EnvZoneID:      c.ZoneID != "",
		EnvNamespaceID: c.NamespaceID != "",
		EnvBaseURL:     c.BaseURL != "",
	}
	for _, name := range append([]string{EnvAPIToken, EnvAccountID}, extra...) {
		if !set[name] {
			out = append(out, name)
		}
	}
	return out
}

// MissingError returns nil when nothing is missing, else an error saying
// which variables to set.
func (c Credentials) MissingError(extra ...string) error {
	m := c.Missing(extra...)
	if len(m) == 0 {
		return nil
	}
	verb := "is"
	if len(m) > 1 {
		verb = "are"
	}
	return fmt.Errorf("--remote needs Cloudflare credentials: %s %s not set (set them in the environment or in a .env file; see .env.example)", joinNames(m), verb)
}

func joinNames(names []string) string {
	switch len(names) {
	case 1:
		return names[0]
	case 2:
		return names[0] + " and " + names[1]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// Options returns client options for these credentials.
func (c Credentials) Options() Options {
	return Options{BaseURL: c.BaseURL, Token: c.Token, AccountID: c.AccountID}
}

// String describes the credentials without the token.
func (c Credentials) String() string {
	tok := "unset"
	if c.Token != "" {
		tok = "set"
	}
	return fmt.Sprintf("account %q, token %s, zone %q, namespace %q, base URL %q",
		c.AccountID, tok, c.ZoneID, c.NamespaceID, c.BaseURL)
}

// GoString keeps %#v from printing the token.
func (c Credentials) GoString() string { return "cloudflare.Credentials{" + c.String() + "}" }

// Format keeps every fmt verb (%v, %+v, %s, %q) from printing the token.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, c.GoString())
		return
	}
	fmt.Fprint(f, c.String())
}

// LogValue keeps slog from printing the token.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account", c.AccountID), slog.Bool("token_set", c.Token != ""),
		slog.String("zone", c.ZoneID), slog.String("namespace", c.NamespaceID),
		slog.String("base_url", c.BaseURL),
	)
}
