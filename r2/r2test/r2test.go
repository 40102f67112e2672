// Package r2test starts a real S3 server for the tests of edgeconf's R2
// backend and CLI: versitygw (github.com/versity/versitygw) with its posix
// backend on a temporary folder, listening on 127.0.0.1 with test keys.
//
//	srv := r2test.Start(t)
//	store, err := r2.New(srv.Options(srv.CreateBucket(t)))
//
// A test that calls Start skips when versitygw is not installed, naming
// the install command, and fails instead under CI=true (testtool.Require).
package r2test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/factory-wager/edgeconf/internal/testtool"
	"github.com/factory-wager/edgeconf/r2"
)

// Install is how versitygw is installed (make test does it).
const Install = "make tools  # or: GOBIN=$PWD/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Test credentials of the servers Start runs.
const (
	AccessKey = "edgeconf-test"
	SecretKey = "edgeconf-test-secret-0123456789"
)

// readyTimeout bounds how long Start waits for the server to answer.
const readyTimeout = 15 * time.Second

// Server is a running versitygw.
type Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the posix root: one folder per bucket

	client  *s3.Client
	buckets atomic.Int64
}

// Start starts versitygw on a free loopback port, waits until it answers
// HTTP, and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := testtool.Require(t, "versitygw", Install)
	if bin == "" {
		return nil
	}
	srv, err := startBinary(t, bin)
	if err != nil {
		t.Fatalf("versitygw did not start: %v", err)
	}
	return srv
}

// startBinary starts bin on a temporary root. A port found free may be
// taken before the server binds it, so it tries three times.
func startBinary(t testing.TB, bin string) (*Server, error) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o700); err != nil {
		return nil, err
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var srv *Server
		if srv, err = start(t, bin, root); err == nil {
			return srv, nil
		}
	}
	return nil, err
}

func start(t testing.TB, bin, root string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--port", addr, "--region", r2.Region, "--keep-alive", "--quiet", "posix", root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{}) // closed when the process has exited
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	srv := &Server{Endpoint: "http://" + addr, AccessKey: AccessKey, SecretKey: SecretKey, Dir: root}
	if err := waitReady(srv.Endpoint, exited); err != nil {
		stop()
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%w (%v)", err, exitErr)
		}
		return nil, fmt.Errorf("%w; its output:\n%s", err, out.String())
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	srv.client = s3.New(s3.Options{
		Region: r2.Region, BaseEndpoint: aws.String(srv.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	return srv, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// errExited is returned by waitReady when the server exits before it answers.
var errExited = errors.New("versitygw exited")

// waitReady polls the endpoint until any HTTP answer comes back (an
// anonymous request gets 403), the process exits, or readyTimeout passes.
func waitReady(endpoint string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := client.Get(endpoint + "/")
		if err == nil {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer at %s within %s: %w", endpoint, readyTimeout, err)
		}
		select {
		case <-exited:
			return errExited
		case <-tick.C:
		}
	}
}

// Options returns the options of an r2.Store on bucket of this server.
func (s *Server) Options(bucket string) r2.Options {
	return r2.Options{Bucket: bucket, Endpoint: s.Endpoint, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
}

// Env returns the environment the CLI's --remote reads for this server.
func (s *Server) Env() map[string]string {
	return map[string]string{"R2_ENDPOINT": s.Endpoint, "R2_ACCESS_KEY_ID": s.AccessKey, "R2_SECRET_ACCESS_KEY": s.SecretKey}
}

// CreateBucket creates a new, empty bucket with a unique name and
// returns the name.
func (s *Server) CreateBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%d", os.Getpid()%10000, s.buckets.Add(1))
	if err := s.CreateNamedBucket(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// CreateNamedBucket creates the bucket called name.
func (s *Server) CreateNamedBucket(ctx context.Context, name string) error {
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// OpenUploads returns the keys of the multipart uploads open in bucket.
func (s *Server) OpenUploads(ctx context.Context, bucket string) ([]string, error) {
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return nil, fmt.Errorf("list multipart uploads: %w", err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	if aws.ToBool(out.IsTruncated) {
		return keys, errors.New("list multipart uploads: more than one page")
	}
	return keys, nil
}

// Client returns a plain S3 client of the server, for setting up states
// the store under test would not create (such as an interrupted upload).
func (s *Server) Client() *s3.Client { return s.client }

// lockedBuffer collects the server's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
