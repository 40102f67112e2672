package cloudflare

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/kv"

	"github.com/factory-wager/edgeconf/kvstore"
)

// KV is one Workers KV namespace, as a kvstore.Store. It checks every
// Workers KV limit before it sends anything.
//
// Workers KV has no compare-and-swap, so KV does not implement
// kvstore.Updater. Reads are eventually consistent: a value written
// elsewhere may take about 60 s to show.
type KV struct {
	c     *Client
	id    string
	title string // for Target; may be ""
}

var (
	_ kvstore.Store      = (*KV)(nil)
	_ kvstore.Namer      = (*KV)(nil)
	_ kvstore.BulkPutter = (*KV)(nil)
)

// KV returns the namespace with id as a store. It makes no request; use
// ResolveNamespace to check that the namespace exists or find it by title.
func (c *Client) KV(namespaceID string) *KV { return &KV{c: c, id: namespaceID} }

// KVNamespace returns the store of a resolved namespace (its title shows in Target).
func (c *Client) KVNamespace(ns Namespace) *KV { return &KV{c: c, id: ns.ID, title: ns.Title} }

// NamespaceID returns the namespace's id.
func (k *KV) NamespaceID() string { return k.id }

// Target names the store for command output: account and namespace.
func (k *KV) Target() string {
	t := k.c.Target() + " namespace " + k.id
	if k.title != "" {
		t += " (" + k.title + ")"
	}
	return t
}

// path is the API path of a value or metadata of the namespace.
func (k *KV) path(kind, escapedKey string) string {
	return "accounts/" + k.c.accountID + "/storage/kv/namespaces/" + k.id + "/" + kind + "/" + escapedKey
}

func (k *KV) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := k.c.needAccount(); err != nil {
		return err
	}
	if k.id == "" {
		return errors.New("cloudflare: a KV namespace id is required (KV_NAMESPACE_ID)")
	}
	return nil
}

// keyNotFound tells a missing key (404, code 10009) from a missing namespace.
func keyNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound && (ae.HasCode(CodeKeyNotFound) || len(ae.Errors) == 0)
}

// Get implements kvstore.Store. It reads the value and the metadata (two
// requests, sent together).
func (k *KV) Get(ctx context.Context, key string) (kvstore.Entry, error) {
	if err := kvstore.CheckKey(key); err != nil {
		return kvstore.Entry{}, err
	}
	if err := k.check(ctx); err != nil {
		return kvstore.Entry{}, err
	}
	esc := url.PathEscape(key)
	var (
		wg    sync.WaitGroup
		md    json.RawMessage
		mdErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		md, mdErr = k.metadata(ctx, esc)
	}()
	value, exp, err := k.value(ctx, esc)
	wg.Wait()
	if err == nil {
		err = mdErr // the key may have gone between the two reads
	}
	switch {
	case keyNotFound(err):
		return kvstore.Entry{}, kvstore.NotFound(key)
	case err != nil:
		return kvstore.Entry{}, fmt.Errorf("kv get %q: %w", key, err)
	}
	return kvstore.Entry{Key: key, Value: value, Metadata: md, Expiration: exp}, nil
}

// GetValue implements kvstore.ValueGetter: the value alone, one request.
func (k *KV) GetValue(ctx context.Context, key string) ([]byte, error) {
	if err := kvstore.CheckKey(key); err != nil {
		return nil, err
	}
	if err := k.check(ctx); err != nil {
		return nil, err
	}
	value, _, err := k.value(ctx, url.PathEscape(key))
	switch {
	case keyNotFound(err):
		return nil, kvstore.NotFound(key)
	case err != nil:
		return nil, fmt.Errorf("kv get %q: %w", key, err)
	}
	return value, nil
}

func (k *KV) value(ctx context.Context, esc string) ([]byte, time.Time, error) {
	res, err := k.c.send(ctx, http.MethodGet, k.path("values", esc), "", nil, "application/octet-stream")
	if err != nil {
		return nil, time.Time{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, kvstore.MaxValueBytes+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read value: %w", redactURLError(err))
	}
	if b == nil {
		b = []byte{}
	}
	var exp time.Time
	if h := res.Header.Get("Expiration"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("malformed expiration header %q", h)
		}
		exp = time.Unix(n, 0).UTC()
	}
	return b, exp, nil
}

func (k *KV) metadata(ctx context.Context, esc string) (json.RawMessage, error) {
	res, err := k.c.send(ctx, http.MethodGet, k.path("metadata", esc), "", nil, "application/json")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&env); err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	if len(env.Result) == 0 || string(env.Result) == "null" {
		return nil, nil
	}
	return env.Result, nil
}

