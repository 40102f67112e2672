package kvstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// BulkItem is one entry of a wrangler bulk file (`wrangler kv bulk put`):
// [{"key":..., "value":..., "expiration":..., "expiration_ttl":...,
// "metadata":{...}, "base64":false}].
type BulkItem struct {
	Key           string          `json:"key"`
	Value         string          `json:"value"`
	Expiration    int64           `json:"expiration,omitempty"`     // unix seconds
	ExpirationTTL int64           `json:"expiration_ttl,omitempty"` // seconds
	Metadata      json.RawMessage `json:"metadata,omitempty"`
	Base64        bool            `json:"base64,omitempty"`
}

// ReadBulkFile parses a wrangler bulk-put file into pairs, checking every
// limit; the first broken one is returned with its index.
func ReadBulkFile(r io.Reader) ([]Pair, error) {
	var items []BulkItem
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("bulk file: want a JSON array of {key, value, expiration, expiration_ttl, metadata, base64}: %w", err)
	}
	pairs := make([]Pair, len(items))
	for i, it := range items {
		v := []byte(it.Value)
		if it.Base64 {
			b, err := base64.StdEncoding.DecodeString(it.Value)
			if err != nil {
				return nil, fmt.Errorf("bulk file item %d (%.40q): value is not base64: %w", i, it.Key, err)
			}
			v = b
		}
		p := Pair{Key: it.Key, Value: v, Options: PutOptions{TTL: time.Duration(it.ExpirationTTL) * time.Second, Metadata: it.Metadata}}
		if it.Expiration != 0 {
			p.Options.Expiration = time.Unix(it.Expiration, 0)
		}
		if err := CheckKey(p.Key); err != nil {
			return nil, fmt.Errorf("bulk file item %d: %w", i, err)
		}
		if err := CheckMetadata(p.Key, p.Options.Metadata); err != nil {
			return nil, fmt.Errorf("bulk file item %d: %w", i, err)
		}
		pairs[i] = p
	}
	return pairs, nil
}

// ReadBulkDeleteFile parses the key list of `wrangler kv bulk delete`:
// a JSON array of strings, or of objects with a "key".
func ReadBulkDeleteFile(r io.Reader) ([]string, error) {
	var raw []json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("bulk delete file: want a JSON array of keys: %w", err)
	}
	keys := make([]string, len(raw))
	for i, m := range raw {
		var s string
		if json.Unmarshal(m, &s) != nil {
			var obj struct {
				Key string `json:"key"`
			}
			if err := json.Unmarshal(m, &obj); err != nil || obj.Key == "" {
				return nil, fmt.Errorf("bulk delete file item %d: want a key string or {\"key\": ...}", i)
			}
			s = obj.Key
		}
		if err := CheckKey(s); err != nil {
			return nil, fmt.Errorf("bulk delete file item %d: %w", i, err)
		}
		keys[i] = s
	}
	return keys, nil
}

// WriteBulkFile writes items as a wrangler bulk-put file.
func WriteBulkFile(w io.Writer, items []BulkItem) error {
	if items == nil {
		items = []BulkItem{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(items)
}
