package kvstore_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

func TestReadBulkFile(t *testing.T) {
	pairs, err := kvstore.ReadBulkFile(strings.NewReader(`[
	  {"key": "a", "value": "1"},
	  {"key": "b", "value": "aGk=", "base64": true, "expiration": 1800000000, "metadata": {"x": 1}},
	  {"key": "c", "value": "v", "expiration_ttl": 120}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || string(pairs[1].Value) != "hi" || pairs[1].Options.Expiration.Unix() != 1800000000 ||
		string(pairs[1].Options.Metadata) != `{"x": 1}` || pairs[2].Options.TTL != 120*time.Second {
		t.Errorf("pairs = %+v", pairs)
	}
	tests := []struct{ in, want string }{
		{`{"key":"a"}`, "want a JSON array"},
		{`[{"key":"a","value":"x","extra":1}]`, "unknown field"},
		{`[{"key":"..","value":"x"}]`, "item 0: kv key-name"},
		{`[{"key":"a","value":"%%%","base64":true}]`, "not base64"},
		{`[{"key":"a","value":"x","metadata":[1]}]`, "metadata must be a JSON object"},
		// 18446744134 s overflows a time.Duration into about 60 s; 9.3e9 s
		// into a negative one: both are refused, naming the field and item.
		{`[{"key":"ok","value":"x"},{"key":"a","value":"x","expiration_ttl":18446744134}]`, `item 1 ("a"): expiration_ttl 18446744134 is out of range`},
		{`[{"key":"a","value":"x","expiration_ttl":9300000000}]`, `item 0 ("a"): expiration_ttl 9300000000 is out of range`},
		{`[{"key":"a","value":"x","expiration_ttl":-5}]`, "expiration_ttl -5 is out of range"},
		{`[{"key":"a","value":"x"}] garbage`, "unexpected data after the array"},
		{`[{"key":"a","value":"x"}][]`, "unexpected data after the array"},
	}
	for _, tc := range tests {
		if _, err := kvstore.ReadBulkFile(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadBulkFile(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReadBulkDeleteFile(t *testing.T) {
	keys, err := kvstore.ReadBulkDeleteFile(strings.NewReader(`["a", {"key": "b"}]`))
	if err != nil || strings.Join(keys, ",") != "a,b" {
		t.Errorf("keys = %v, %v", keys, err)
	}
	for _, in := range []string{`"a"`, `[1]`, `[{"k":"x"}]`, `[".."]`, `["a"] ["b"]`, `["a"]x`} {
		if _, err := kvstore.ReadBulkDeleteFile(strings.NewReader(in)); err == nil {
			t.Errorf("ReadBulkDeleteFile(%s) accepted", in)
		}
	}
}

func TestWriteBulkFile_RoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := kvstore.WriteBulkFile(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty file = %q, %v", buf.String(), err)
	}
	buf.Reset()
	in := []kvstore.BulkItem{{Key: "k", Value: "<v&>", ExpirationTTL: 60}}
	if err := kvstore.WriteBulkFile(&buf, in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"<v&>"`) {
		t.Errorf("HTML escaped: %s", buf.String())
	}
	pairs, err := kvstore.ReadBulkFile(&buf)
	if err != nil || len(pairs) != 1 || string(pairs[0].Value) != "<v&>" || pairs[0].Options.TTL != time.Minute {
		t.Errorf("round trip = %+v, %v", pairs, err)
	}
}

func TestCheckPut_Expiration(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp, err := kvstore.CheckPut("k", nil, kvstore.PutOptions{Expiration: now.Add(90*time.Second + 500*time.Millisecond)}, now)
	if err != nil || !exp.Equal(now.Add(90*time.Second)) {
		t.Errorf("expiration truncates to the second: %v, %v", exp, err)
	}
	var le *kvstore.LimitError
	if _, err := kvstore.CheckList(kvstore.ListOptions{Limit: -1}); !errors.As(err, &le) || le.Limit != "list-limit" {
		t.Errorf("CheckList(-1) = %v", err)
	}
	if _, err := kvstore.DecodeCursor(""); !errors.As(err, &le) {
		t.Errorf("DecodeCursor(\"\") = %v", err)
	}
	if got, err := kvstore.DecodeCursor(kvstore.EncodeCursor("a/b")); err != nil || got != "a/b" {
		t.Errorf("cursor round trip = %q, %v", got, err)
	}
	if kvstore.Expired(time.Time{}, now) {
		t.Error("a key without expiration expired")
	}
}

func FuzzReadBulkFile(f *testing.F) {
	f.Add([]byte(`[{"key":"a","value":"1","expiration_ttl":60,"metadata":{"x":1}}]`))
	f.Add([]byte(`[{"key":"b","value":"aGk=","base64":true}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := kvstore.ReadBulkFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, p := range pairs {
			if kvstore.CheckKey(p.Key) != nil || kvstore.CheckMetadata(p.Key, p.Options.Metadata) != nil {
				t.Fatalf("accepted a pair that breaks a limit: %+v", p)
			}
		}
	})
}
