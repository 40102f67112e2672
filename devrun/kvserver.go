package devrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

// Bounds of the KV service.
const (
	maxValue     = 25 << 20 // a Workers KV value
	maxListLimit = 1000     // keys per list page, as Workers KV
)

// OpenStore opens the namespace for one request and returns how to release
// it. Opening per request lets other edgeconf commands use the state folder
// between requests (it admits one process at a time).
type OpenStore func(write bool) (kvstore.Store, func() error, error)

// KVHandler serves the HTTP protocol workerd's kvNamespace binding speaks to
// the service it is bound to:
//
//	GET    /KEY?urlencoded=true          value; metadata JSON in CF-KV-Metadata; 404 when absent
//	GET    /?prefix=&cursor=&key_count_limit=   {"keys":[{name,expiration?,metadata?}],"list_complete","cursor"?}
//	PUT    /KEY?expiration=&expiration_ttl=      body is the value; metadata in CF-KV-Metadata
//	DELETE /KEY
func KVHandler(open OpenStore, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"))
		if err != nil {
			http.Error(w, "bad key: "+err.Error(), http.StatusBadRequest)
			return
		}
		write := r.Method == http.MethodPut || r.Method == http.MethodDelete
		s, closeFn, err := open(write)
		if err != nil {
			logger.Warn("KV store unavailable", "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer func() { _ = closeFn() }()
		ctx := r.Context()
		switch {
		case r.Method == http.MethodGet && key == "":
			serveList(w, r, s)
		case r.Method == http.MethodGet:
			e, err := s.Get(ctx, key)
			if errors.Is(err, kvstore.ErrNotFound) {
				http.Error(w, "not found", http.StatusNotFound)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			if len(e.Metadata) > 0 {
				w.Header().Set("CF-KV-Metadata", string(e.Metadata))
			}
			if !e.Expiration.IsZero() {
				w.Header().Set("Expiration", strconv.FormatInt(e.Expiration.Unix(), 10))
			}
			_, _ = w.Write(e.Value)
		case r.Method == http.MethodPut:
			body, err := io.ReadAll(io.LimitReader(r.Body, maxValue+1))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if len(body) > maxValue {
				http.Error(w, fmt.Sprintf("value over %d bytes", maxValue), http.StatusRequestEntityTooLarge)
				return
			}
			var po kvstore.PutOptions
			if md := r.Header.Get("CF-KV-Metadata"); md != "" {
				po.Metadata = json.RawMessage(md)
			}
			q := r.URL.Query()
			if v := q.Get("expiration_ttl"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					http.Error(w, "bad expiration_ttl", http.StatusBadRequest)
					return
				}
				po.TTL = time.Duration(n) * time.Second
			}
			if v := q.Get("expiration"); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					http.Error(w, "bad expiration", http.StatusBadRequest)
					return
				}
				po.Expiration = time.Unix(n, 0)
			}
			if err := s.Put(ctx, key, body, po); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		case r.Method == http.MethodDelete:
			if err := s.Delete(ctx, key); err != nil && !errors.Is(err, kvstore.ErrNotFound) {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		default:
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		}
	})
}

type listKey struct {
	Name       string          `json:"name"`
	Expiration int64           `json:"expiration,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

type listBody struct {
	Keys         []listKey `json:"keys"`
	ListComplete bool      `json:"list_complete"`
	Cursor       string    `json:"cursor,omitempty"`
}

func serveList(w http.ResponseWriter, r *http.Request, s kvstore.Store) {
	q := r.URL.Query()
	limit := maxListLimit
	if v := q.Get("key_count_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, "bad key_count_limit", http.StatusBadRequest)
			return
		}
		limit = min(n, maxListLimit)
	}
	page, err := s.List(r.Context(), kvstore.ListOptions{Prefix: q.Get("prefix"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out := listBody{Keys: make([]listKey, 0, len(page.Keys)), ListComplete: page.Cursor == "", Cursor: page.Cursor}
	for _, k := range page.Keys {
		lk := listKey{Name: k.Name, Metadata: k.Metadata}
		if !k.Expiration.IsZero() {
			lk.Expiration = k.Expiration.Unix()
		}
		out.Keys = append(out.Keys, lk)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
