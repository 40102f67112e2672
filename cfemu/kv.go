package cfemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Workers KV limits the emulator enforces.
const (
	kvMaxKeyBytes      = 512
	kvMaxValueBytes    = 25 << 20
	kvMaxMetadataBytes = 1024
	kvMinTTL           = 60
	kvMaxListLimit     = 1000
	kvMinListLimit     = 10
	kvMaxBulkItems     = 10_000
	kvMaxBulkBytes     = 100_000_000
	kvMaxBulkGetKeys   = 100
)

type namespace struct {
	ID    string              `json:"id"`
	Title string              `json:"title"`
	Keys  map[string]*kvEntry `json:"keys"`

	sorted []string // the keys in byte order; nil when stale
}

// kvEntry is one version of a key. While a write propagates, Prev is what
// other locations still see (nil: the key was absent there).
type kvEntry struct {
	Value      []byte          `json:"value"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	Expiration int64           `json:"expiration,omitempty"` // unix seconds; 0 = never
	Deleted    bool            `json:"deleted,omitempty"`
	WrittenAt  time.Time       `json:"written_at"`
	Prev       *kvEntry        `json:"prev,omitempty"`
}

// nsJSON is a namespace as the API shows it.
type nsJSON struct {
	ID                  string `json:"id"`
	Title               string `json:"title"`
	SupportsURLEncoding bool   `json:"supports_url_encoding"`
}

func (n *namespace) json() nsJSON { return nsJSON{ID: n.ID, Title: n.Title, SupportsURLEncoding: true} }

// visible returns the version of key that a read sees at now, or nil.
func (n *namespace) visible(key string, now time.Time, propagation time.Duration) *kvEntry {
	e := n.Keys[key]
	if e == nil {
		return nil
	}
	if propagation > 0 && now.Before(e.WrittenAt.Add(propagation)) {
		e = e.Prev
	}
	if e == nil || e.Deleted || (e.Expiration != 0 && now.Unix() >= e.Expiration) {
		return nil
	}
	return e
}

// write stores a new version of key (a tombstone when ne.Deleted).
func (n *namespace) write(key string, ne *kvEntry, propagation time.Duration) {
	old := n.Keys[key]
	if propagation > 0 && old != nil {
		if !ne.WrittenAt.Before(old.WrittenAt.Add(propagation)) {
			prev := *old
			prev.Prev = nil
			ne.Prev = &prev
		} else {
			ne.Prev = old.Prev
		}
	}
	if ne.Deleted && ne.Prev == nil {
		if old != nil {
			delete(n.Keys, key)
			n.sorted = nil
		}
		return
	}
	if old == nil {
		n.sorted = nil
	}
	n.Keys[key] = ne
}

func (n *namespace) sortedKeys() []string {
	if n.sorted == nil {
		n.sorted = make([]string, 0, len(n.Keys))
		for k := range n.Keys {
			n.sorted = append(n.sorted, k)
		}
		sort.Strings(n.sorted)
	}
	return n.sorted
}

func (e *Emulator) kvRoutes(rt *router) {
	const base = "accounts/{account_id}/storage/kv/namespaces"
	rt.handle("GET", base, e.kvListNamespaces)
	rt.handle("POST", base, e.kvCreateNamespace)
	rt.handle("GET", base+"/{namespace_id}", e.kvGetNamespace)
	rt.handle("PUT", base+"/{namespace_id}", e.kvRenameNamespace)
	rt.handle("DELETE", base+"/{namespace_id}", e.kvDeleteNamespace)
	rt.handle("GET", base+"/{namespace_id}/keys", e.kvListKeys)
	rt.handle("GET", base+"/{namespace_id}/values/{key...}", e.kvGetValue)
	rt.handle("PUT", base+"/{namespace_id}/values/{key...}", e.kvPutValue)
	rt.handle("DELETE", base+"/{namespace_id}/values/{key...}", e.kvDeleteValue)
	rt.handle("GET", base+"/{namespace_id}/metadata/{key...}", e.kvGetMetadata)
	rt.handle("PUT", base+"/{namespace_id}/bulk", e.kvBulkWrite)
	rt.handle("DELETE", base+"/{namespace_id}/bulk", e.kvBulkDelete) // deprecated form
	rt.handle("POST", base+"/{namespace_id}/bulk/delete", e.kvBulkDelete)
	rt.handle("POST", base+"/{namespace_id}/bulk/get", e.kvBulkGet)
}

// namespace finds the namespace of the path; the caller holds e.mu.
func (c *call) namespace() (*namespace, *apiErr) {
	id := c.param("namespace_id")
	if !isHexID(id) {
		return nil, fail(http.StatusBadRequest, codeBadNamespaceID, "could not parse UUID from request's namespace_id: '%s'", id)
	}
	ns := c.e.st.account(c.param("account_id")).Namespaces[id]
	if ns == nil {
		return nil, fail(http.StatusNotFound, codeNamespaceMissing, "namespace not found")
	}
	return ns, nil
}

func (e *Emulator) kvListNamespaces(c *call) error {
	e.mu.Lock()
	var all []nsJSON
	for _, ns := range e.st.account(c.param("account_id")).Namespaces {
		all = append(all, ns.json())
	}
	e.mu.Unlock()
	q := c.r.URL.Query()
	byID := q.Get("order") == "id"
	desc := q.Get("direction") == "desc"
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].Title, all[j].Title
		if byID || a == b {
			a, b = all[i].ID, all[j].ID
		}
		if desc {
			return a > b
		}
		return a < b
	})
	page, info, err := paginate(c, all, 20, 1000)
	if err != nil {
		return err
	}
	return c.okInfo(page, info)
}

func (e *Emulator) kvCreateNamespace(c *call) error {
	var req struct {
		Title string `json:"title"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Title) == "" {
		return fail(http.StatusBadRequest, codeTitleMissing, "a namespace title is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	for _, ns := range a.Namespaces {
		if ns.Title == req.Title {
			return fail(http.StatusBadRequest, codeNamespaceExists, "a namespace with this account ID and title already exists")
		}
	}
	ns := &namespace{ID: newID(), Title: req.Title, Keys: map[string]*kvEntry{}}
	a.Namespaces[ns.ID] = ns
	return e.commit(c, ns.json())
}

