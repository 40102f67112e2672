package r2_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"go.uber.org/goleak"

	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/r2"
	"github.com/factory-wager/edgeconf/r2/r2test"
)

const mib = 1 << 20

// randomData returns n reproducible pseudo-random bytes.
func randomData(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0xabcdef))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

// expectedETag computes the multipart ETag of data cut by the planner.
func expectedETag(t *testing.T, data []byte, partSize int64) string {
	t.Helper()
	plan, err := objstore.PlanParts(int64(len(data)), partSize)
	if err != nil {
		t.Fatal(err)
	}
	sums := make([][md5.Size]byte, plan.Count)
	for n := 1; n <= plan.Count; n++ {
		off, l := plan.Part(n)
		sums[n-1] = md5.Sum(data[off : off+l])
	}
	return objstore.MultipartETag(sums)
}

// faultyTransport fails a share of the UploadPart attempts, in three
// ways: a reset before the request is sent, a reset after the server
// applied it (the answer is lost), and a 503 SlowDown answer. Whether an
// attempt fails depends only on its part number and attempt number, so a
// run is reproducible whatever order the parts go in.
type faultyTransport struct {
	base http.RoundTripper
	rate float64
	// always fails every attempt of this part (0: none).
	always int

	mu       sync.Mutex
	attempts map[int]int
	md5s     map[int]map[string]bool // Content-MD5 values sent per part number
	failed   int
	total    int
	ops      []string
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	f.mu.Lock()
	f.ops = append(f.ops, op(req))
	f.mu.Unlock()
	if req.Method != http.MethodPut || !q.Has("partNumber") || !q.Has("uploadId") {
		return f.base.RoundTrip(req)
	}
	part, _ := strconv.Atoi(q.Get("partNumber"))
	f.mu.Lock()
	if f.attempts == nil {
		f.attempts, f.md5s = map[int]int{}, map[int]map[string]bool{}
	}
	f.attempts[part]++
	attempt := f.attempts[part]
	if f.md5s[part] == nil {
		f.md5s[part] = map[string]bool{}
	}
	f.md5s[part][req.Header.Get("Content-Md5")] = true
	f.total++
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d", part, attempt)
	roll := h.Sum64()
	fail := part == f.always || float64(roll%1000)/1000 < f.rate
	if fail {
		f.failed++
	}
	f.mu.Unlock()
	if !fail {
		return f.base.RoundTrip(req)
	}
	switch (roll / 1000) % 3 {
	case 0:
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("injected: %w", syscall.ECONNRESET)
	case 1:
		res, err := f.base.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
		return nil, fmt.Errorf("injected after the server answered: %w", syscall.ECONNRESET)
	default:
		if req.Body != nil {
			io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req,
		}, nil
	}
}

// op names an S3 request by method and sub-resource.
func op(req *http.Request) string {
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodPost && q.Has("uploads"):
		return "create"
	case req.Method == http.MethodPut && q.Has("partNumber"):
		return "part " + q.Get("partNumber")
	case req.Method == http.MethodPost && q.Has("uploadId"):
		return "complete"
	case req.Method == http.MethodDelete && q.Has("uploadId"):
		return "abort"
	case req.Method == http.MethodGet && q.Has("uploads"):
		return "list-uploads"
	case req.Method == http.MethodGet && q.Has("uploadId"):
		return "list-parts"
	}
	return req.Method
}

func (f *faultyTransport) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, o := range f.ops {
		if o == name {
			n++
		}
	}
	return n
}

