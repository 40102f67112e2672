package wsproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Plain-HTTP keep-alive connections that went idle must be closed by the
// relay (after the handshake timeout), or enough of them starve real
// handshakes of file descriptors.
func TestRelay_ClosesIdleKeepAliveConnections(t *testing.T) {
	tr := startRelay(t, RelayOptions{Upstream: "ws://127.0.0.1:1/", Dial: DialOptions{HandshakeTimeout: 200 * time.Millisecond}})
	const conns = 100
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- idleKeepAlive(tr.addr)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// idleKeepAlive sends one keep-alive GET, reads the answer and then waits
// (at most 10 s) for the server to close the connection.
func idleKeepAlive(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		return errors.New("the relay kept an idle keep-alive connection open: " + errString(err))
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return "got data"
	}
	return err.Error()
}
