package r2test

import (
	"strings"
	"testing"
)

// A program that exits at once is reported with its output, not waited
// for until the timeout.
func TestStart_ProgramExits(t *testing.T) {
	_, err := startBinary(t, "/bin/false")
	if err == nil || !strings.Contains(err.Error(), "versitygw exited") {
		t.Errorf("start(/bin/false) = %v, want an exit error", err)
	}
	if _, err := start(t, "/nonexistent/versitygw", t.TempDir()); err == nil {
		t.Error("start of a missing program succeeded")
	}
}

func TestLockedBuffer(t *testing.T) {
	var b lockedBuffer
	b.Write([]byte("one "))
	b.Write([]byte("two"))
	if b.String() != "one two" {
		t.Errorf("String() = %q", b.String())
	}
}
