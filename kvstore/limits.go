package kvstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// CheckKey enforces the key rules of Workers KV.
func CheckKey(key string) error {
	switch {
	case key == "", key == ".", key == "..":
		return &LimitError{Limit: "key-name", Key: key, Msg: `the keys "", "." and ".." are not allowed`}
	case len(key) > MaxKeyBytes:
		return &LimitError{Limit: "key-size", Key: key, Msg: fmt.Sprintf("UTF-8 length of %d exceeds the key length limit of %d", len(key), MaxKeyBytes)}
	case !utf8.ValidString(key):
		return &LimitError{Limit: "key-name", Key: key, Msg: "a key must be valid UTF-8"}
	}
	return nil
}

// CheckPut enforces the value, metadata and expiry rules of a write and
// returns the absolute expiration to store (zero for none), computed from
// now. TTLs and expirations are whole seconds, as in Workers KV.
func CheckPut(key string, value []byte, opts PutOptions, now time.Time) (time.Time, error) {
	if err := CheckKey(key); err != nil {
		return time.Time{}, err
	}
	if len(value) > MaxValueBytes {
		return time.Time{}, &LimitError{Limit: "value-size", Key: key, Msg: fmt.Sprintf("value of %d bytes exceeds the limit of %d (25 MiB)", len(value), MaxValueBytes)}
	}
	if err := CheckMetadata(key, opts.Metadata); err != nil {
		return time.Time{}, err
	}
	switch {
	case opts.TTL != 0:
		if opts.TTL < MinTTL {
			return time.Time{}, &LimitError{Limit: "ttl", Key: key, Msg: fmt.Sprintf("expiration_ttl of %d s is below the minimum of %d s", int64(opts.TTL/time.Second), int64(MinTTL/time.Second))}
		}
		return now.Add(opts.TTL).Truncate(time.Second), nil
	case !opts.Expiration.IsZero():
		exp := opts.Expiration.Truncate(time.Second)
		if exp.Before(now.Add(MinTTL)) {
			return time.Time{}, &LimitError{Limit: "expiration", Key: key, Msg: fmt.Sprintf("expiration %d must be at least %d s in the future", exp.Unix(), int64(MinTTL/time.Second))}
		}
		return exp, nil
	}
	return time.Time{}, nil
}

// CheckMetadata enforces that metadata is a JSON object of at most
// MaxMetadataBytes.
func CheckMetadata(key string, md json.RawMessage) error {
	if md == nil {
		return nil
	}
	if len(md) > MaxMetadataBytes {
		return &LimitError{Limit: "metadata-size", Key: key, Msg: fmt.Sprintf("metadata length of %d exceeds the limit of %d", len(md), MaxMetadataBytes)}
	}
	var obj map[string]any
	if err := json.Unmarshal(md, &obj); err != nil || obj == nil {
		return &LimitError{Limit: "metadata-json", Key: key, Msg: "metadata must be a JSON object"}
	}
	return nil
}

// CheckList enforces the list rules and returns the effective limit.
func CheckList(opts ListOptions) (int, error) {
	if len(opts.Prefix) > MaxKeyBytes {
		return 0, &LimitError{Limit: "key-size", Msg: fmt.Sprintf("prefix of %d bytes exceeds the key length limit of %d", len(opts.Prefix), MaxKeyBytes)}
	}
	switch {
	case opts.Limit == 0:
		return MaxListLimit, nil
	case opts.Limit < 0 || opts.Limit > MaxListLimit:
		return 0, &LimitError{Limit: "list-limit", Msg: fmt.Sprintf("limit %d is outside 1..%d", opts.Limit, MaxListLimit)}
	}
	return opts.Limit, nil
}

// EncodeCursor and DecodeCursor make the opaque list cursor local stores
// use: the last key returned, base64url-encoded.
func EncodeCursor(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

// DecodeCursor reverses EncodeCursor; a malformed cursor is a *LimitError.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 {
		return "", &LimitError{Limit: "cursor", Msg: "malformed list cursor; pass back the cursor of the previous page unchanged"}
	}
	return string(b), nil
}

// Expired reports whether an entry with expiration exp is invisible at
// now: exactly at its expiry it is already gone.
func Expired(exp, now time.Time) bool {
	return !exp.IsZero() && !now.Before(exp)
}
