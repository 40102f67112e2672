package kvstore

import (
	"fmt"
	"io"
)

// ReadValue reads a value from r (a file, stdin, a device), reading at most
// MaxValueBytes+1 bytes: a longer input is refused with a *LimitError
// ("value-size") naming the 25 MiB limit, without reading the rest, so an
// endless source such as /dev/zero cannot exhaust memory.
func ReadValue(r io.Reader) ([]byte, error) {
	v, err := io.ReadAll(io.LimitReader(r, MaxValueBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read value: %w", err)
	}
	if len(v) > MaxValueBytes {
		return nil, &LimitError{Limit: "value-size", Msg: fmt.Sprintf("value is longer than the limit of %d bytes (25 MiB)", MaxValueBytes)}
	}
	return v, nil
}
