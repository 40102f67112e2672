package objstore

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// PartPlan says how an object is cut into the parts of a multipart
// upload, following R2's rules: every part but the last has PartSize
// bytes (at least MinPartBytes), the last has LastSize bytes (never more
// than PartSize), and there are at most MaxParts parts.
type PartPlan struct {
	Size     int64 // of the object
	PartSize int64 // of every part but the last
	Count    int   // number of parts, at least 1 (an empty object is one empty part)
	LastSize int64 // of the last part
}

// PlanParts plans the parts of an object of size bytes. Parts are
// preferred bytes long (raised to MinPartBytes if smaller) unless that
// would take more than MaxParts parts; then they grow, in whole MiB, to
// the smallest size that fits. An object larger than MaxObjectBytes, or a
// preferred size above MaxPartBytes, is a *LimitError.
func PlanParts(size, preferred int64) (PartPlan, error) {
	if size < 0 || size > MaxObjectBytes {
		return PartPlan{}, &LimitError{Limit: "object-size", Msg: fmt.Sprintf("cannot plan the parts of %d bytes: the size must be known and at most %d (5 TiB minus 5 GiB)", size, int64(MaxObjectBytes))}
	}
	if preferred > MaxPartBytes {
		return PartPlan{}, &LimitError{Limit: "part-size", Msg: fmt.Sprintf("part size %d exceeds the limit of %d (5 GiB minus 5 MiB)", preferred, int64(MaxPartBytes))}
	}
	partSize := max(preferred, MinPartBytes)
	if ceilDiv(size, partSize) > MaxParts {
		const mib = 1 << 20
		partSize = ceilDiv(ceilDiv(size, MaxParts), mib) * mib
	}
	p := PartPlan{Size: size, PartSize: partSize, Count: int(max(1, ceilDiv(size, partSize)))}
	p.LastSize = size - int64(p.Count-1)*partSize
	return p, nil
}

// Part returns the offset and length of part n (1-based, as S3 numbers them).
func (p PartPlan) Part(n int) (offset, length int64) {
	offset = int64(n-1) * p.PartSize
	if n == p.Count {
		return offset, p.LastSize
	}
	return offset, p.PartSize
}

// Check verifies that p obeys R2's rules; PlanParts never returns a plan
// that fails it.
func (p PartPlan) Check() error {
	fail := func(format string, args ...any) error {
		return &LimitError{Limit: "parts", Msg: fmt.Sprintf("plan of %d bytes: ", p.Size) + fmt.Sprintf(format, args...)}
	}
	switch {
	case p.Count < 1 || p.Count > MaxParts:
		return fail("%d parts is outside 1..%d", p.Count, MaxParts)
	case p.Count > 1 && p.PartSize < MinPartBytes:
		return fail("parts of %d bytes are below the minimum of %d", p.PartSize, MinPartBytes)
	case p.PartSize > MaxPartBytes:
		return fail("parts of %d bytes exceed the limit of %d", p.PartSize, int64(MaxPartBytes))
	case p.LastSize > p.PartSize || p.LastSize < 0 || (p.LastSize == 0 && p.Size > 0):
		return fail("the last part of %d bytes does not fit parts of %d", p.LastSize, p.PartSize)
	case int64(p.Count-1)*p.PartSize+p.LastSize != p.Size:
		return fail("%d parts of %d bytes and a last part of %d do not add up", p.Count-1, p.PartSize, p.LastSize)
	}
	return nil
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// MultipartETag returns the ETag S3 and R2 give an object uploaded in
// parts: the MD5 of the concatenated binary MD5s of the parts, in hex,
// followed by "-" and the number of parts.
func MultipartETag(partMD5s [][md5.Size]byte) string {
	h := md5.New()
	for _, m := range partMD5s {
		h.Write(m[:])
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(partMD5s))
}

// CleanETag removes the quotes (and a weak validator's W/) that ETag
// headers carry, so that ETags compare as ObjectInfo stores them.
func CleanETag(etag string) string {
	return strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
}