func openUploads(t *testing.T, srv *r2test.Server, bucket string) []string {
	t.Helper()
	keys, err := srv.OpenUploads(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestUpload_Faults is reliability case R2-2: a 200 MiB upload with 30 %
// of the part uploads failing completes with the ETag computed locally
// (MD5 of the part MD5s), retried parts reuse their part number and
// bytes, and no multipart upload is left open.
func TestUpload_Faults(t *testing.T) {
	size := 200 * mib
	if testing.Short() {
		size = 40 * mib
	}
	srv := r2test.Start(t)
	ft := &faultyTransport{base: http.DefaultTransport, rate: 0.3}
	s, bucket, _ := newStore(t, srv, func(o *r2.Options) {
		o.HTTPClient = &http.Client{Transport: ft}
		o.PartAttempts = 10
		o.Backoff = func(int) time.Duration { return time.Millisecond }
	})
	data := randomData(size, 6)
	want := expectedETag(t, data, objstore.MinPartBytes)
	var progress []int64
	info, err := s.Put(context.Background(), "backups/big.bin", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{
		Progress: func(n int64) { progress = append(progress, n) },
	})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if info.ETag != want || !strings.HasSuffix(want, "-40") && !testing.Short() {
		t.Errorf("ETag = %s, want %s (40 parts)", info.ETag, want)
	}
	ft.mu.Lock()
	failed, total := ft.failed, ft.total
	for part, sums := range ft.md5s {
		if len(sums) != 1 {
			t.Errorf("part %d was sent with %d different Content-MD5s", part, len(sums))
		}
	}
	ft.mu.Unlock()
	t.Logf("%d of %d part uploads failed", failed, total)
	if share := float64(failed) / float64(total); share < 0.2 || share > 0.45 {
		t.Errorf("%d of %d part uploads failed; the test wants about 30 %%", failed, total)
	}
	if len(progress) == 0 || progress[len(progress)-1] != int64(size) {
		t.Errorf("progress ended at %v, want %d", progress[max(0, len(progress)-1):], size)
	}
	head, err := s.Head(context.Background(), "backups/big.bin")
	if err != nil || head.ETag != want || head.Size != int64(size) {
		t.Errorf("Head = %+v, %v; want ETag %s", head, err, want)
	}
	if got := md5.Sum(readAll(t, s, "backups/big.bin")); got != md5.Sum(data) {
		t.Error("the stored object differs from the data")
	}
	if open := openUploads(t, srv, bucket); len(open) != 0 {
		t.Errorf("open multipart uploads after success: %q", open)
	}
}

// TestUpload_FinalFailureAborts: when a part keeps failing, the upload
// fails, is aborted, and neither an object nor an open upload remains.
func TestUpload_FinalFailureAborts(t *testing.T) {
	srv := r2test.Start(t)
	ft := &faultyTransport{base: http.DefaultTransport, always: 3}
	s, bucket, _ := newStore(t, srv, func(o *r2.Options) {
		o.HTTPClient = &http.Client{Transport: ft}
		o.PartAttempts = 3
		o.Backoff = func(int) time.Duration { return 0 }
	})
	data := randomData(22*mib, 7)
	_, err := s.Put(context.Background(), "doomed", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{})
	var ue *r2.UploadError
	if !errors.As(err, &ue) || !ue.Aborted || ue.UploadID == "" {
		t.Fatalf("Put = %v, want an aborted *UploadError", err)
	}
	if !strings.Contains(err.Error(), "part 3") || !strings.Contains(err.Error(), "attempt 3 of 3") {
		t.Errorf("the error does not say which part failed: %v", err)
	}
	if ft.count("abort") != 1 {
		t.Errorf("%d aborts sent, want 1", ft.count("abort"))
	}
	if open := openUploads(t, srv, bucket); len(open) != 0 {
		t.Errorf("open multipart uploads after a failure: %q", open)
	}
	if _, err := s.Head(context.Background(), "doomed"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head after a failed upload = %v, want ErrNotFound", err)
	}
}

// blockingTransport holds UploadPart requests from part `from` on until
// their context ends, and records when AbortMultipartUpload goes out.
type blockingTransport struct {
	base    http.RoundTripper
	from    int
	blocked chan int

	mu      sync.Mutex
	aborted bool
}

func (b *blockingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	if req.Method == http.MethodDelete && q.Has("uploadId") {
		b.mu.Lock()
		b.aborted = true
		b.mu.Unlock()
	}
	if part, _ := strconv.Atoi(q.Get("partNumber")); req.Method == http.MethodPut && part >= b.from {
		b.blocked <- part
		<-req.Context().Done()
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, req.Context().Err()
	}
	return b.base.RoundTrip(req)
}

// TestUpload_Cancel is reliability case R2-3: cancelling the context in
// the middle of an upload sends AbortMultipartUpload before Put returns, leaves
// no upload open and no goroutine behind.
func TestUpload_Cancel(t *testing.T) {
	srv := r2test.Start(t)
	bucket := srv.CreateBucket(t)
	ignore := goleak.IgnoreCurrent()
	transport := &http.Transport{}
	bt := &blockingTransport{base: transport, from: 3, blocked: make(chan int, 16)}
	o := srv.Options(bucket)
	o.PartSize = objstore.MinPartBytes
	o.HTTPClient = &http.Client{Transport: bt}
	s, err := r2.New(o)
	if err != nil {
		t.Fatal(err)
	}
	data := randomData(60*mib, 8)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-bt.blocked // a part is in flight: cancel now
		cancel()
	}()
	_, err = s.Put(ctx, "cancelled", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	var ue *r2.UploadError
	if !errors.As(err, &ue) || !ue.Aborted {
		t.Errorf("Put = %v, want an aborted *UploadError", err)
	}
	// Put returns only after the abort: it went out as soon as the
	// cancelled part gave up, not at some later clean-up.
	bt.mu.Lock()
	aborted := bt.aborted
	bt.mu.Unlock()
	if !aborted {
		t.Fatal("no AbortMultipartUpload was sent before Put returned")
	}
	s.Close()
	transport.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
	if open := openUploads(t, srv, bucket); len(open) != 0 {
		t.Errorf("open multipart uploads after a cancel: %q", open)
	}
}

// TestUpload_Resume: an upload interrupted without an abort (the process
// was killed) is resumed by the next upload of the same key and size:
// parts already on the server with the right bytes are kept, a part with
// other bytes is sent again.
func TestUpload_Resume(t *testing.T) {
	srv := r2test.Start(t)
	ft := &faultyTransport{base: http.DefaultTransport}
	s, bucket, logs := newStore(t, srv, func(o *r2.Options) { o.HTTPClient = &http.Client{Transport: ft} })
	ctx := context.Background()
	data := randomData(23*mib, 9) // 5 parts of 5 MiB, the last 3 MiB
	key := "exports/resume.bin"

	// The interrupted run: parts 1 and 3 are right, part 2 holds other bytes.
	c := srv.Client()
	created, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		num  int32
		body []byte
	}{
		{1, data[:5*mib]},
		{2, randomData(5*mib, 99)},
		{3, data[10*mib : 15*mib]},
	} {
		if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: created.UploadId,
			PartNumber: aws.Int32(p.num), Body: bytes.NewReader(p.body), ContentLength: aws.Int64(int64(len(p.body)))}); err != nil {
			t.Fatal(err)
		}
	}
	// An older upload of the key with another part size is not resumed.
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key + ".other")}); err != nil {
		t.Fatal(err)
	}

	info, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), objstore.PutOptions{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if want := expectedETag(t, data, objstore.MinPartBytes); info.ETag != want {
		t.Errorf("ETag = %s, want %s", info.ETag, want)
	}
	for _, o := range []string{"create", "part 1", "part 3"} {
		if n := ft.count(o); n != 0 {
			t.Errorf("%s was sent %d times; the resumed upload should not", o, n)
		}
	}
	for _, o := range []string{"part 2", "part 4", "part 5", "complete"} {
		if n := ft.count(o); n != 1 {
			t.Errorf("%s was sent %d times, want once", o, n)
		}
	}
	if !strings.Contains(logs.String(), "resuming multipart upload") {
		t.Errorf("the resume was not logged")
	}
	if got := md5.Sum(readAll(t, s, key)); got != md5.Sum(data) {
		t.Error("the resumed object differs from the data")
	}
	open := openUploads(t, srv, bucket)
	if len(open) != 1 || open[0] != key+".other" {
		t.Errorf("open uploads = %q, want only the unrelated one", open)
	}
}

