package r2_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/objtest"
	"github.com/factory-wager/edgeconf/r2"
	"github.com/factory-wager/edgeconf/r2/r2test"
)

// logBuffer collects a store's logs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newStore returns a store on a new bucket of srv with 5 MiB parts, so
// that the suite's 12 MiB object goes up in three parts.
func newStore(t *testing.T, srv *r2test.Server, edit func(*r2.Options)) (*r2.Store, string, *logBuffer) {
	t.Helper()
	bucket := srv.CreateBucket(t)
	logs := &logBuffer{}
	o := srv.Options(bucket)
	o.PartSize = objstore.MinPartBytes
	o.Logger = logs.logger()
	if edit != nil {
		edit(&o)
	}
	s, err := r2.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, bucket, logs
}

// TestStore_Conformance runs the objstore suite against versitygw, a real
// S3 server. Its posix backend maps keys onto paths, so the key-fidelity
// cases R2 itself passes are skipped there (objtest.Options.FileSystemKeys).
func TestStore_Conformance(t *testing.T) {
	srv := r2test.Start(t)
	objtest.Run(t, func(t *testing.T) objtest.Harness {
		s, _, logs := newStore(t, srv, nil)
		return objtest.Harness{Store: s, Logs: logs.String}
	}, objtest.Options{FileSystemKeys: true})
}

func TestStore_Model(t *testing.T) {
	srv := r2test.Start(t)
	objtest.RunModel(t, func(t *testing.T) objtest.Harness {
		s, _, _ := newStore(t, srv, nil)
		return objtest.Harness{Store: s}
	}, objtest.Options{FileSystemKeys: true}, 300)
}

