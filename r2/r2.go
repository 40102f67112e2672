// Package r2 is the objstore backend for Cloudflare R2 and other
// S3-compatible servers, on aws-sdk-go-v2's S3 client: objects up to
// Options.MultipartThreshold go up in one PUT, larger ones in parallel
// equal-sized parts with per-part retries, an abort on failure or
// cancellation, resumption of an interrupted upload, and a check of the
// final ETag against the locally computed MD5 of MD5s (upload.go).
//
// It knows objects only: buckets are created by edgeconf deploy through
// the Cloudflare REST API (package deploy, cloudflare.Client.EnsureBucket),
// and r2:// references are read by objstore.Fetcher.
//
// Requester Pays: Options.RequesterPays sends "x-amz-request-payer:
// requester" on every request, which S3-compatible stores honour;
// Cloudflare R2 does not implement it (New logs a warning, and
// RequesterPaysWarning says so for the CLI).
//
// The secret access key is used only to sign requests; it never appears
// in errors, logs or Target, and presigned URLs are never logged.
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
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/factory-wager/edgeconf/objstore"
)

var _ objstore.Store = (*Store)(nil)

// Defaults of the Options.
const (
	DefaultPartSize     = 16 << 20 // the minio-go and transfer-manager class of part
	DefaultConcurrency  = 4        // parts in flight
	DefaultPartAttempts = 5        // tries of one part before the upload fails
	// Region is the only region R2 has; other stores accept any in
	// signatures made for path-style requests.
	Region = "auto"
	// RequesterPaysHeader is sent on every request of a Requester Pays bucket.
	RequesterPaysHeader = "X-Amz-Request-Payer"
)

// Options configures New. Bucket and the credentials are required, and
// either Endpoint or AccountID.
type Options struct {
	Bucket string
	// Endpoint is the S3 API's URL; optional, "" means
	// https://<AccountID>.r2.cloudflarestorage.com. Buckets are addressed
	// in path style (http://host/bucket/key) unless the endpoint is R2.
	Endpoint        string
	AccountID       string // the Cloudflare account; needed when Endpoint is ""
	AccessKeyID     string // R2_ACCESS_KEY_ID
	SecretAccessKey string // R2_SECRET_ACCESS_KEY; never printed
	// RequesterPays sends x-amz-request-payer: requester on every request.
	RequesterPays bool
	// HTTPClient is optional; nil means a client with connection and
	// header timeouts tuned for large transfers.
	HTTPClient *http.Client
	// PartSize is the preferred size of the parts of a multipart upload;
	// optional, 0 means DefaultPartSize. It grows when an object would
	// otherwise need more than 10,000 parts.
	PartSize int64
	// MultipartThreshold is the largest object sent in one PUT; optional,
	// 0 means PartSize. A PUT is buffered in memory, so it is bounded.
	MultipartThreshold int64
	// Concurrency is how many parts are uploaded at once; optional, 0
	// means DefaultConcurrency. Memory use is bounded by
	// PartSize × (Concurrency + 1).
	Concurrency int
	// PartAttempts is how many times one part is tried before the upload
	// fails; optional, 0 means DefaultPartAttempts.
	PartAttempts int
	// Backoff is the wait before retry n (1-based) of a part; optional,
	// nil means 200 ms × 2^(n-1), at most 5 s, with jitter.
	Backoff func(retry int) time.Duration
	// NoResume turns off resuming: by default, an upload of a known size
	// first looks for an interrupted upload of the same key and keeps
	// the parts whose MD5 matches the local bytes.
	NoResume bool
	Logger   *slog.Logger // optional; nil discards
}

// String describes the options without the secret key.
func (o Options) String() string {
	secret := "unset"
	if o.SecretAccessKey != "" {
		secret = "set"
	}
	return fmt.Sprintf("bucket %q, endpoint %q, account %q, access key %q, secret key %s, requester pays %t",
		o.Bucket, objstore.RedactURL(o.Endpoint), o.AccountID, o.AccessKeyID, secret, o.RequesterPays)
}

// Format keeps every fmt verb from printing the secret key.
func (o Options) Format(f fmt.State, _ rune) { fmt.Fprint(f, "r2.Options{"+o.String()+"}") }

// LogValue keeps slog from printing the secret key.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("bucket", o.Bucket), slog.String("endpoint", objstore.RedactURL(o.Endpoint)),
		slog.String("access_key", o.AccessKeyID), slog.Bool("secret_set", o.SecretAccessKey != ""), slog.Bool("requester_pays", o.RequesterPays))
}

// Store is one bucket on R2 or another S3-compatible server. It is safe
// for concurrent use.
type Store struct {
	opts     Options
	endpoint string
	isR2     bool
	client   *s3.Client
	presign  *s3.PresignClient
	http     *http.Client
	logger   *slog.Logger
}