func TestUpload_NoResumeStartsAfresh(t *testing.T) {
	srv := r2test.Start(t)
	ft := &faultyTransport{base: http.DefaultTransport}
	s, bucket, _ := newStore(t, srv, func(o *r2.Options) { o.HTTPClient = &http.Client{Transport: ft}; o.NoResume = true })
	ctx := context.Background()
	data := randomData(11*mib, 10)
	if _, err := srv.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if ft.count("list-uploads") != 0 || ft.count("create") != 1 {
		t.Errorf("requests %v; want a new upload without looking for one to resume", ft.ops)
	}
}

// TestUpload_UnknownSize: a body of unknown size goes up in parts of
// PartSize bytes when it is larger than one part, and in one PUT when not.
func TestUpload_UnknownSize(t *testing.T) {
	srv := r2test.Start(t)
	ft := &faultyTransport{base: http.DefaultTransport}
	s, _, _ := newStore(t, srv, func(o *r2.Options) { o.HTTPClient = &http.Client{Transport: ft} })
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		size  int
		parts int
	}{
		{"small", 3 * mib, 0},
		{"exactly-one-part", 5 * mib, 1},
		{"parts", 12*mib + 7, 3},
		{"part-multiple", 10 * mib, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomData(tc.size, uint64(tc.size))
			before := ft.count("create")
			// A reader that never says how long it is.
			info, err := s.Put(ctx, tc.name, io.MultiReader(bytes.NewReader(data)), -1, objstore.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("%x", md5.Sum(data))
			if tc.parts > 0 {
				want = expectedETag(t, data, objstore.MinPartBytes)
			}
			if info.ETag != want || info.Size != int64(tc.size) {
				t.Errorf("Put = %+v, want ETag %s", info, want)
			}
			if created := ft.count("create") - before; (tc.parts > 0) != (created == 1) {
				t.Errorf("%d multipart uploads created for %d parts", created, tc.parts)
			}
			if got := readAll(t, s, tc.name); !bytes.Equal(got, data) {
				t.Error("the object differs from the data")
			}
		})
	}
}

