package objstore

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// R2 limits (reference/cloudflare-api.md §4), enforced by every store
// before any I/O.
const (
	MaxKeyBytes       = 1024               // UTF-8 bytes of a key (and of a list prefix)
	MaxMetadataBytes  = 8192               // user metadata: the sum of the keys' and values' lengths
	MaxObjectBytes    = 5<<40 - 5<<30      // 5 TiB minus 5 GiB
	MaxSinglePutBytes = 5<<30 - 5<<20      // one PUT, or one part: 5 GiB minus 5 MiB
	MinPartBytes      = 5 << 20            // every part but the last
	MaxPartBytes      = MaxSinglePutBytes  // R2 says 5 GiB for a part, but also 5 GiB minus 5 MiB for "one part"
	MaxParts          = 10_000             // parts of one multipart upload
	MaxListLimit      = 1000               // entries per list page
	MinPresignExpiry  = time.Second        // X-Amz-Expires range on R2
	MaxPresignExpiry  = 7 * 24 * time.Hour // 604,800 s
	MinBucketName     = 3                  // characters
	MaxBucketName     = 63                 // characters (R2's REST API allows 64; S3 63)
)

// DefaultPresignExpiry is how long a presigned URL lasts when
// PresignOptions.Expires is 0.
const DefaultPresignExpiry = time.Hour

// CheckKey enforces the key rules: 1 to MaxKeyBytes bytes of valid UTF-8
// without control characters. R2 allows control characters, but S3's XML
// listings cannot carry most of them, so edgeconf refuses them everywhere
// rather than store keys some tools cannot list.
func CheckKey(key string) error {
	switch {
	case key == "":
		return &LimitError{Limit: "key-name", Msg: "a key must not be empty"}
	case len(key) > MaxKeyBytes:
		return &LimitError{Limit: "key-size", Key: key, Msg: fmt.Sprintf("UTF-8 length of %d exceeds the key length limit of %d", len(key), MaxKeyBytes)}
	case !utf8.ValidString(key):
		return &LimitError{Limit: "key-name", Key: key, Msg: "a key must be valid UTF-8"}
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return &LimitError{Limit: "key-name", Key: key, Msg: fmt.Sprintf("control character 0x%02x at byte %d (S3 listings cannot carry it)", c, i)}
		}
	}
	return nil
}

// CheckBucketName enforces R2's bucket naming rule: 3 to 63 characters of
// lower-case letters, digits and hyphens, starting and ending with a
// letter or digit. Local stores rely on it to keep the bucket folder
// inside the state folder.
func CheckBucketName(name string) error {
	bad := func(msg string) error {
		return &LimitError{Limit: "bucket-name", Msg: fmt.Sprintf("bucket name %q: %s", name, msg)}
	}
	if len(name) < MinBucketName || len(name) > MaxBucketName {
		return bad(fmt.Sprintf("must be %d to %d characters long", MinBucketName, MaxBucketName))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(name)-1:
		default:
			return bad("use lower-case letters, digits and hyphens, starting and ending with a letter or digit")
		}
	}
	return nil
}

// CheckPut enforces the rules of a write: the key, the metadata and, when
// known (size >= 0), the size.
func CheckPut(key string, size int64, opts PutOptions) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if size > MaxObjectBytes {
		return &LimitError{Limit: "object-size", Key: key, Msg: fmt.Sprintf("%d bytes exceeds R2's object size limit of %d (5 TiB minus 5 GiB)", size, int64(MaxObjectBytes))}
	}
	if size < -1 {
		return &LimitError{Limit: "object-size", Key: key, Msg: fmt.Sprintf("size %d: pass the size in bytes, or -1 when it is unknown", size)}
	}
	return CheckMetadata(key, opts.Metadata)
}

