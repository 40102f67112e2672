package kvstore

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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
	if err := expectEOF(dec); err != nil {
		return nil, fmt.Errorf("bulk file: %w", err)
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
		if it.ExpirationTTL < 0 || it.ExpirationTTL > MaxTTLSeconds {
			return nil, fmt.Errorf("bulk file item %d (%.40q): expiration_ttl %d is out of range (0 to %d s)", i, it.Key, it.ExpirationTTL, int64(MaxTTLSeconds))
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

// MaxTTLSeconds is the largest expiration_ttl a bulk file may give: the
// longest TTL a time.Duration holds (about 292 years). Larger values would
// overflow into a short or negative TTL, so they are refused.
const MaxTTLSeconds = math.MaxInt64 / int64(time.Second)

// expectEOF fails when anything but white space follows the JSON value
// dec has just decoded.
func expectEOF(dec *json.Decoder) error {
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("unexpected data after the array (offset %d): %w", dec.InputOffset(), err)
	default:
		return fmt.Errorf("unexpected data after the array (offset %d)", dec.InputOffset())
	}
}

// ReadBulkDeleteFile parses the key list of `wrangler kv bulk delete`:
// a JSON array of strings, or of objects with a "key".
func ReadBulkDeleteFile(r io.Reader) ([]string, error) {
	var raw []json.RawMessage
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("bulk delete file: want a JSON array of keys: %w", err)
	}
	if err := expectEOF(dec); err != nil {
		return nil, fmt.Errorf("bulk delete file: %w", err)
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