func TestUpload_BodyShorterThanSize(t *testing.T) {
	srv := r2test.Start(t)
	s, bucket, _ := newStore(t, srv, nil)
	data := randomData(12*mib, 11)
	_, err := s.Put(context.Background(), "short", bytes.NewReader(data), 20*mib, objstore.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "ended after") {
		t.Errorf("Put with a short body = %v", err)
	}
	_, err = s.Put(context.Background(), "long", bytes.NewReader(data), 11*mib, objstore.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "longer than its size") {
		t.Errorf("Put with a long body = %v", err)
	}
	if open := openUploads(t, srv, bucket); len(open) != 0 {
		t.Errorf("open uploads: %q", open)
	}
}

// etagTransport rewrites the ETag of answers to one kind of request, as
// a store that corrupted the data would report it.
type etagTransport struct {
	base http.RoundTripper
	op   string
	// lose drops the answer to the first matching request after the
	// server applied it, instead of rewriting its ETag.
	lose bool
	once sync.Once
}

func (e *etagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := e.base.RoundTrip(req)
	if err != nil || op(req) != e.op {
		return res, err
	}
	if e.lose {
		lost := false
		e.once.Do(func() { lost = true })
		if lost {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return nil, fmt.Errorf("injected: %w", syscall.ECONNRESET)
		}
		return res, nil
	}
	if res.Header.Get("ETag") != "" {
		res.Header.Set("ETag", `"00000000000000000000000000000000"`)
	}
	if e.op == "complete" {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		b = bytes.Replace(b, []byte("<ETag>"), []byte("<ETag>0"), 1)
		res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		res.Header.Del("Content-Length")
	}
	return res, nil
}

func TestUpload_ETagChecks(t *testing.T) {
	srv := r2test.Start(t)
	ctx := context.Background()
	data := randomData(11*mib, 12)
	for _, tc := range []struct {
		op, want string
	}{
		{"PUT", "store reports ETag"},
		{"part 2", "store reports ETag"},
		{"complete", "store reports ETag"},
	} {
		t.Run(tc.op, func(t *testing.T) {
			s, _, _ := newStore(t, srv, func(o *r2.Options) {
				o.HTTPClient = &http.Client{Transport: &etagTransport{base: http.DefaultTransport, op: tc.op}}
				o.PartAttempts = 2
				o.Backoff = func(int) time.Duration { return 0 }
			})
			body := data
			if tc.op == "PUT" {
				body = data[:mib]
			}
			_, err := s.Put(ctx, "k", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Put with a wrong %s ETag = %v", tc.op, err)
			}
		})
	}
}

// TestUpload_LostCompleteAnswer: the answer to CompleteMultipartUpload
// is lost after the server completed the upload; the SDK's retry finds
// the upload gone, and the object with the right ETag counts as success.
func TestUpload_LostCompleteAnswer(t *testing.T) {
	srv := r2test.Start(t)
	s, bucket, _ := newStore(t, srv, func(o *r2.Options) {
		o.HTTPClient = &http.Client{Transport: &etagTransport{base: http.DefaultTransport, op: "complete", lose: true}}
	})
	data := randomData(11*mib, 13)
	info, err := s.Put(context.Background(), "k", bytes.NewReader(data), int64(len(data)), objstore.PutOptions{})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if want := expectedETag(t, data, objstore.MinPartBytes); info.ETag != want {
		t.Errorf("ETag = %s, want %s", info.ETag, want)
	}
	if open := openUploads(t, srv, bucket); len(open) != 0 {
		t.Errorf("open uploads: %q", open)
	}
}