// Put implements kvstore.Store. A value without metadata goes as the raw
// body; with metadata, as multipart/form-data with a "value" part and a
// "metadata" part holding the JSON text. (The SDK's form encoder races when
// several goroutines encode interface fields at once, and sends Go maps as
// dotted fields; see send for why Get and Put do not use the SDK.)
func (k *KV) Put(ctx context.Context, key string, value []byte, opts kvstore.PutOptions) error {
	exp, err := kvstore.CheckPut(key, value, opts, k.c.clock.Now())
	if err != nil {
		return err
	}
	if err := k.check(ctx); err != nil {
		return err
	}
	path := k.path("values", url.PathEscape(key))
	switch {
	case opts.TTL != 0:
		path += "?expiration_ttl=" + strconv.FormatInt(int64(opts.TTL/time.Second), 10)
	case !exp.IsZero():
		path += "?expiration=" + strconv.FormatInt(exp.Unix(), 10)
	}
	body, ct := value, "application/octet-stream"
	if opts.Metadata != nil {
		body, ct = multipartValue(value, opts.Metadata)
	}
	res, err := k.c.send(ctx, http.MethodPut, path, ct, body, "application/json")
	if err != nil {
		return fmt.Errorf("kv put %q: %w", key, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	return nil
}

// multipartValue is the body of a write with metadata.
func multipartValue(value []byte, md json.RawMessage) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	fw, _ := w.CreateFormField("value")
	_, _ = fw.Write(value)
	fw, _ = w.CreateFormField("metadata")
	_, _ = fw.Write(md)
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// Delete implements kvstore.Store.
func (k *KV) Delete(ctx context.Context, key string) error {
	if err := kvstore.CheckKey(key); err != nil {
		return err
	}
	if err := k.check(ctx); err != nil {
		return err
	}
	var p kv.NamespaceValueDeleteParams
	p.AccountID.Value, p.AccountID.Present = k.c.accountID, true
	if _, err := k.c.kv.Values.Delete(ctx, k.id, url.PathEscape(key), p); err != nil && !keyNotFound(err) {
		err = sdkErr(ctx, "delete kv value", err)
		return fmt.Errorf("kv delete %q: %w", key, err)
	}
	return nil
}

// listCursor is the store's cursor: Cloudflare's cursor of the page to
// read, and the last key already returned from it. Cloudflare pages hold
// at least 10 keys, so a smaller limit resumes inside a page.
type listCursor struct {
	Server string `json:"c,omitempty"`
	After  string `json:"a,omitempty"`
}

func (c listCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeListCursor(s string) (listCursor, error) {
	var c listCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c == (listCursor{}) {
		return listCursor{}, &kvstore.LimitError{Limit: "cursor", Msg: "malformed list cursor; pass back the cursor of the previous page unchanged"}
	}
	return c, nil
}

// minServerListLimit is the smallest page Cloudflare serves.
const minServerListLimit = 10

// List implements kvstore.Store. Each request re-sends the prefix, and the
// listing ends when Cloudflare answers an empty cursor.
func (k *KV) List(ctx context.Context, opts kvstore.ListOptions) (kvstore.ListResult, error) {
	limit, err := kvstore.CheckList(opts)
	if err != nil {
		return kvstore.ListResult{}, err
	}
	var cur listCursor
	if opts.Cursor != "" {
		if cur, err = decodeListCursor(opts.Cursor); err != nil {
			return kvstore.ListResult{}, err
		}
	}
	if err := k.check(ctx); err != nil {
		return kvstore.ListResult{}, err
	}
	serverLimit := max(limit, minServerListLimit)
	var res kvstore.ListResult
	for {
		page, next, err := k.listPage(ctx, opts.Prefix, cur.Server, serverLimit)
		if err != nil {
			return kvstore.ListResult{}, fmt.Errorf("kv list %q: %w", opts.Prefix, err)
		}
		for _, ki := range page {
			if cur.After != "" && ki.Name <= cur.After {
				continue
			}
			if len(res.Keys) == limit {
				// The page has more keys than the caller asked for.
				res.Cursor = listCursor{Server: cur.Server, After: res.Keys[len(res.Keys)-1].Name}.encode()
				return res, nil
			}
			res.Keys = append(res.Keys, ki)
		}
		if next == "" {
			return res, nil
		}
		cur = listCursor{Server: next}
		if len(res.Keys) == limit {
			res.Cursor = cur.encode()
			return res, nil
		}
	}
}

// listPage reads one page of Cloudflare's key listing.
func (k *KV) listPage(ctx context.Context, prefix, cursor string, limit int) ([]kvstore.KeyInfo, string, error) {
	var p kv.NamespaceKeyListParams
	p.AccountID.Value, p.AccountID.Present = k.c.accountID, true
	p.Limit.Value, p.Limit.Present = float64(limit), true
	if prefix != "" {
		p.Prefix.Value, p.Prefix.Present = prefix, true
	}
	if cursor != "" {
		p.Cursor.Value, p.Cursor.Present = cursor, true
	}
	page, err := k.c.kv.Keys.List(ctx, k.id, p)
	err = sdkErr(ctx, "list kv keys", err)
	if err != nil {
		return nil, "", err
	}
	out := make([]kvstore.KeyInfo, 0, len(page.Result))
	for _, key := range page.Result {
		ki := kvstore.KeyInfo{Name: key.Name}
		if key.Expiration > 0 {
			ki.Expiration = time.Unix(int64(key.Expiration), 0).UTC()
		}
		if f := key.JSON.Metadata; !f.IsNull() {
			ki.Metadata = json.RawMessage(f.Raw())
		}
		out = append(out, ki)
	}
	return out, page.ResultInfo.Cursor, nil
}

// PutMany implements kvstore.BulkPutter: BulkPut without a checkpoint.
func (k *KV) PutMany(ctx context.Context, pairs []kvstore.Pair) error {
	return k.BulkPut(ctx, pairs, BulkOptions{})
}
