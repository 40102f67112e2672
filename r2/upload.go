package r2

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/factory-wager/edgeconf/objstore"
)

// abortTimeout bounds the AbortMultipartUpload sent after a failure or a
// cancellation, which runs on a context of its own.
const abortTimeout = 30 * time.Second

// UploadError is returned (wrapped) when a multipart upload fails. It
// names the upload, and says whether it was aborted: when Aborted is
// false the parts stay on the server until the bucket's lifecycle rule
// removes them (7 days on R2) or a later upload of the same key resumes
// them.
type UploadError struct {
	Key      string
	UploadID string
	Aborted  bool
	Err      error
}

func (e *UploadError) Error() string {
	state := "aborted"
	if !e.Aborted {
		state = "left open (it can be resumed; R2 removes it after 7 days)"
	}
	return fmt.Sprintf("multipart upload of %q (id %s, %s): %v", e.Key, e.UploadID, state, e.Err)
}

func (e *UploadError) Unwrap() error { return e.Err }

// part is one part read from the body, in a pooled buffer.
type part struct {
	num int32
	buf []byte
	md5 [md5.Size]byte
}

// remotePart is a part already on the server (for resuming).
type remotePart struct {
	size int64
	etag string
}

// multipart is one upload in progress.
type multipart struct {
	s        *Store
	key      string
	opts     objstore.PutOptions
	uploadID string
	existing map[int32]remotePart // parts found when resuming

	mu       sync.Mutex
	md5s     map[int32][md5.Size]byte
	etags    map[int32]string
	stored   int64
	progress sync.Mutex // serialises opts.Progress calls
}

// upload writes body in parts. With a known size the parts follow
// objstore.PlanParts; with an unknown size they are Options.PartSize
// bytes, and a body that fits in the first part goes up in one PUT.
func (s *Store) upload(ctx context.Context, key string, body io.Reader, size int64, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	partSize := s.opts.PartSize
	var plan objstore.PartPlan
	if size >= 0 {
		var err error
		if plan, err = objstore.PlanParts(size, partSize); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
		}
		partSize = plan.PartSize
	}
	pool := newBufferPool(partSize, s.opts.Concurrency+1)

	// The first part is read before anything is created, so that a
	// small body of unknown size costs one PUT and no upload to abort.
	first, err := pool.get(ctx)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	firstLen := partSize
	if size >= 0 {
		_, firstLen = plan.Part(1)
	}
	n, err := io.ReadFull(body, first[:firstLen])
	switch {
	case size < 0 && (err == io.EOF || err == io.ErrUnexpectedEOF):
		info, err := s.putObject(ctx, key, first[:n], opts)
		if err == nil && opts.Progress != nil {
			opts.Progress(int64(n))
		}
		return info, err
	case err != nil:
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, readError(err, int64(n), size))
	}

	m := &multipart{s: s, key: key, opts: opts, md5s: map[int32][md5.Size]byte{}, etags: map[int32]string{}}
	if size >= 0 && !s.opts.NoResume {
		m.findResumable(ctx, plan)
	}
	if m.uploadID == "" {
		out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), ContentType: aws.String(contentType(opts.ContentType)),
			Metadata: objstore.NormalizeMetadata(opts.Metadata), RequestPayer: s.requestPayer(),
		})
		if err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("put %q: create multipart upload: %w", key, mapError(err))
		}
		m.uploadID = aws.ToString(out.UploadId)
		s.logger.Debug("r2: multipart upload created", "bucket", s.opts.Bucket, "key", key, "upload_id", m.uploadID, "part_size", partSize)
	}

	count, err := m.run(ctx, pool, body, size, plan, first[:firstLen])
	if err == nil {
		var info objstore.ObjectInfo
		if info, err = m.complete(ctx, count, size); err == nil {
			return info, nil
		}
	}
	return objstore.ObjectInfo{}, m.abort(ctx, err)
}

