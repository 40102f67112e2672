package cfemu

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call is one request being answered.
type call struct {
	e       *Emulator
	w       http.ResponseWriter
	r       *http.Request
	body    []byte
	now     time.Time
	token   string
	params  map[string]string
	applied bool // set by handlers that changed state
}

// param returns a path parameter, unescaped.
func (c *call) param(name string) string { return c.params[name] }

// route is one method and path pattern. Pattern segments are literals,
// {name} (one segment) or {name...} (the rest of the path, which may
// contain escaped slashes).
type route struct {
	method  string
	segs    []string
	fn      func(*call) error
	limited bool // counts against the global rate limit
	// public routes are capability URLs (a presigned upload): the secret
	// is in the path, and no Authorization header is asked for.
	public bool
}

type router struct {
	routes []*route
}

func (rt *router) handle(method, pattern string, fn func(*call) error) {
	rt.routes = append(rt.routes, &route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), fn: fn, limited: true})
}

// handlePublic adds a capability route: no credentials, no rate limit.
func (rt *router) handlePublic(method, pattern string, fn func(*call) error) {
	rt.routes = append(rt.routes, &route{method: method, segs: strings.Split(strings.Trim(pattern, "/"), "/"), fn: fn, public: true})
}

// dispatch finds the route of the request and fills c.params. It answers
// unknown paths and methods the way Cloudflare does.
func (e *Emulator) dispatch(c *call) (*route, *apiErr) {
	raw := c.r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(raw, PathPrefix+"/")
	if !ok {
		return nil, noRoute()
	}
	segs := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	pathMatched := false
	for _, rt := range e.router.routes {
		params, ok := match(rt.segs, segs)
		if !ok {
			continue
		}
		pathMatched = true
		if rt.method != c.r.Method {
			continue
		}
		c.params = params
		if id, ok := params["account_id"]; ok && !isHexID(id) {
			return nil, badIdentifier("/accounts/" + id)
		}
		if id, ok := params["zone_id"]; ok && !isHexID(id) {
			return nil, badIdentifier("/zones/" + id)
		}
		return rt, nil
	}
	if pathMatched {
		return nil, fail(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method %s not available for that URI.", c.r.Method)
	}
	return nil, noRoute()
}

func match(pattern, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, p := range pattern {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			if rest, ok := strings.CutSuffix(name, "..."); ok {
				if i >= len(segs) {
					return nil, false
				}
				v, err := url.PathUnescape(strings.Join(segs[i:], "/"))
				if err != nil || v == "" {
					return nil, false
				}
				params[rest] = v
				return params, true
			}
			if i >= len(segs) || segs[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, false
			}
			params[name] = v
			continue
		}
		if i >= len(segs) || segs[i] != p {
			return nil, false
		}
	}
	return params, len(pattern) == len(segs)
}

// authenticate checks the Bearer token, answering as Cloudflare does: no
// credentials at all is 400/9106, a malformed Authorization header
// 400/6003, a wrong token 403/10000.
func (e *Emulator) authenticate(c *call) *apiErr {
	h := c.r.Header.Get("Authorization")
	if h == "" && c.r.Header.Get("X-Auth-Key") == "" && c.r.Header.Get("X-Auth-Email") == "" {
		return fail(http.StatusBadRequest, codeNoAuth, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
		return &apiErr{status: http.StatusBadRequest, errs: []errorItem{{
			Code: codeBadHeaders, Message: "Invalid request headers",
			ErrorChain: []errorItem{{Code: codeBadAuthFormat, Message: "Invalid format for Authorization header"}},
		}}}
	}
	c.token = tok
	if e.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(e.opts.Token)) != 1 {
		if strings.HasSuffix(c.r.URL.Path, "/tokens/verify") {
			return fail(http.StatusUnauthorized, codeInvalidToken, "Invalid API Token")
		}
		return fail(http.StatusForbidden, codeAuth, "Authentication error")
	}
	return nil
}

// routes registers every endpoint the emulator serves.
func (e *Emulator) routes() *router {
	rt := &router{}
	e.kvRoutes(rt)
	e.workersRoutes(rt)
	e.zoneRoutes(rt)
	e.r2Routes(rt)
	e.r2ObjectRoutes(rt)
	e.d1Routes(rt)
	e.d1ImportRoutes(rt)
	e.tokenRoutes(rt)
	e.wranglerRoutes(rt)
	return rt
}
