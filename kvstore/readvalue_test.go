package kvstore_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/kvstore"
)

// endless is /dev/zero: it never ends, and counts what was read from it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	e.n += int64(len(p))
	return len(p), nil
}

func TestReadValue(t *testing.T) {
	v, err := kvstore.ReadValue(strings.NewReader("hello"))
	if err != nil || string(v) != "hello" {
		t.Fatalf("ReadValue = %q, %v", v, err)
	}
	exact, err := kvstore.ReadValue(bytes.NewReader(make([]byte, kvstore.MaxValueBytes)))
	if err != nil || len(exact) != kvstore.MaxValueBytes {
		t.Fatalf("ReadValue of exactly 25 MiB = %d bytes, %v", len(exact), err)
	}
	src := &endless{}
	_, err = kvstore.ReadValue(src)
	var le *kvstore.LimitError
	if !errors.As(err, &le) || le.Limit != "value-size" || !strings.Contains(err.Error(), "25 MiB") {
		t.Fatalf("ReadValue(endless) = %v, want a value-size LimitError naming 25 MiB", err)
	}
	if src.n > kvstore.MaxValueBytes+64<<10 {
		t.Errorf("read %d bytes from an endless source, want about %d", src.n, kvstore.MaxValueBytes+1)
	}
	if _, err := kvstore.ReadValue(io.MultiReader(strings.NewReader("x"), iotest{})); err == nil || !strings.Contains(err.Error(), "read value") {
		t.Errorf("ReadValue(broken) = %v", err)
	}
}

type iotest struct{}

func (iotest) Read([]byte) (int, error) { return 0, errors.New("broken") }