// readError explains a short body.
func readError(err error, n, size int64) error {
	if size >= 0 && (err == io.EOF || err == io.ErrUnexpectedEOF) {
		return fmt.Errorf("the body ended after %d bytes of %d", n, size)
	}
	return fmt.Errorf("read body: %w", err)
}

// run reads the body part by part into pooled buffers and uploads the
// parts on Concurrency workers. It returns the number of parts.
func (m *multipart) run(ctx context.Context, pool *bufferPool, body io.Reader, size int64, plan objstore.PartPlan, first []byte) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan part)
	var wg sync.WaitGroup
	for range m.s.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				err := m.uploadPart(ctx, p)
				pool.put(p.buf)
				if err != nil {
					cancel(err)
				}
			}
		}()
	}
	count, err := m.feed(ctx, pool, jobs, body, size, plan, first)
	if err != nil {
		cancel(err) // stop the parts in flight; a worker's error, if first, stays the cause
	}
	close(jobs)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		return 0, cause
	}
	return count, nil
}

// feed sends the parts to the workers, reading each into a buffer from
// the pool, so that at most Concurrency + 1 buffers exist.
func (m *multipart) feed(ctx context.Context, pool *bufferPool, jobs chan<- part, body io.Reader, size int64, plan objstore.PartPlan, first []byte) (int, error) {
	send := func(p part) error {
		select {
		case jobs <- p:
			return nil
		case <-ctx.Done():
			pool.put(p.buf)
			return context.Cause(ctx)
		}
	}
	if err := send(part{num: 1, buf: first}); err != nil {
		return 0, err
	}
	read := int64(len(first))
	for num := 2; ; num++ {
		if size >= 0 && num > plan.Count {
			if err := expectEOF(body); err != nil {
				return 0, fmt.Errorf("%w (size given: %d)", err, size)
			}
			return plan.Count, nil
		}
		if size < 0 && num > objstore.MaxParts {
			if err := expectEOF(body); err != nil {
				return 0, &objstore.LimitError{Limit: "parts", Key: m.key, Msg: fmt.Sprintf("the body is longer than %d parts of %d bytes; give its size, or a larger part size", objstore.MaxParts, len(first))}
			}
			return objstore.MaxParts, nil
		}
		buf, err := pool.get(ctx)
		if err != nil {
			return 0, err
		}
		want := len(buf)
		if size >= 0 {
			_, l := plan.Part(num)
			want = int(l)
		}
		n, err := io.ReadFull(body, buf[:want])
		switch {
		case size < 0 && n == 0 && err == io.EOF:
			pool.put(buf)
			return num - 1, nil
		case size < 0 && err == io.ErrUnexpectedEOF:
			// The last part of a body of unknown size.
		case err != nil:
			pool.put(buf)
			return 0, readError(err, read+int64(n), size)
		}
		read += int64(n)
		if err := send(part{num: int32(num), buf: buf[:n]}); err != nil {
			return 0, err
		}
		if size < 0 && n < want {
			return num, nil
		}
	}
}