// New returns a store. It makes no request.
func New(opts Options) (*Store, error) {
	if err := objstore.CheckBucketName(opts.Bucket); err != nil {
		return nil, fmt.Errorf("r2: %w", err)
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		if opts.AccountID == "" {
			return nil, errors.New("r2: an endpoint (R2_ENDPOINT) or a Cloudflare account id (CLOUDFLARE_ACCOUNT_ID) is required")
		}
		endpoint = DefaultEndpoint(opts.AccountID)
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("r2: endpoint %q is not an http(s) URL", objstore.RedactURL(endpoint))
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("r2: endpoint %q must not carry credentials or a query", objstore.RedactURL(endpoint))
	}
	if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		return nil, errors.New("r2: an access key id and a secret access key are required (R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY)")
	}
	if opts.PartSize == 0 {
		opts.PartSize = DefaultPartSize
	}
	if opts.PartSize < objstore.MinPartBytes || opts.PartSize > objstore.MaxPartBytes {
		return nil, fmt.Errorf("r2: %w", &objstore.LimitError{Limit: "part-size", Msg: fmt.Sprintf("part size %d is outside %d..%d", opts.PartSize, objstore.MinPartBytes, int64(objstore.MaxPartBytes))})
	}
	if opts.MultipartThreshold <= 0 {
		opts.MultipartThreshold = opts.PartSize
	}
	opts.MultipartThreshold = min(opts.MultipartThreshold, objstore.MaxSinglePutBytes)
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PartAttempts <= 0 {
		opts.PartAttempts = DefaultPartAttempts
	}
	if opts.Backoff == nil {
		opts.Backoff = defaultBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	s := &Store{opts: opts, endpoint: strings.TrimSuffix(endpoint, "/"), isR2: IsR2Endpoint(endpoint), http: opts.HTTPClient, logger: opts.Logger}
	s3opts := s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: !s.isR2,
		Credentials:  credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, ""),
		HTTPClient:   opts.HTTPClient,
		// R2 and many S3-compatible servers do not accept the SDK's
		// default CRC32 trailers; integrity comes from Content-MD5 and
		// the ETag checks instead.
		RequestChecksumCalculation:                aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
		DisableLogOutputChecksumValidationSkipped: true,
	}
	if opts.RequesterPays {
		s3opts.APIOptions = append(s3opts.APIOptions, smithyhttp.SetHeaderValue(RequesterPaysHeader, "requester"))
		if s.isR2 {
			s.logger.Warn("r2: " + RequesterPaysWarning)
		}
	}
	s.client = s3.New(s3opts)
	s.presign = s3.NewPresignClient(s.client)
	return s, nil
}

// RequesterPaysWarning is what edgeconf says when Requester Pays is set
// for a bucket on Cloudflare R2.
const RequesterPaysWarning = "Cloudflare R2 does not implement Requester Pays; the x-amz-request-payer header is sent but only S3-compatible stores that implement it honour it"

// DefaultEndpoint is the S3 API endpoint of a Cloudflare account's R2.
func DefaultEndpoint(accountID string) string {
	return "https://" + accountID + ".r2.cloudflarestorage.com"
}

// IsR2Endpoint reports whether endpoint is Cloudflare R2's S3 API
// (<account>.r2.cloudflarestorage.com, or a jurisdiction such as
// <account>.eu.r2.cloudflarestorage.com).
func IsR2Endpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	return strings.HasSuffix(strings.ToLower(u.Hostname()), ".r2.cloudflarestorage.com")
}

func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute // a part's answer comes after its last byte is stored
	t.MaxIdleConnsPerHost = 32
	t.WriteBufferSize = 256 << 10
	t.ReadBufferSize = 256 << 10
	return &http.Client{Transport: t}
}

// Target describes the bucket for the line commands print.
func (s *Store) Target() string {
	kind := "S3 bucket"
	if s.isR2 {
		kind = "R2 bucket"
	}
	return fmt.Sprintf("%s %s at %s", kind, s.opts.Bucket, objstore.RedactURL(s.endpoint))
}

// IsR2 reports whether the store's endpoint is Cloudflare R2.
func (s *Store) IsR2() bool { return s.isR2 }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.opts.Bucket }

// Close releases idle connections.
func (s *Store) Close() error {
	s.http.CloseIdleConnections()
	return nil
}

// requestPayer is the RequestPayer field of the inputs that have one.
// The header middleware covers every request; this keeps presigned URLs
// right too, where the SDK hoists the header into the query.
func (s *Store) requestPayer() types.RequestPayer {
	if s.opts.RequesterPays {
		return types.RequestPayerRequester
	}
	return ""
}

