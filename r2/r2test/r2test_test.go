package r2test_test

import (
	"context"
	"testing"

	"github.com/factory-wager/edgeconf/r2/r2test"
)

func TestStart(t *testing.T) {
	srv := r2test.Start(t)
	bucket := srv.CreateBucket(t)
	if err := srv.CreateNamedBucket(context.Background(), bucket); err == nil {
		t.Errorf("creating %s twice succeeded", bucket)
	}
	open, err := srv.OpenUploads(context.Background(), bucket)
	if err != nil || len(open) != 0 {
		t.Errorf("OpenUploads = %q, %v", open, err)
	}
	if _, err := srv.OpenUploads(context.Background(), "missing-bucket"); err == nil {
		t.Error("OpenUploads of a missing bucket succeeded")
	}
	o := srv.Options(bucket)
	env := srv.Env()
	if o.Endpoint != srv.Endpoint || env["R2_ENDPOINT"] != srv.Endpoint || env["R2_SECRET_ACCESS_KEY"] != r2test.SecretKey || srv.Client() == nil {
		t.Errorf("Options %v, Env %v", o, env)
	}
}
