package cfemu

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// maxD1Imports bounds the D1 imports under way (initialised, not yet
// ingested); the oldest is dropped beyond it.
const maxD1Imports = 8

// d1Import is a `wrangler d1 execute --remote --file` under way: init gives
// a presigned upload URL, the file is PUT there, ingest runs it, poll reads
// the outcome.
type d1Import struct {
	token    string
	database string // uuid
	etag     string // the md5 the client announced
	filename string
	body     []byte
	uploaded bool
	created  time.Time
	outcome  map[string]any // set by ingest
}

func (e *Emulator) d1ImportRoutes(rt *router) {
	rt.handle("POST", "accounts/{account_id}/d1/database/{database_id}/import", e.d1Import)
	rt.handlePublic("PUT", "d1-import-upload/{token}", e.d1ImportUpload)
}

// importFor finds the import of the database by filename; the caller holds
// e.mu.
func (e *Emulator) importFor(db, filename string) *d1Import {
	for _, im := range e.imports {
		if im.database == db && im.filename == filename {
			return im
		}
	}
	return nil
}

func (e *Emulator) d1Import(c *call) error {
	var req struct {
		Action          string `json:"action"`
		Etag            string `json:"etag"`
		Filename        string `json:"filename"`
		CurrentBookmark string `json:"current_bookmark"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	e.mu.Lock()
	d, aerr := c.database()
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	switch req.Action {
	case "init":
		if len(req.Etag) != 32 || strings.Trim(strings.ToLower(req.Etag), "0123456789abcdef") != "" {
			return badRequest("etag must be the file's md5 in hex")
		}
		im := &d1Import{token: newID() + newID(), database: d.UUID, etag: strings.ToLower(req.Etag), filename: strings.ToLower(req.Etag) + ".sql", created: c.now}
		e.mu.Lock()
		if e.imports == nil {
			e.imports = map[string]*d1Import{}
		}
		if old := e.importFor(d.UUID, im.filename); old != nil {
			delete(e.imports, old.token) // the same file again starts afresh
		}
		if len(e.imports) >= maxD1Imports {
			var oldest *d1Import
			for _, x := range e.imports {
				if oldest == nil || x.created.Before(oldest.created) {
					oldest = x
				}
			}
			delete(e.imports, oldest.token)
		}
		e.imports[im.token] = im
		e.mu.Unlock()
		scheme := "http"
		if c.r.TLS != nil {
			scheme = "https"
		}
		return c.ok(map[string]any{"success": true, "filename": im.filename, "upload_url": scheme + "://" + c.r.Host + PathPrefix + "/d1-import-upload/" + im.token})
	case "ingest":
		e.mu.Lock()
		im := e.importFor(d.UUID, req.Filename)
		e.mu.Unlock()
		if im == nil || !im.uploaded {
			return badRequest("no uploaded file %q for database %s: start with action init", req.Filename, d.UUID)
		}
		return e.ingest(c, d, im)
	case "poll":
		e.mu.Lock()
		var out map[string]any
		for _, im := range e.imports {
			if im.database == d.UUID && im.outcome != nil && im.outcome["at_bookmark"] == req.CurrentBookmark {
				out = im.outcome
			}
		}
		e.mu.Unlock()
		if out == nil {
			return badRequest("no import of database %s is at bookmark %q", d.UUID, req.CurrentBookmark)
		}
		return c.ok(out)
	}
	return badRequest("action %q is not init, ingest or poll", req.Action)
}

// d1ImportUpload takes the file of an import (the presigned PUT).
func (e *Emulator) d1ImportUpload(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	im := e.imports[c.param("token")]
	if im == nil {
		return fail(http.StatusForbidden, codeAuth, "the upload URL is not valid (expired or already used)")
	}
	sum := md5.Sum(c.body)
	im.body, im.uploaded = append([]byte(nil), c.body...), true
	c.w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// ingest runs the uploaded file in one transaction.
func (e *Emulator) ingest(c *call, d *database, im *d1Import) error {
	sum := md5.Sum(im.body)
	if hex.EncodeToString(sum[:]) != im.etag {
		return badRequest("the uploaded file's md5 is not the announced etag %s", im.etag)
	}
	db, err := e.d1.open(d.UUID)
	if err != nil {
		return err
	}
	var stmts []d1Statement
	for _, p := range splitSQL(string(im.body)) {
		if len(p) > d1MaxStatementBytes {
			return fail(http.StatusBadRequest, codeD1Query, "statement too long: %d bytes is more than %d: SQLITE_TOOBIG", len(p), d1MaxStatementBytes)
		}
		stmts = append(stmts, d1Statement{SQL: p})
	}
	bookmark := "emu-" + im.etag
	start := time.Now()
	results, err := db.run(c.r.Context(), stmts, false)
	out := map[string]any{"success": true, "type": "import", "at_bookmark": bookmark, "messages": []string{}}
	if err != nil {
		out["status"] = "error"
		out["errors"] = []string{sqliteMessage(err)}
		out["error"] = sqliteMessage(err)
	} else {
		var read, written int64
		for _, r := range results {
			read += int64(len(r.rows))
			written += r.changes
		}
		if written > 0 {
			c.applied = true
		}
		out["status"] = "complete"
		out["result"] = map[string]any{
			"num_queries": len(stmts), "final_bookmark": bookmark,
			"meta": map[string]any{"duration": float64(time.Since(start).Microseconds()) / 1000, "rows_read": read, "rows_written": written, "size_after": 0, "changed_db": written > 0},
		}
	}
	e.mu.Lock()
	im.outcome = out
	e.mu.Unlock()
	return c.ok(out)
}