// uploadPart uploads one part, retrying failures that may be transient,
// unless the part is already on the server with the same MD5.
func (m *multipart) uploadPart(ctx context.Context, p part) error {
	p.md5 = md5.Sum(p.buf)
	want := hex.EncodeToString(p.md5[:])
	if r, ok := m.existing[p.num]; ok && r.size == int64(len(p.buf)) && r.etag == want {
		m.done(p, want)
		return nil
	}
	in := &s3.UploadPartInput{
		Bucket: aws.String(m.s.opts.Bucket), Key: aws.String(m.key), UploadId: aws.String(m.uploadID),
		PartNumber: aws.Int32(p.num), ContentLength: aws.Int64(int64(len(p.buf))),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(p.md5[:])), RequestPayer: m.s.requestPayer(),
	}
	for attempt := 1; ; attempt++ {
		in.Body = bytes.NewReader(p.buf)
		out, err := m.s.client.UploadPart(ctx, in, withoutSDKRetries, unsignedPayload)
		if err == nil {
			if got := objstore.CleanETag(aws.ToString(out.ETag)); got != want {
				err = fmt.Errorf("the store reports ETag %q for the part, but its bytes give %q", got, want)
			} else {
				m.done(p, want)
				return nil
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		err = mapError(err)
		if attempt >= m.s.opts.PartAttempts || !retryable(err) {
			return fmt.Errorf("part %d: %w (attempt %d of %d)", p.num, err, attempt, m.s.opts.PartAttempts)
		}
		m.s.logger.Debug("r2: retrying part", "key", m.key, "part", p.num, "attempt", attempt, "err", err)
		t := time.NewTimer(m.s.opts.Backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		}
	}
}

// done records a stored part and reports progress.
func (m *multipart) done(p part, etag string) {
	m.mu.Lock()
	m.md5s[p.num] = p.md5
	m.etags[p.num] = etag
	m.stored += int64(len(p.buf))
	stored := m.stored
	m.mu.Unlock()
	if m.opts.Progress != nil {
		m.progress.Lock()
		m.opts.Progress(stored)
		m.progress.Unlock()
	}
}

// retryable reports whether a failed request may succeed when repeated:
// network errors, 408, 429 and 5xx answers, and a wrong ETag.
func retryable(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.HTTPStatusCode() != 0 {
		s := re.HTTPStatusCode()
		return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() == "RequestTimeout" || ae.ErrorCode() == "SlowDown" || ae.ErrorCode() == "InternalError"
	}
	return true
}

func defaultBackoff(retry int) time.Duration {
	d := min(200*time.Millisecond<<min(retry-1, 5), 5*time.Second)
	return d/2 + rand.N(d/2+1)
}

// complete finishes the upload and checks the ETag against the MD5 of
// the part MD5s. A lost answer is detected by the upload having
// disappeared with the object in place.
func (m *multipart) complete(ctx context.Context, count int, size int64) (objstore.ObjectInfo, error) {
	md5s := make([][md5.Size]byte, count)
	parts := make([]types.CompletedPart, count)
	for i := range count {
		num := int32(i + 1)
		md5s[i] = m.md5s[num]
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(num), ETag: aws.String(`"` + m.etags[num] + `"`)}
	}
	want := objstore.MultipartETag(md5s)
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(m.s.opts.Bucket), Key: aws.String(m.key), UploadId: aws.String(m.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}, RequestPayer: m.s.requestPayer(),
	}
	out, err := m.s.client.CompleteMultipartUpload(ctx, in)
	got := ""
	if err == nil {
		got = objstore.CleanETag(aws.ToString(out.ETag))
	} else {
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchUpload" {
			return objstore.ObjectInfo{}, fmt.Errorf("complete: %w", mapError(err))
		}
		// An earlier attempt (retried by the SDK) may have completed it.
		info, herr := m.s.Head(ctx, m.key)
		if herr != nil || info.ETag != want {
			return objstore.ObjectInfo{}, fmt.Errorf("complete: %w", mapError(err))
		}
		got = info.ETag
	}
	if got != want {
		// The upload no longer exists; the object is there but wrong.
		return objstore.ObjectInfo{}, &ETagMismatchError{Key: m.key, Want: want, Got: got}
	}
	if size < 0 {
		size = m.stored
	}
	m.s.logger.Debug("r2: multipart upload completed", "bucket", m.s.opts.Bucket, "key", m.key, "parts", count, "etag", got)
	return objstore.ObjectInfo{Key: m.key, Size: size, ETag: got, LastModified: time.Now().UTC(),
		ContentType: contentType(m.opts.ContentType), Metadata: objstore.NormalizeMetadata(m.opts.Metadata)}, nil
}

