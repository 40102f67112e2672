package cfemu

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// Bounds of the objects the REST objects API keeps in the emulator's state
// (it is a convenience for wrangler r2 object, not a store for data: use a
// bucket folder or an S3 server for that).
const (
	MaxObjectBytes        = 25 << 20  // one object
	MaxBucketObjectBytes  = 256 << 20 // all the objects of one bucket
	MaxBucketObjectsCount = 10_000    // objects in one bucket
)

// object is an R2 object written through the REST objects API.
type object struct {
	Key      string            `json:"key"`
	Body     []byte            `json:"body"`
	ETag     string            `json:"etag"`
	Uploaded time.Time         `json:"uploaded"`
	Headers  map[string]string `json:"headers,omitempty"` // content-type, cache-control, …
}

// objectHeaders are the request headers kept with an object and given back
// on GET, as wrangler sends them.
var objectHeaders = []string{"Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"}

func (e *Emulator) r2ObjectRoutes(rt *router) {
	const o = "accounts/{account_id}/r2/buckets/{bucket}/objects/{key...}"
	rt.handle("PUT", o, e.putObject)
	rt.handle("GET", o, e.getObject)
	rt.handle("DELETE", o, e.deleteObject)
}

func objectMissing() *apiErr {
	return fail(http.StatusNotFound, codeObjectMissing, "The specified key does not exist.")
}

func (e *Emulator) putObject(c *call) error {
	if len(c.body) > MaxObjectBytes {
		return fail(http.StatusRequestEntityTooLarge, codeTooLarge, "object of %d bytes is over the emulator's limit of %d (MaxObjectBytes)", len(c.body), MaxObjectBytes)
	}
	key := c.param("key")
	if key == "" || len(key) > 1024 {
		return badRequest("an object key is 1 to 1024 bytes")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b, aerr := c.bucket()
	if aerr != nil {
		return aerr
	}
	if b.Objects == nil {
		b.Objects = map[string]*object{}
	}
	total := 0
	for k, o := range b.Objects {
		if k != key {
			total += len(o.Body)
		}
	}
	if _, exists := b.Objects[key]; !exists && len(b.Objects) >= MaxBucketObjectsCount {
		return fail(http.StatusRequestEntityTooLarge, codeTooLarge, "bucket %s holds %d objects, the emulator's limit (MaxBucketObjectsCount)", b.Name, MaxBucketObjectsCount)
	}
	if total+len(c.body) > MaxBucketObjectBytes {
		return fail(http.StatusRequestEntityTooLarge, codeTooLarge, "bucket %s would hold more than %d bytes, the emulator's limit (MaxBucketObjectBytes)", b.Name, MaxBucketObjectBytes)
	}
	sum := md5.Sum(c.body)
	o := &object{Key: key, Body: append([]byte(nil), c.body...), ETag: hex.EncodeToString(sum[:]), Uploaded: c.now, Headers: map[string]string{}}
	for _, h := range objectHeaders {
		if v := c.r.Header.Get(h); v != "" {
			o.Headers[h] = v
		}
	}
	b.Objects[key] = o
	return e.commit(c, map[string]any{"key": key, "size": len(o.Body), "etag": o.ETag, "uploaded": stamp(o.Uploaded), "storage_class": b.StorageClass})
}

// getObject answers with the object's bytes, not an envelope.
func (e *Emulator) getObject(c *call) error {
	e.mu.Lock()
	b, aerr := c.bucket()
	var o *object
	if aerr == nil {
		if o = b.Objects[c.param("key")]; o == nil {
			aerr = objectMissing()
		}
	}
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	h := c.w.Header()
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/octet-stream")
	}
	h.Set("ETag", `"`+o.ETag+`"`)
	h.Set("Last-Modified", o.Uploaded.UTC().Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(len(o.Body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(o.Body)
	return nil
}

func (e *Emulator) deleteObject(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, aerr := c.bucket()
	if aerr != nil {
		return aerr
	}
	delete(b.Objects, c.param("key")) // deleting a missing key succeeds, as in R2
	return e.commit(c, map[string]any{})
}