func TestStore_NoSuchBucket(t *testing.T) {
	srv := r2test.Start(t)
	o := srv.Options("no-such-bucket")
	o.PartSize = objstore.MinPartBytes
	s, err := r2.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "k", objstore.GetOptions{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("Get in a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	if _, err := s.List(ctx, objstore.ListOptions{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("List in a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	if _, err := s.Put(ctx, "k", strings.NewReader("v"), 1, objstore.PutOptions{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("Put in a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	big := bytes.Repeat([]byte("x"), 6<<20)
	if _, err := s.Put(ctx, "k", bytes.NewReader(big), int64(len(big)), objstore.PutOptions{}); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("multipart Put in a missing bucket = %v, want ErrNoSuchBucket", err)
	}
	if err := s.Delete(ctx, "k"); !errors.Is(err, objstore.ErrNoSuchBucket) {
		t.Errorf("Delete in a missing bucket = %v, want ErrNoSuchBucket", err)
	}
}

func TestStore_WrongSecret(t *testing.T) {
	srv := r2test.Start(t)
	bucket := srv.CreateBucket(t)
	o := srv.Options(bucket)
	o.SecretAccessKey = "wrong-secret-canary-7f3a"
	logs := &logBuffer{}
	o.Logger = logs.logger()
	s, err := r2.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Put(context.Background(), "k", strings.NewReader("v"), 1, objstore.PutOptions{})
	if err == nil {
		t.Fatal("Put with a wrong secret succeeded")
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String(), "target": s.Target(), "options": fmt.Sprintf("%v %+v %#v %s", o, o, o, o)} {
		if strings.Contains(text, "wrong-secret-canary") {
			t.Errorf("the secret key appears in the %s: %s", what, text)
		}
	}
}

func TestNew_Validation(t *testing.T) {
	base := r2.Options{Bucket: "files", AccountID: "0123456789abcdef0123456789abcdef", AccessKeyID: "id", SecretAccessKey: "secret"}
	for _, tc := range []struct {
		name string
		edit func(*r2.Options)
		want string
	}{
		{"bad-bucket", func(o *r2.Options) { o.Bucket = "Files" }, "bucket name"},
		{"no-endpoint", func(o *r2.Options) { o.AccountID = "" }, "R2_ENDPOINT"},
		{"not-http", func(o *r2.Options) { o.Endpoint = "ftp://host" }, "not an http(s) URL"},
		{"userinfo", func(o *r2.Options) { o.Endpoint = "https://u:p@host" }, "must not carry credentials"},
		{"no-keys", func(o *r2.Options) { o.SecretAccessKey = "" }, "R2_SECRET_ACCESS_KEY"},
		{"small-parts", func(o *r2.Options) { o.PartSize = 1 << 20 }, "part-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := r2.New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "u:p") {
				t.Errorf("the error shows the endpoint's credentials: %v", err)
			}
		})
	}
	s, err := r2.New(base)
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsR2() || s.Bucket() != "files" || s.Target() != "R2 bucket files at https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com" {
		t.Errorf("default endpoint: IsR2 %t, Target %q", s.IsR2(), s.Target())
	}
	o := base
	o.Endpoint = "http://127.0.0.1:9000/"
	if s, err = r2.New(o); err != nil || s.IsR2() || s.Target() != "S3 bucket files at http://127.0.0.1:9000" {
		t.Errorf("custom endpoint: %v, Target %q", err, s.Target())
	}
}

func TestIsR2Endpoint(t *testing.T) {
	for ep, want := range map[string]bool{
		"https://abc.r2.cloudflarestorage.com":           true,
		"https://abc.eu.r2.cloudflarestorage.com/":       true,
		"https://files.abc.r2.cloudflarestorage.com":     true,
		"https://ABC.R2.CloudflareStorage.com":           true,
		"http://127.0.0.1:7070":                          false,
		"https://r2.cloudflarestorage.com.evil.test":     false,
		"https://s3.amazonaws.com":                       false,
		"://bad":                                         false,
		"https://evil.test/abc.r2.cloudflarestorage.com": false,
	} {
		if got := r2.IsR2Endpoint(ep); got != want {
			t.Errorf("IsR2Endpoint(%q) = %t, want %t", ep, got, want)
		}
	}
}

// TestRequesterPays shows that x-amz-request-payer goes out on every
// request of a Requester Pays bucket (and in its presigned URLs), and on
// none of another bucket.
func TestRequesterPays(t *testing.T) {
	srv := r2test.Start(t)
	for _, pays := range []bool{true, false} {
		t.Run(fmt.Sprint("requesterPays=", pays), func(t *testing.T) {
			rec := &recorder{base: http.DefaultTransport}
			s, _, _ := newStore(t, srv, func(o *r2.Options) {
				o.RequesterPays = pays
				o.HTTPClient = &http.Client{Transport: rec}
			})
			ctx := context.Background()
			big := bytes.Repeat([]byte("p"), 6<<20) // two parts
			steps := []func() error{
				func() error {
					_, err := s.Put(ctx, "small", strings.NewReader("v"), 1, objstore.PutOptions{})
					return err
				},
				func() error {
					_, err := s.Put(ctx, "big", bytes.NewReader(big), int64(len(big)), objstore.PutOptions{})
					return err
				},
				func() error { _, err := s.Head(ctx, "small"); return err },
				func() error {
					r, _, err := s.Get(ctx, "small", objstore.GetOptions{})
					if err == nil {
						r.Close()
					}
					return err
				},
				func() error { _, err := s.List(ctx, objstore.ListOptions{}); return err },
				func() error { return s.Delete(ctx, "small") },
			}
			for i, step := range steps {
				if err := step(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			reqs := rec.all()
			if len(reqs) < 9 { // put, create, 2 parts, complete (+ list uploads to resume), head, get, list, delete
				t.Fatalf("only %d requests recorded", len(reqs))
			}
			for _, r := range reqs {
				if got := r.header.Get(r2.RequesterPaysHeader) == "requester"; got != pays {
					t.Errorf("%s %s: x-amz-request-payer present = %t, want %t", r.method, r.op, got, pays)
				}
				if pays && !strings.Contains(strings.ToLower(r.header.Get("Authorization")), "x-amz-request-payer") {
					t.Errorf("%s %s: the header is not signed", r.method, r.op)
				}
			}
			u, err := s.Presign(ctx, "big", objstore.PresignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(strings.ToLower(u), "x-amz-request-payer=requester"); got != pays {
				t.Errorf("presigned URL carries the request payer = %t, want %t", got, pays)
			}
		})
	}
}

func TestRequesterPays_WarnsOnR2(t *testing.T) {
	logs := &logBuffer{}
	_, err := r2.New(r2.Options{Bucket: "files", AccountID: "0123456789abcdef0123456789abcdef", AccessKeyID: "id", SecretAccessKey: "secret", RequesterPays: true, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "R2 does not implement Requester Pays") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

// recorder is a transport that records each request's method, S3
// operation and headers.
type recorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, op string
	header     http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{method: req.Method, op: req.URL.Path + "?" + req.URL.RawQuery, header: req.Header.Clone()})
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func readAll(t *testing.T, s objstore.Store, key string) []byte {
	t.Helper()
	r, _, err := s.Get(context.Background(), key, objstore.GetOptions{})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