// abort aborts the upload after err, on a context of its own so that a
// cancelled caller still leaves no upload open, and returns the error to
// report. An ETag mismatch comes after the upload completed: there is
// nothing to abort.
func (m *multipart) abort(ctx context.Context, err error) error {
	var mismatch *ETagMismatchError
	if errors.As(err, &mismatch) {
		return err
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, aerr := m.s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(m.s.opts.Bucket), Key: aws.String(m.key), UploadId: aws.String(m.uploadID), RequestPayer: m.s.requestPayer(),
	})
	ue := &UploadError{Key: m.key, UploadID: m.uploadID, Aborted: aerr == nil, Err: err}
	if aerr != nil {
		m.s.logger.Warn("r2: could not abort multipart upload", "key", m.key, "upload_id", m.uploadID, "err", mapError(aerr))
		ue.Err = errors.Join(err, fmt.Errorf("abort: %w", mapError(aerr)))
	} else {
		m.s.logger.Debug("r2: multipart upload aborted", "key", m.key, "upload_id", m.uploadID)
	}
	return fmt.Errorf("put %q: %w", m.key, ue)
}

// findResumable looks for an interrupted upload of the key whose parts
// fit plan, and keeps the newest. Its parts are checked against the local
// bytes as they are read; a failure to list only means starting afresh.
func (m *multipart) findResumable(ctx context.Context, plan objstore.PartPlan) {
	var candidates []types.MultipartUpload
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(m.s.opts.Bucket), Prefix: aws.String(m.key), RequestPayer: m.s.requestPayer()}
	for {
		out, err := m.s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			m.s.logger.Debug("r2: cannot list multipart uploads to resume", "key", m.key, "err", mapError(err))
			return
		}
		for _, u := range out.Uploads {
			if aws.ToString(u.Key) == m.key {
				candidates = append(candidates, u)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	sort.Slice(candidates, func(i, j int) bool {
		return aws.ToTime(candidates[i].Initiated).After(aws.ToTime(candidates[j].Initiated))
	})
	for _, u := range candidates {
		id := aws.ToString(u.UploadId)
		parts, ok := m.listParts(ctx, id, plan)
		if !ok {
			continue
		}
		m.uploadID, m.existing = id, parts
		m.s.logger.Info("r2: resuming multipart upload", "key", m.key, "upload_id", id, "parts_on_server", len(parts))
		return
	}
}

// listParts returns the parts of upload id whose size fits plan; ok is
// false when the upload has a part that does not fit (another part size).
func (m *multipart) listParts(ctx context.Context, id string, plan objstore.PartPlan) (map[int32]remotePart, bool) {
	parts := map[int32]remotePart{}
	in := &s3.ListPartsInput{Bucket: aws.String(m.s.opts.Bucket), Key: aws.String(m.key), UploadId: aws.String(id), RequestPayer: m.s.requestPayer()}
	for {
		out, err := m.s.client.ListParts(ctx, in)
		if err != nil {
			return nil, false
		}
		for _, p := range out.Parts {
			num := aws.ToInt32(p.PartNumber)
			if num < 1 || int(num) > plan.Count {
				return nil, false
			}
			if _, l := plan.Part(int(num)); aws.ToInt64(p.Size) != l {
				return nil, false
			}
			parts[num] = remotePart{size: aws.ToInt64(p.Size), etag: objstore.CleanETag(aws.ToString(p.ETag))}
		}
		if !aws.ToBool(out.IsTruncated) {
			return parts, true
		}
		in.PartNumberMarker = out.NextPartNumberMarker
	}
}

// bufferPool hands out at most max buffers of size bytes, allocating
// them on demand and blocking when all are in use.
type bufferPool struct {
	size int64
	free chan []byte
	sem  chan struct{} // one token per buffer that may still be allocated
}

func newBufferPool(size int64, max int) *bufferPool {
	p := &bufferPool{size: size, free: make(chan []byte, max), sem: make(chan struct{}, max)}
	for range max {
		p.sem <- struct{}{}
	}
	return p
}

func (p *bufferPool) get(ctx context.Context) ([]byte, error) {
	select {
	case b := <-p.free:
		return b[:p.size], nil
	default:
	}
	select {
	case b := <-p.free:
		return b[:p.size], nil
	case <-p.sem:
		return make([]byte, p.size), nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func (p *bufferPool) put(b []byte) { p.free <- b[:cap(b)] }