// withoutSDKRetries is for calls this package retries itself.
func withoutSDKRetries(o *s3.Options) { o.Retryer = aws.NopRetryer{} }

// unsignedPayload skips the SHA-256 of a body the call protects with
// Content-MD5 instead (the server checks it, and it is needed for the
// ETag anyway): SigV4 payload hashing would double the CPU of an upload.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
}

// Put writes the object: in one request up to MultipartThreshold bytes,
// in parts above it or when the size is unknown and the body turns out
// to be larger.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := objstore.CheckPut(key, size, opts); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if size >= 0 && size <= s.opts.MultipartThreshold {
		buf := make([]byte, size)
		if _, err := io.ReadFull(body, buf); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("put %q: the body ended before %d bytes: %w", key, size, err)
		}
		if err := expectEOF(body); err != nil {
			return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w (size given: %d)", key, err, size)
		}
		info, err := s.putObject(ctx, key, buf, opts)
		if err == nil && opts.Progress != nil {
			opts.Progress(size)
		}
		return info, err
	}
	return s.upload(ctx, key, body, size, opts)
}

// expectEOF checks that body has nothing more to give.
func expectEOF(body io.Reader) error {
	var one [1]byte
	n, err := io.ReadFull(body, one[:])
	if n > 0 {
		return errors.New("the body is longer than its size")
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

// putObject sends buf in one request and checks the ETag the store gives it.
func (s *Store) putObject(ctx context.Context, key string, buf []byte, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	sum := md5.Sum(buf)
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.opts.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(buf),
		ContentLength: aws.Int64(int64(len(buf))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		ContentType:   aws.String(contentType(opts.ContentType)),
		Metadata:      objstore.NormalizeMetadata(opts.Metadata),
		RequestPayer:  s.requestPayer(),
	}
	out, err := s.client.PutObject(ctx, in, unsignedPayload)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, mapError(err))
	}
	want := hex.EncodeToString(sum[:])
	got := objstore.CleanETag(aws.ToString(out.ETag))
	if got != want {
		return objstore.ObjectInfo{}, &ETagMismatchError{Key: key, Want: want, Got: got}
	}
	s.logger.Debug("r2: put", "bucket", s.opts.Bucket, "key", key, "bytes", len(buf))
	return objstore.ObjectInfo{Key: key, Size: int64(len(buf)), ETag: got, LastModified: time.Now().UTC(),
		ContentType: contentType(opts.ContentType), Metadata: in.Metadata}, nil
}

func contentType(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// ETagMismatchError says that the store computed another ETag than the
// one edgeconf computed from the bytes it sent: the object is not what
// was uploaded, and should be uploaded again.
type ETagMismatchError struct {
	Key, Want, Got string
}

func (e *ETagMismatchError) Error() string {
	return fmt.Sprintf("put %q: the store reports ETag %q, but the bytes sent give %q; upload it again", e.Key, e.Got, e.Want)
}

// Get opens the object, or a range of it.
func (s *Store) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := objstore.CheckGet(key, opts); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), RequestPayer: s.requestPayer()}
	if opts.IfMatch != "" {
		in.IfMatch = aws.String(`"` + opts.IfMatch + `"`)
	}
	ranged := opts.Offset > 0 || opts.Length > 0
	if ranged {
		r := "bytes=" + strconv.FormatInt(opts.Offset, 10) + "-"
		if opts.Length > 0 {
			r += strconv.FormatInt(opts.Offset+opts.Length-1, 10)
		}
		in.Range = aws.String(r)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: %w", key, mapError(err))
	}
	info := objstore.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: objstore.CleanETag(aws.ToString(out.ETag)),
		LastModified: aws.ToTime(out.LastModified), ContentType: aws.ToString(out.ContentType), Metadata: objstore.NormalizeMetadata(out.Metadata),
	}
	if ranged {
		total, ok := totalFromContentRange(aws.ToString(out.ContentRange))
		if !ok {
			out.Body.Close()
			return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: the store answered a range request without a valid Content-Range", key)
		}
		info.Size = total
	}
	return out.Body, info, nil
}

// totalFromContentRange reads the object size from "bytes a-b/total".
func totalFromContentRange(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// Head returns the object's information.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.CheckKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), RequestPayer: s.requestPayer()})
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("head %q: %w", key, mapError(err))
	}
	return objstore.ObjectInfo{
		Key: key, Size: aws.ToInt64(out.ContentLength), ETag: objstore.CleanETag(aws.ToString(out.ETag)),
		LastModified: aws.ToTime(out.LastModified), ContentType: aws.ToString(out.ContentType), Metadata: objstore.NormalizeMetadata(out.Metadata),
	}, nil
}

