package objstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Defaults of DownloadOptions.
const (
	DefaultDownloadPartSize    = 16 << 20
	DefaultDownloadConcurrency = 4
	downloadAttempts           = 3         // tries of one range
	downloadBufferBytes        = 256 << 10 // copy buffer of each worker
)

// DownloadOptions tune Download.
type DownloadOptions struct {
	// PartSize is the size of the ranges read in parallel; optional, 0
	// means DefaultDownloadPartSize. An object of at most PartSize bytes
	// is read in one request.
	PartSize int64
	// Concurrency is how many ranges are read at once; optional, 0 means
	// DefaultDownloadConcurrency. Memory use is Concurrency × 256 KiB.
	Concurrency int
	// Progress, if set, is called with the running total of bytes
	// written and the object's size (never concurrently).
	Progress func(written, total int64)
}

// Download writes the object at key to w. An object larger than
// opts.PartSize is read in ranges, several at once, each pinned to the
// object's ETag (GetOptions.IfMatch) so that an object replaced during
// the download fails it with ErrPreconditionFailed instead of mixing two
// versions; a range that fails in the middle is read again, up to three
// times. A smaller object is read in one request and, when its ETag is an
// MD5 (it was uploaded in one piece), checked against it.
func Download(ctx context.Context, s Store, key string, w io.WriterAt, opts DownloadOptions) (ObjectInfo, error) {
	if opts.PartSize <= 0 {
		opts.PartSize = DefaultDownloadPartSize
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultDownloadConcurrency
	}
	info, err := s.Head(ctx, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	d := &downloader{s: s, key: key, w: w, etag: info.ETag, total: info.Size, progress: opts.Progress}
	if info.Size <= opts.PartSize {
		n, err := d.single(ctx, info)
		if err == nil && n != info.Size {
			err = fmt.Errorf("download %q: received %d bytes of %d", key, n, info.Size)
		}
		return info, err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ranges := make(chan [2]int64)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, downloadBufferBytes)
			for r := range ranges {
				if err := d.rangeWithRetries(ctx, r[0], r[1], buf); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for off := int64(0); off < info.Size; off += opts.PartSize {
		select {
		case ranges <- [2]int64{off, min(opts.PartSize, info.Size-off)}:
		case <-ctx.Done():
			break feed
		}
	}
	close(ranges)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return ObjectInfo{}, err
	}
	return info, nil
}

type downloader struct {
	s     Store
	key   string
	w     io.WriterAt
	etag  string
	total int64

	mu       sync.Mutex
	written  int64
	progress func(written, total int64)
}

// add reports n more bytes written.
func (d *downloader) add(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.written += n
	if d.progress != nil {
		d.progress(d.written, d.total)
	}
}

// progressWriter reports every write of the copy.
type progressWriter struct {
	w io.Writer
	d *downloader
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.d.add(int64(n))
	return n, err
}

// single reads a small object in one request, checking its MD5.
func (d *downloader) single(ctx context.Context, info ObjectInfo) (int64, error) {
	body, _, err := d.s.Get(ctx, d.key, GetOptions{IfMatch: d.etag})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	var dst io.Writer = progressWriter{io.NewOffsetWriter(d.w, 0), d}
	h := md5.New()
	plainMD5 := len(info.ETag) == 2*md5.Size && !strings.Contains(info.ETag, "-")
	if plainMD5 {
		dst = io.MultiWriter(dst, h)
	}
	n, err := io.CopyBuffer(dst, body, make([]byte, downloadBufferBytes))
	if err != nil {
		return n, fmt.Errorf("download %q: %w", d.key, err)
	}
	if plainMD5 && n == info.Size && hex.EncodeToString(h.Sum(nil)) != info.ETag {
		return n, fmt.Errorf("download %q: the bytes received do not match the ETag %s", d.key, info.ETag)
	}
	return n, nil
}

// rangeWithRetries reads length bytes at off, again from the start of
// the range when the stream breaks.
func (d *downloader) rangeWithRetries(ctx context.Context, off, length int64, buf []byte) error {
	var err error
	for attempt := 1; attempt <= downloadAttempts; attempt++ {
		var n int64
		if n, err = d.readRange(ctx, off, length, buf); err == nil {
			return nil
		}
		d.add(-n) // written again on the next attempt
		var le *LimitError
		if ctx.Err() != nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrPreconditionFailed) || errors.As(err, &le) {
			break
		}
	}
	return fmt.Errorf("download %q: bytes %d-%d: %w", d.key, off, off+length-1, err)
}

func (d *downloader) readRange(ctx context.Context, off, length int64, buf []byte) (int64, error) {
	body, _, err := d.s.Get(ctx, d.key, GetOptions{Offset: off, Length: length, IfMatch: d.etag})
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.CopyBuffer(progressWriter{io.NewOffsetWriter(d.w, off), d}, io.LimitReader(body, length), buf)
	if err == nil && n != length {
		err = fmt.Errorf("the range ended after %d bytes", n)
	}
	return n, err
}