// CheckMetadata enforces the rules of user metadata: keys are HTTP header
// tokens (stored in lower case, so two keys differing only in case
// clash), values are printable ASCII, and keys and values together take
// at most MaxMetadataBytes.
func CheckMetadata(key string, md map[string]string) error {
	total := 0
	seen := make(map[string]bool, len(md))
	for k, v := range md {
		total += len(k) + len(v)
		lk := strings.ToLower(k)
		switch {
		case k == "" || !isToken(k):
			return &LimitError{Limit: "metadata", Key: key, Msg: fmt.Sprintf("metadata key %q is not an HTTP header token", k)}
		case seen[lk]:
			return &LimitError{Limit: "metadata", Key: key, Msg: fmt.Sprintf("metadata keys are case-insensitive; %q is given twice", lk)}
		case !isPrintableASCII(v):
			return &LimitError{Limit: "metadata", Key: key, Msg: fmt.Sprintf("metadata %q: the value must be printable ASCII", k)}
		}
		seen[lk] = true
	}
	if total > MaxMetadataBytes {
		return &LimitError{Limit: "metadata-size", Key: key, Msg: fmt.Sprintf("metadata of %d bytes exceeds the limit of %d", total, MaxMetadataBytes)}
	}
	return nil
}

// NormalizeMetadata returns md with lower-case keys, or nil when empty,
// as S3 servers return it.
func NormalizeMetadata(md map[string]string) map[string]string {
	if len(md) == 0 {
		return nil
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[strings.ToLower(k)] = v
	}
	return out
}

// CheckGet enforces the rules of a read range.
func CheckGet(key string, opts GetOptions) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if opts.Offset < 0 || opts.Length < 0 {
		return &LimitError{Limit: "range", Key: key, Msg: fmt.Sprintf("offset %d and length %d must not be negative", opts.Offset, opts.Length)}
	}
	return nil
}

// CheckList enforces the list rules and returns the effective limit.
func CheckList(opts ListOptions) (int, error) {
	if len(opts.Prefix) > MaxKeyBytes {
		return 0, &LimitError{Limit: "key-size", Msg: fmt.Sprintf("prefix of %d bytes exceeds the key length limit of %d", len(opts.Prefix), MaxKeyBytes)}
	}
	if len(opts.Delimiter) > MaxKeyBytes {
		return 0, &LimitError{Limit: "delimiter", Msg: fmt.Sprintf("delimiter of %d bytes is too long", len(opts.Delimiter))}
	}
	switch {
	case opts.Limit == 0:
		return MaxListLimit, nil
	case opts.Limit < 0 || opts.Limit > MaxListLimit:
		return 0, &LimitError{Limit: "list-limit", Msg: fmt.Sprintf("limit %d is outside 1..%d", opts.Limit, MaxListLimit)}
	}
	return opts.Limit, nil
}

// CheckPresign enforces the presign rules and returns the options with
// their defaults filled in.
func CheckPresign(key string, opts PresignOptions) (PresignOptions, error) {
	if err := CheckKey(key); err != nil {
		return opts, err
	}
	opts.Method = strings.ToUpper(opts.Method)
	switch opts.Method {
	case "":
		opts.Method = http.MethodGet
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	default:
		return opts, &LimitError{Limit: "presign-method", Key: key, Msg: fmt.Sprintf("method %s cannot be presigned; use GET, HEAD, PUT or DELETE", opts.Method)}
	}
	if opts.Expires == 0 {
		opts.Expires = DefaultPresignExpiry
	}
	if opts.Expires < MinPresignExpiry || opts.Expires > MaxPresignExpiry {
		return opts, &LimitError{Limit: "presign-expiry", Key: key, Msg: fmt.Sprintf("expiry %s is outside %s..%s (7 days)", opts.Expires, MinPresignExpiry, MaxPresignExpiry)}
	}
	if opts.Expires%time.Second != 0 {
		return opts, &LimitError{Limit: "presign-expiry", Key: key, Msg: fmt.Sprintf("expiry %s is not a whole number of seconds", opts.Expires)}
	}
	return opts, nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