// List returns one page of ListObjectsV2.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListResult, error) {
	limit, err := objstore.CheckList(opts)
	if err != nil {
		return objstore.ListResult{}, err
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.opts.Bucket), MaxKeys: aws.Int32(int32(limit)), RequestPayer: s.requestPayer()}
	if opts.Prefix != "" {
		in.Prefix = aws.String(opts.Prefix)
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if opts.Cursor != "" {
		in.ContinuationToken = aws.String(opts.Cursor)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return objstore.ListResult{}, fmt.Errorf("list %q: %w", opts.Prefix, mapError(err))
	}
	var res objstore.ListResult
	for _, o := range out.Contents {
		res.Objects = append(res.Objects, objstore.ObjectInfo{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size),
			ETag: objstore.CleanETag(aws.ToString(o.ETag)), LastModified: aws.ToTime(o.LastModified)})
	}
	for _, p := range out.CommonPrefixes {
		res.Prefixes = append(res.Prefixes, aws.ToString(p.Prefix))
	}
	if aws.ToBool(out.IsTruncated) {
		res.Cursor = aws.ToString(out.NextContinuationToken)
		if res.Cursor == "" {
			return objstore.ListResult{}, fmt.Errorf("list %q: the store says the listing is truncated but gives no continuation token", opts.Prefix)
		}
	}
	return res, nil
}

// Delete removes the object.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objstore.CheckKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), RequestPayer: s.requestPayer()})
	if err != nil && !errors.Is(mapError(err), objstore.ErrNotFound) {
		return fmt.Errorf("delete %q: %w", key, mapError(err))
	}
	return nil
}

// Presign returns a SigV4 presigned URL. It is computed locally (no
// request) and never logged.
func (s *Store) Presign(ctx context.Context, key string, opts objstore.PresignOptions) (string, error) {
	opts, err := objstore.CheckPresign(key, opts)
	if err != nil {
		return "", err
	}
	bucket, k, exp := aws.String(s.opts.Bucket), aws.String(key), s3.WithPresignExpires(opts.Expires)
	var req *v4.PresignedHTTPRequest
	switch opts.Method {
	case http.MethodGet:
		req, err = s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: k, RequestPayer: s.requestPayer()}, exp)
	case http.MethodHead:
		req, err = s.presign.PresignHeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: k, RequestPayer: s.requestPayer()}, exp)
	case http.MethodPut:
		req, err = s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: k, RequestPayer: s.requestPayer()}, exp)
	case http.MethodDelete:
		req, err = s.presign.PresignDeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: k, RequestPayer: s.requestPayer()}, exp)
	}
	if err != nil {
		return "", fmt.Errorf("presign %s %q: %w", opts.Method, key, objstore.RedactError(err))
	}
	s.logger.Debug("r2: presigned", "bucket", s.opts.Bucket, "key", key, "method", opts.Method, "expires_in", opts.Expires)
	return req.URL, nil
}

// credentialHint names the variable to fix for an S3 error code that
// means a credential is wrong, or returns "" for any other code.
func credentialHint(code string) string {
	switch code {
	case "SignatureDoesNotMatch":
		return "the signature does not match: check R2_SECRET_ACCESS_KEY (the secret of the key in R2_ACCESS_KEY_ID)"
	case "InvalidAccessKeyId":
		return "the access key is unknown: check R2_ACCESS_KEY_ID (an R2 API token's Access Key ID)"
	case "AccessDenied":
		return "access denied: check that the R2 API token of R2_ACCESS_KEY_ID may use this bucket"
	case "InvalidToken":
		return "the token is invalid: check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY"
	case "ExpiredToken":
		return "the token has expired: create a new R2 API token and set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY"
	}
	return ""
}

// CredentialError is an S3 error that means a credential is wrong; its
// message names the environment variable to fix instead of the SDK's text.
// The SDK error stays in the chain.
type CredentialError struct {
	Code string // the S3 error code, e.g. SignatureDoesNotMatch
	Hint string
	Err  error
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("R2 refused the request (%s): %s", e.Code, e.Hint)
}
func (e *CredentialError) Unwrap() error { return e.Err }

// mapError turns the S3 errors callers branch on into objstore's
// sentinels (keeping the original in the chain) and strips query strings
// from any URL in it.
func mapError(err error) error {
	err = objstore.RedactError(err)
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if hint := credentialHint(code); hint != "" {
		return &CredentialError{Code: code, Hint: hint, Err: err}
	}
	switch {
	case code == "NoSuchBucket":
		return fmt.Errorf("%w: %w", objstore.ErrNoSuchBucket, err)
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound && code != "NoSuchUpload":
		return fmt.Errorf("%w: %w", objstore.ErrNotFound, err)
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%w: %w", objstore.ErrInvalidRange, err)
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", objstore.ErrPreconditionFailed, err)
	}
	return err
}
