package cfemu

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// bucket is R2 bucket management; objects live behind the S3 API, which
// the emulator does not serve.
type bucket struct {
	Name         string    `json:"name"`
	CreationDate time.Time `json:"creation_date"`
	Location     string    `json:"location"`
	StorageClass string    `json:"storage_class"`
	Jurisdiction string    `json:"jurisdiction"`
}

func (b *bucket) json() map[string]any {
	return map[string]any{
		"name": b.Name, "creation_date": stamp(b.CreationDate), "location": b.Location,
		"storage_class": b.StorageClass, "jurisdiction": b.Jurisdiction,
	}
}

var bucketName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`) })

var locationHints = map[string]bool{"apac": true, "eeur": true, "enam": true, "weur": true, "wnam": true, "oc": true}

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
	if req.LocationHint != "" && !locationHints[strings.ToLower(req.LocationHint)] {
		return badRequest("locationHint %q is not one of apac, eeur, enam, weur, wnam, oc", req.LocationHint)
	}
	switch req.StorageClass {
	case "":
		req.StorageClass = "Standard"
	case "Standard", "InfrequentAccess":
	default:
		return badRequest("storageClass %q is not Standard or InfrequentAccess", req.StorageClass)
	}
	jur := c.r.Header.Get("cf-r2-jurisdiction")
	if jur == "" {
		jur = "default"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	if a.Buckets[req.Name] != nil {
		return fail(http.StatusBadRequest, codeBucketExists, "The bucket you tried to create already exists, and you own it.")
	}
	loc := strings.ToUpper(req.LocationHint)
	if loc == "" {
		loc = "ENAM"
	}
	b := &bucket{Name: req.Name, CreationDate: c.now, Location: loc, StorageClass: req.StorageClass, Jurisdiction: jur}
	a.Buckets[b.Name] = b
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
	for _, b := range e.st.account(c.param("account_id")).Buckets {
		if strings.Contains(b.Name, q.Get("name_contains")) {
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
	b := e.st.account(c.param("account_id")).Buckets[c.param("bucket")]
	if b == nil {
		return bucketMissing()
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
	b := e.st.account(c.param("account_id")).Buckets[c.param("bucket")]
	if b == nil {
		return bucketMissing()
	}
	b.StorageClass = class
	return e.commit(c, b.json())
}

func (e *Emulator) deleteBucket(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	if a.Buckets[c.param("bucket")] == nil {
		return bucketMissing()
	}
	delete(a.Buckets, c.param("bucket"))
	return e.commit(c, struct{}{})
}