func (e *Emulator) kvGetNamespace(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	return c.ok(ns.json())
}

func (e *Emulator) kvRenameNamespace(c *call) error {
	var req struct {
		Title string `json:"title"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Title) == "" {
		return fail(http.StatusBadRequest, codeTitleMissing, "a namespace title is required")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	for _, other := range e.st.account(c.param("account_id")).Namespaces {
		if other != ns && other.Title == req.Title {
			return fail(http.StatusBadRequest, codeNamespaceExists, "a namespace with this account ID and title already exists")
		}
	}
	ns.Title = req.Title
	return e.commit(c, ns.json())
}

func (e *Emulator) kvDeleteNamespace(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	delete(e.st.account(c.param("account_id")).Namespaces, ns.ID)
	return e.commit(c, struct{}{})
}

// checkKVKey applies the key rules; the messages are the Workers runtime's.
func checkKVKey(key string) *apiErr {
	switch {
	case key == "" || key == "." || key == "..":
		return fail(http.StatusBadRequest, codeKVKeyName, "Illegal key name %q. Please use a different name.", key)
	case len(key) > kvMaxKeyBytes:
		return fail(http.StatusRequestURITooLong, codeKVKeySize, "UTF-8 encoded length of %d exceeds key length limit of %d.", len(key), kvMaxKeyBytes)
	case !utf8.ValidString(key):
		return fail(http.StatusBadRequest, codeKVKeyName, "Key names must be valid UTF-8.")
	}
	return nil
}

func checkKVMetadata(md []byte) *apiErr {
	if md == nil {
		return nil
	}
	if len(md) > kvMaxMetadataBytes {
		return fail(http.StatusRequestEntityTooLarge, codeKVMetadata, "Metadata length of %d exceeds limit of %d.", len(md), kvMaxMetadataBytes)
	}
	var obj map[string]any
	if err := json.Unmarshal(md, &obj); err != nil || obj == nil {
		return fail(http.StatusBadRequest, codeKVMetadata, "Metadata must be a JSON object.")
	}
	return nil
}

// kvMaxExpiration is the latest expiry the emulator stores (the last second
// of year 9999): larger expiration or expiration_ttl values are refused with
// 400, not stored as an overflowed (already past) time.
const kvMaxExpiration = 253402300799

// expiry turns expiration / expiration_ttl into an absolute unix time;
// expiration_ttl wins when both are set.
func expiry(now time.Time, expiration, ttl string) (int64, *apiErr) {
	num := func(s string) (float64, bool) {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	if ttl != "" {
		f, ok := num(ttl)
		if !ok || f <= 0 || f != math.Trunc(f) {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration_ttl of %s. Please specify integer greater than 0.", ttl)
		}
		if f < kvMinTTL {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration_ttl of %s. Expiration TTL must be at least %d.", ttl, kvMinTTL)
		}
		if f > float64(kvMaxExpiration-now.Unix()) {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration_ttl of %s. Expiration TTL must be at most %d (the expiry must fall before %d, kvMaxExpiration).", ttl, kvMaxExpiration-now.Unix(), kvMaxExpiration)
		}
		return now.Unix() + int64(f), nil
	}
	if expiration != "" {
		f, ok := num(expiration)
		if !ok || f != math.Trunc(f) || int64(f) <= now.Unix() {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration of %s. Please specify integer greater than the current number of seconds since the UNIX epoch.", expiration)
		}
		if f > kvMaxExpiration {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration of %s. Expiration must be at most %d (kvMaxExpiration).", expiration, int64(kvMaxExpiration))
		}
		if int64(f) < now.Unix()+kvMinTTL {
			return 0, fail(http.StatusBadRequest, codeKVExpiration, "Invalid expiration of %s. Expiration times must be at least %d seconds in the future.", expiration, kvMinTTL)
		}
		return int64(f), nil
	}
	return 0, nil
}

func (e *Emulator) kvGetValue(c *call) error {
	ent, err := e.visibleEntry(c)
	if err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(ent.Value)))
	if ent.Expiration != 0 {
		h.Set("Expiration", strconv.FormatInt(ent.Expiration, 10))
	}
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(ent.Value)
	return nil
}

func (e *Emulator) kvGetMetadata(c *call) error {
	ent, err := e.visibleEntry(c)
	if err != nil {
		return err
	}
	if ent.Metadata == nil {
		return c.ok(nil)
	}
	return c.ok(ent.Metadata)
}

// readValue takes the value (and metadata) of a PUT: the raw body, or a
// multipart form with a "value" part and an optional "metadata" part that
// holds a JSON string.
func (c *call) readValue() (value, md []byte, _ *apiErr) {
	mt, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return c.body, nil, nil
	}
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	gotValue := false
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, badRequest("malformed multipart body: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, badRequest("malformed multipart body: %v", err)
		}
		switch p.FormName() {
		case "value":
			value, gotValue = b, true
		case "metadata":
			md = b
		}
	}
	if !gotValue {
		return nil, nil, badRequest("multipart put request does not contain required form field 'value'")
	}
	if value == nil {
		value = []byte{}
	}
	return value, md, nil
}

func (e *Emulator) kvPutValue(c *call) error {
	key := c.param("key")
	if err := checkKVKey(key); err != nil {
		return err
	}
	value, md, aerr := c.readValue()
	if aerr != nil {
		return aerr
	}
	if len(value) > kvMaxValueBytes {
		return fail(http.StatusRequestEntityTooLarge, codeKVValueSize, "Value length of %d exceeds limit of %d.", len(value), kvMaxValueBytes)
	}
	if err := checkKVMetadata(md); err != nil {
		return err
	}
	q := c.r.URL.Query()
	exp, aerr := expiry(c.now, q.Get("expiration"), q.Get("expiration_ttl"))
	if aerr != nil {
		return aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, aerr := c.namespace()
	if aerr != nil {
		return aerr
	}
	if err := e.checkKeyRate(ns, key, c.now); err != nil {
		return err
	}
	ns.write(key, &kvEntry{Value: bytes.Clone(value), Metadata: json.RawMessage(bytes.Clone(md)), Expiration: exp, WrittenAt: c.now}, e.opts.Propagation)
	return e.commit(c, struct{}{})
}

// checkKeyRate refuses a second write of a key within KeyWriteInterval.
func (e *Emulator) checkKeyRate(ns *namespace, key string, now time.Time) *apiErr {
	if e.opts.KeyWriteInterval <= 0 {
		return nil
	}
	old := ns.Keys[key]
	if old == nil || old.Deleted {
		return nil
	}
	if wait := old.WrittenAt.Add(e.opts.KeyWriteInterval).Sub(now); wait > 0 {
		ae := fail(http.StatusTooManyRequests, codeKVKeyRate, "KV PUT failed: 429 Too Many Requests: at most one write per second to the same key")
		ae.header = http.Header{"Retry-After": {strconv.Itoa(int((wait + time.Second - 1) / time.Second))}}
		return ae
	}
	return nil
}

func (e *Emulator) kvDeleteValue(c *call) error {
	key := c.param("key")
	if err := checkKVKey(key); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, err := c.namespace()
	if err != nil {
		return err
	}
	if ns.Keys[key] != nil {
		ns.write(key, &kvEntry{Deleted: true, WrittenAt: c.now}, e.opts.Propagation)
		c.applied = true
		e.changed()
	}
	return c.ok(struct{}{})
}

type keyJSON struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

func (e *Emulator) kvListKeys(c *call) error {
	q := c.r.URL.Query()
	prefix := q.Get("prefix")
	if len(prefix) > kvMaxKeyBytes {
		return fail(http.StatusRequestURITooLong, codeKVKeySize, "UTF-8 encoded length of %d exceeds key length limit of %d.", len(prefix), kvMaxKeyBytes)
	}
	limit, aerr := c.queryInt("limit", kvMaxListLimit, kvMinListLimit, kvMaxListLimit)
	if aerr != nil {
		aerr.errs[0].Code = codeKVListLimit
		return aerr
	}
	after := ""
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil || len(b) == 0 {
			return fail(http.StatusBadRequest, codeKVListLimit, "Invalid cursor %q: pass back the cursor of the previous page unchanged", cur)
		}
		after = string(b)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, aerr := c.namespace()
	if aerr != nil {
		return aerr
	}
	keys := ns.sortedKeys()
	start := max(after, prefix)
	i := sort.SearchStrings(keys, start)
	if i < len(keys) && after != "" && keys[i] == after {
		i++
	}
	out := []keyJSON{}
	cursor := ""
	for ; i < len(keys) && strings.HasPrefix(keys[i], prefix); i++ {
		ent := ns.visible(keys[i], c.now, e.opts.Propagation)
		if ent == nil {
			continue
		}
		if len(out) == limit {
			cursor = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].Name))
			break
		}
		out = append(out, keyJSON{Name: keys[i], Expiration: ent.Expiration, Metadata: ent.Metadata})
	}
	return c.okInfo(out, map[string]any{"count": len(out), "cursor": cursor})
}

// bulkItem is one pair of a bulk write.
type bulkItem struct {
	Key           string          `json:"key"`
	Value         *string         `json:"value"`
	Base64        bool            `json:"base64"`
	Expiration    json.Number     `json:"expiration"`
	ExpirationTTL json.Number     `json:"expiration_ttl"`
	Metadata      json.RawMessage `json:"metadata"`
}

type bulkResult struct {
	SuccessfulKeyCount int      `json:"successful_key_count"`
	UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
}

func (e *Emulator) kvBulkWrite(c *call) error {
	if len(c.body) > kvMaxBulkBytes {
		return fail(http.StatusRequestEntityTooLarge, codeKVValueSize, "bulk write of %d bytes exceeds the limit of %d bytes", len(c.body), kvMaxBulkBytes)
	}
	var items []bulkItem
	if err := c.decodeJSON(&items); err != nil {
		return err
	}
	if len(items) > kvMaxBulkItems {
		return fail(http.StatusRequestEntityTooLarge, codeKVValueSize, "bulk writes are limited to %d pairs; got %d", kvMaxBulkItems, len(items))
	}
	entries := make([]*kvEntry, len(items))
	for i, it := range items {
		if err := checkKVKey(it.Key); err != nil {
			return err
		}
		if it.Value == nil {
			return badRequest("pair %d (%q): value is required", i, it.Key)
		}
		value := []byte(*it.Value)
		if it.Base64 {
			b, err := base64.StdEncoding.DecodeString(*it.Value)
			if err != nil {
				return badRequest("pair %d (%q): value is not valid base64", i, it.Key)
			}
			value = b
		}
		if len(value) > kvMaxValueBytes {
			return fail(http.StatusRequestEntityTooLarge, codeKVValueSize, "Value length of %d exceeds limit of %d.", len(value), kvMaxValueBytes)
		}
		var md []byte
		if len(it.Metadata) > 0 && string(it.Metadata) != "null" {
			md = it.Metadata
			if err := checkKVMetadata(md); err != nil {
				return err
			}
		}
		exp, aerr := expiry(c.now, it.Expiration.String(), it.ExpirationTTL.String())
		if aerr != nil {
			return aerr
		}
		entries[i] = &kvEntry{Value: value, Metadata: json.RawMessage(md), Expiration: exp, WrittenAt: c.now}
	}
	failed := e.bulkFailures(len(items))
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, aerr := c.namespace()
	if aerr != nil {
		return aerr
	}
	res := bulkResult{UnsuccessfulKeys: []string{}}
	for i, it := range items {
		if failed[i] {
			res.UnsuccessfulKeys = append(res.UnsuccessfulKeys, it.Key)
			continue
		}
		ns.write(it.Key, entries[i], e.opts.Propagation)
		res.SuccessfulKeyCount++
	}
	if res.SuccessfulKeyCount > 0 {
		c.applied = true
		e.changed()
	}
	return c.ok(res)
}

// bulkFailures picks the pairs of a bulk write that fail transiently
// (each with probability FailRate), so clients exercise re-sending
// unsuccessful_keys.
func (e *Emulator) bulkFailures(n int) []bool {
	failed := make([]bool, n)
	if e.opts.FailRate <= 0 {
		return failed
	}
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	for i := range failed {
		failed[i] = e.rng.Float64() < e.opts.FailRate
	}
	return failed
}

func (e *Emulator) kvBulkDelete(c *call) error {
	var keys []string
	if err := c.decodeJSON(&keys); err != nil {
		return err
	}
	if len(keys) > kvMaxBulkItems {
		return fail(http.StatusRequestEntityTooLarge, codeKVValueSize, "bulk deletes are limited to %d keys; got %d", kvMaxBulkItems, len(keys))
	}
	for _, k := range keys {
		if err := checkKVKey(k); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ns, aerr := c.namespace()
	if aerr != nil {
		return aerr
	}
	for _, k := range keys {
		if ns.Keys[k] != nil {
			ns.write(k, &kvEntry{Deleted: true, WrittenAt: c.now}, e.opts.Propagation)
			c.applied = true
		}
	}
	if c.applied {
		e.changed()
	}
	return c.ok(bulkResult{SuccessfulKeyCount: len(keys), UnsuccessfulKeys: []string{}})
}

func (e *Emulator) kvBulkGet(c *call) error {
	var req struct {
		Keys         []string `json:"keys"`
		Type         string   `json:"type"`
		WithMetadata bool     `json:"withMetadata"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if len(req.Keys) == 0 || len(req.Keys) > kvMaxBulkGetKeys {
		return badRequest("bulk get takes 1 to %d keys; got %d", kvMaxBulkGetKeys, len(req.Keys))
	}
	if req.Type != "" && req.Type != "text" && req.Type != "json" {
		return badRequest("type must be \"text\" or \"json\", got %q", req.Type)
	}
	for _, k := range req.Keys {
		if err := checkKVKey(k); err != nil {
			return err
		}
	}
	e.mu.Lock()
	ns, aerr := c.namespace()
	if aerr != nil {
		e.mu.Unlock()
		return aerr
	}
	found := make(map[string]*kvEntry, len(req.Keys))
	for _, k := range req.Keys {
		found[k] = ns.visible(k, c.now, e.opts.Propagation)
	}
	e.mu.Unlock()
	values := map[string]any{}
	for k, ent := range found {
		if ent == nil {
			values[k] = nil
			continue
		}
		var v any = string(ent.Value)
		if req.Type == "json" {
			var parsed any
			if err := json.Unmarshal(ent.Value, &parsed); err != nil {
				return badRequest("the value of %q is not JSON", k)
			}
			v = parsed
		} else if !utf8.Valid(ent.Value) {
			return badRequest("the value of %q is not text; bulk get returns text values only", k)
		}
		if !req.WithMetadata {
			values[k] = v
			continue
		}
		item := map[string]any{"value": v, "metadata": ent.Metadata}
		if ent.Metadata == nil {
			item["metadata"] = nil
		}
		if ent.Expiration != 0 {
			item["expiration"] = ent.Expiration
		}
		values[k] = item
	}
	return c.ok(map[string]any{"values": values})
}

// visibleEntry returns the entry a value or metadata read of the call's
// key sees, or the API's 404 for a missing key.
func (e *Emulator) visibleEntry(c *call) (*kvEntry, error) {
	key := c.param("key")
	if err := checkKVKey(key); err != nil {
		return nil, err
	}
	e.mu.Lock()
	ns, err := c.namespace()
	if err != nil {
		e.mu.Unlock()
		return nil, err
	}
	ent := ns.visible(key, c.now, e.opts.Propagation)
	e.mu.Unlock()
	if ent == nil {
		return nil, fail(http.StatusNotFound, codeKeyNotFound, "get: 'key not found'")
	}
	return ent, nil
}
