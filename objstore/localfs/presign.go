package localfs

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
)

// presignKeyFile holds the bucket's HMAC key in the bucket folder. Its
// name starts with ".", which no object's name does.
const presignKeyFile = ".presign-key"

// Query parameters of a local presigned URL.
const (
	paramKey       = "key"
	paramExpires   = "expires"
	paramSignature = "signature"
)

// Presign returns a URL under Options.BaseURL that Handler serves for
// one method on key until it expires. The URL is signed with HMAC-SHA256
// and a random key kept in the bucket folder, so that a server opening
// the same folder accepts it.
func (s *Store) Presign(ctx context.Context, key string, opts objstore.PresignOptions) (string, error) {
	opts, err := objstore.CheckPresign(key, opts)
	if err != nil {
		return "", err
	}
	if s.baseURL == "" {
		return "", fmt.Errorf("presign %q: %w: the local store has no base URL to serve presigned URLs from", key, objstore.ErrNotSupported)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	secret, err := s.presignKey(true)
	if err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	expires := s.now().Add(opts.Expires).Unix()
	q := url.Values{}
	q.Set(paramKey, key)
	q.Set(paramExpires, strconv.FormatInt(expires, 10))
	q.Set(paramSignature, sign(secret, opts.Method, key, expires))
	s.logger.Debug("localfs: presigned", "bucket", s.dir, "key", key, "method", opts.Method, "expires", time.Unix(expires, 0).UTC())
	return s.baseURL + "?" + q.Encode(), nil
}

func sign(secret []byte, method, key string, expires int64) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\n%d\n%s", method, expires, key)
	return hex.EncodeToString(m.Sum(nil))
}

// presignKey loads the bucket's HMAC key, creating it when create is set.
// The key is written to a temporary file and linked into place, so that
// concurrent creators agree on one key and no reader sees a partial one.
func (s *Store) presignKey(create bool) ([]byte, error) {
	s.keyOnce.Lock()
	defer s.keyOnce.Unlock()
	if s.signKey != nil {
		return s.signKey, nil
	}
	root, err := s.openRoot(create)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		b, err := root.ReadFile(presignKeyFile)
		if err == nil {
			if len(b) != 64 {
				return nil, fmt.Errorf("%s: malformed presign key (delete it to make a new one)", presignKeyFile)
			}
			s.signKey, err = hex.DecodeString(string(b))
			return s.signKey, err
		}
		if !errors.Is(err, fs.ErrNotExist) || !create || attempt == 2 {
			return nil, fmt.Errorf("read presign key: %w", err)
		}
		tmp := ".tmp-" + randomHex(8)
		if err := root.WriteFile(tmp, []byte(randomHex(32)), 0o600); err != nil {
			return nil, fmt.Errorf("create presign key: %w", err)
		}
		err = root.Link(tmp, presignKeyFile)
		_ = root.Remove(tmp)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("create presign key: %w", err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Handler serves the store's presigned URLs: mount it at Options.BaseURL.
// It answers 403 to a URL whose signature does not match its method, key
// and expiry or that has expired, and otherwise does what the URL was
// signed for: GET and HEAD (with Range requests), PUT (the request body
// becomes the object) or DELETE. Neither responses nor logs contain the
// signature.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		key := q.Get(paramKey)
		status := s.serve(w, r, key, q)
		s.logger.Debug("localfs: presigned request", "bucket", s.dir, "method", r.Method, "key", key, "status", status)
	})
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request, key string, q url.Values) int {
	fail := func(status int, msg string) int {
		http.Error(w, msg, status)
		return status
	}
	expires, err := strconv.ParseInt(q.Get(paramExpires), 10, 64)
	if err != nil || objstore.CheckKey(key) != nil {
		return fail(http.StatusForbidden, "malformed presigned URL")
	}
	secret, err := s.presignKey(false)
	if err != nil {
		return fail(http.StatusForbidden, "signature does not match")
	}
	want := sign(secret, r.Method, key, expires)
	if !hmac.Equal([]byte(want), []byte(q.Get(paramSignature))) {
		return fail(http.StatusForbidden, "signature does not match")
	}
	if !s.now().Before(time.Unix(expires, 0)) {
		return fail(http.StatusForbidden, "presigned URL expired")
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		f, tr, size, err := s.open(key)
		if errors.Is(err, objstore.ErrNotFound) {
			return fail(http.StatusNotFound, "no such object")
		}
		if err != nil {
			s.logger.Warn("localfs: presigned read failed", "key", key, "err", err)
			return fail(http.StatusInternalServerError, "cannot read the object")
		}
		defer f.Close()
		w.Header().Set("ETag", `"`+tr.ETag+`"`)
		w.Header().Set("Content-Type", tr.ContentType)
		for k, v := range tr.Metadata {
			w.Header().Set("X-Amz-Meta-"+k, v)
		}
		http.ServeContent(w, r, "", tr.Modified, io.NewSectionReader(f, 0, size))
		return http.StatusOK
	case http.MethodPut:
		info, err := s.Put(ctx, key, r.Body, r.ContentLength, objstore.PutOptions{ContentType: r.Header.Get("Content-Type")})
		if err != nil {
			var le *objstore.LimitError
			if errors.As(err, &le) {
				return fail(http.StatusBadRequest, le.Error())
			}
			s.logger.Warn("localfs: presigned write failed", "key", key, "err", err)
			return fail(http.StatusInternalServerError, "cannot write the object")
		}
		w.Header().Set("ETag", `"`+info.ETag+`"`)
		w.WriteHeader(http.StatusOK)
		return http.StatusOK
	case http.MethodDelete:
		if err := s.Delete(ctx, key); err != nil {
			s.logger.Warn("localfs: presigned delete failed", "key", key, "err", err)
			return fail(http.StatusInternalServerError, "cannot delete the object")
		}
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	return fail(http.StatusMethodNotAllowed, "method not allowed")
}
