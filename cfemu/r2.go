package cfemu

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// bucket is an R2 bucket. Its objects are those written through the REST
// objects API wrangler uses (r2 object put/get/delete --remote); the S3 API
// is not served (versitygw plays that part in tests).
type bucket struct {
	Name         string             `json:"name"`
	CreationDate time.Time          `json:"creation_date"`
	Location     string             `json:"location"`
	StorageClass string             `json:"storage_class"`
	Jurisdiction string             `json:"jurisdiction"`
	Objects      map[string]*object `json:"objects,omitempty"`
}

// jurisdiction is the request's cf-r2-jurisdiction ("default" when absent).
func (c *call) jurisdiction() string {
	j := strings.ToLower(c.r.Header.Get("cf-r2-jurisdiction"))
	if j == "" {
		return "default"
	}
	return j
}

// bucketKey is where a bucket is kept in its account: by name in the
// default jurisdiction, by jurisdiction/name in the others, so that "eu"
// and the default jurisdiction may each have a bucket of one name.
func bucketKey(jurisdiction, name string) string {
	if jurisdiction == "default" {
		return name
	}
	return jurisdiction + "/" + name
}

// bucket finds the bucket of the path in the request's jurisdiction; the
// caller holds e.mu.
func (c *call) bucket() (*bucket, *apiErr) {
	b := c.e.st.account(c.param("account_id")).Buckets[bucketKey(c.jurisdiction(), c.param("bucket"))]
	if b == nil {
		return nil, bucketMissing()
	}
	return b, nil
}

// jurisdictions and locationHints are arrays, not maps, so that they
// are static data rather than work at package init (issue 12).
var jurisdictions = [...]string{"default", "eu", "fedramp"}

func (b *bucket) json() map[string]any {
	return map[string]any{
		"name": b.Name, "creation_date": stamp(b.CreationDate), "location": b.Location,
		"storage_class": b.StorageClass, "jurisdiction": b.Jurisdiction,
	}
}

var bucketName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`) })

var locationHints = [...]string{"apac", "eeur", "enam", "weur", "wnam", "oc"}

func (e *Emulator) r2Routes(rt *router) {
	const b = "accounts/{account_id}/r2/buckets"
	rt.handle("POST", b, e.createBucket)
	rt.handle("GET", b, e.listBuckets)
	rt.handle("GET", b+"/{bucket}", e.getBucket)
	rt.handle("PATCH", b+"/{bucket}", e.editBucket)
	rt.handle("DELETE", b+"/{bucket}", e.deleteBucket)
}

func bucketMissing() *apiErr {
	return fail(http.StatusNotFound, codeBucketMissing, "The specified bucket does not exist.")
}

func (e *Emulator) createBucket(c *call) error {
	var req struct {
		Name         string `json:"name"`
		LocationHint string `json:"locationHint"`
		StorageClass string `json:"storageClass"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if !bucketName().MatchString(req.Name) {
		return fail(http.StatusBadRequest, codeBucketName, "The specified bucket name is not valid.")
	}
	if req.LocationHint != "" && !slices.Contains(locationHints[:], strings.ToLower(req.LocationHint)) {
		return badRequest("locationHint %q is not one of apac, eeur, enam, weur, wnam, oc", req.LocationHint)
	}
	switch req.StorageClass {
	case "":
		req.StorageClass = "Standard"
	case "Standard", "InfrequentAccess":
	default:
		return badRequest("storageClass %q is not Standard or InfrequentAccess", req.StorageClass)
	}
	jur := c.jurisdiction()
	if !slices.Contains(jurisdictions[:], jur) {
		return badRequest("cf-r2-jurisdiction %q is not default, eu or fedramp", jur)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	if a.Buckets[bucketKey(jur, req.Name)] != nil {
		return fail(http.StatusBadRequest, codeBucketExists, "The bucket you tried to create already exists, and you own it.")
	}
	loc := strings.ToUpper(req.LocationHint)
	if loc == "" {
		loc = "ENAM"
	}
	b := &bucket{Name: req.Name, CreationDate: c.now, Location: loc, StorageClass: req.StorageClass, Jurisdiction: jur}
	a.Buckets[bucketKey(jur, b.Name)] = b
	return e.commit(c, b.json())
}

// listBuckets pages by cursor (the base64 of the last name returned).
func (e *Emulator) listBuckets(c *call) error {
	q := c.r.URL.Query()
	per, aerr := c.queryInt("per_page", 20, 1, 1000)
	if aerr != nil {
		return aerr
	}
	after := q.Get("start_after")
	if cur := q.Get("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		if err != nil {
			return badRequest("invalid cursor")
		}
		after = string(b)
	}
	e.mu.Lock()
	var all []*bucket
	jur := c.jurisdiction()
	for _, b := range e.st.account(c.param("account_id")).Buckets {
		if b.Jurisdiction == jur && strings.Contains(b.Name, q.Get("name_contains")) {
			all = append(all, b)
		}
	}
	e.mu.Unlock()
	desc := q.Get("direction") == "desc"
	sort.Slice(all, func(i, j int) bool { return (all[i].Name < all[j].Name) != desc })
	out := []map[string]any{}
	cursor := ""
	for _, b := range all {
		if after != "" && ((!desc && b.Name <= after) || (desc && b.Name >= after)) {
			continue
		}
		if len(out) == per {
			cursor = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1]["name"].(string)))
			break
		}
		out = append(out, b.json())
	}
	return c.okInfo(map[string]any{"buckets": out}, map[string]any{"cursor": cursor, "per_page": per})
}

func (e *Emulator) getBucket(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, aerr := c.bucket()
	if aerr != nil {
		return aerr
	}
	return c.ok(b.json())
}

// editBucket changes the default storage class (cf-r2-storage-class header).
func (e *Emulator) editBucket(c *call) error {
	class := c.r.Header.Get("cf-r2-storage-class")
	if class != "Standard" && class != "InfrequentAccess" {
		return badRequest("cf-r2-storage-class must be Standard or InfrequentAccess")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b, aerr := c.bucket()
	if aerr != nil {
		return aerr
	}
	b.StorageClass = class
	return e.commit(c, b.json())
}

func (e *Emulator) deleteBucket(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, aerr := c.bucket()
	if aerr != nil {
		return aerr
	}
	if len(b.Objects) > 0 {
		return fail(http.StatusConflict, codeBucketNotEmpty, "The bucket you tried to delete is not empty.")
	}
	delete(e.st.account(c.param("account_id")).Buckets, bucketKey(c.jurisdiction(), c.param("bucket")))
	return e.commit(c, struct{}{})
}
